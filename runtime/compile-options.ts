// How a graph must be compiled for a given runtime: the tile shapes follow
// the target (compiler/schedule/gemm.ts profiles) and, on WebGPU, the
// device's own limits. Every caller that compiles for a runtime goes through
// here, so a runtime never receives kernels shaped for another.
import type { CompileOptions } from '../compiler/program.js';
import type { Runtime } from './interface.js';

interface WithComputeLimits {
  readonly limits: { readonly maxComputeWorkgroupStorageSize: number; readonly maxComputeInvocationsPerWorkgroup: number };
}

interface WithAdapterKind {
  readonly gpu: { readonly software: boolean };
}

function hasComputeLimits(r: Runtime): r is Runtime & WithComputeLimits {
  const l = (r as Partial<WithComputeLimits>).limits;
  return typeof l === 'object' && l !== null && typeof l.maxComputeWorkgroupStorageSize === 'number';
}

/** A software adapter (SwiftShader) as the WebGPU runtime detects it (runtime-webgpu/device.ts). */
function isSoftwareAdapter(r: Runtime): boolean {
  const gpu = (r as Partial<WithAdapterKind>).gpu;
  return typeof gpu === 'object' && gpu !== null && gpu.software === true;
}

export function compileOptionsFor(runtime: Runtime, base: CompileOptions = {}): CompileOptions {
  if (runtime.name === 'webgpu' && hasComputeLimits(runtime)) {
    return {
      ...base,
      target: 'webgpu',
      limits: {
        maxWorkgroupStorageBytes: runtime.limits.maxComputeWorkgroupStorageSize,
        maxInvocations: runtime.limits.maxComputeInvocationsPerWorkgroup,
        // Only when set: a hardware adapter's options stay as they were.
        ...(isSoftwareAdapter(runtime) ? { software: true } : {}),
      },
    };
  }
  if (runtime.name === 'cuda') {
    const cc = (runtime as { readonly computeCapability?: number }).computeCapability;
    return { ...base, target: 'cuda', ...(cc !== undefined ? { cudaCapability: cc } : {}) };
  }
  return { ...base, target: runtime.name };
}
