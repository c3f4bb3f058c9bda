// How a graph must be compiled for a given runtime: the tile shapes follow
// the target (compiler/schedule/gemm.ts profiles) and, on WebGPU, the
// device's own limits. Every caller that compiles for a runtime goes through
// here, so a runtime never receives kernels shaped for another.
import type { CompileOptions } from '../compiler/program.js';
import type { Runtime } from './interface.js';

interface WithComputeLimits {
  readonly limits: { readonly maxComputeWorkgroupStorageSize: number; readonly maxComputeInvocationsPerWorkgroup: number };
}

function hasComputeLimits(r: Runtime): r is Runtime & WithComputeLimits {
  const l = (r as Partial<WithComputeLimits>).limits;
  return typeof l === 'object' && l !== null && typeof l.maxComputeWorkgroupStorageSize === 'number';
}

export function compileOptionsFor(runtime: Runtime, base: CompileOptions = {}): CompileOptions {
  if (runtime.name === 'webgpu' && hasComputeLimits(runtime)) {
    return {
      ...base,
      target: 'webgpu',
      limits: { maxWorkgroupStorageBytes: runtime.limits.maxComputeWorkgroupStorageSize, maxInvocations: runtime.limits.maxComputeInvocationsPerWorkgroup },
    };
  }
  return { ...base, target: runtime.name };
}
