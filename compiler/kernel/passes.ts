// The IR passes a target's kernels go through between the schedule and the
// renderer (STYLE.md 15: passes change the IR, renderers only print).
// compileGraph validates each kernel after them.
import type { Target } from '../target.js';
import type { Kernel } from './ir.js';
import { scalarizeRegisterTiles } from './unroll.js';

export function kernelPasses(k: Kernel, target: Target): Kernel {
  // WebGPU: shader compilers (SwiftShader's above all) keep a loop-indexed
  // per-thread array in slow memory; the CPU's C compiler and nvcc unroll and
  // keep registers themselves.
  return target.name === 'webgpu' ? scalarizeRegisterTiles(k) : k;
}
