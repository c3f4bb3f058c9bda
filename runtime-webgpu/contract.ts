// The shapes this runtime consumes and provides. Program is a structural
// superset of compiler/program.ts's (kernel IR may be hand-written WGSL, a
// buffer may state its shape), so compiled programs and the hand-written
// test programs both load.
import type { DType } from '../compiler/types.js';

export type BufferRole = 'input' | 'param' | 'output' | 'temp';

export interface ProgramBuffer {
  id: number;
  bytes: number;
  dtype: DType;
  role: BufferRole;
  name?: string;
  /** Logical shape; readback falls back to a flat [elements] without it. */
  shape?: readonly number[];
}

export interface ProgramKernel {
  name: string;
  /** Structural hash: the pipeline cache key. */
  hash: string;
  ir: unknown;
  workgroupSize: number;
}

export interface ProgramLaunch {
  kernel: number;
  /** Buffer ids, bound in this order at @binding(0..n-1). */
  buffers: number[];
  /** Int arguments, after the grid word of the argument uniform. */
  args: number[];
  /** Number of workgroups the kernel expects (1-D). */
  grid: number;
}

export interface Program {
  buffers: ProgramBuffer[];
  kernels: ProgramKernel[];
  launches: ProgramLaunch[];
  inputs: Record<string, number>;
  outputs: Record<string, number>;
  params: Record<string, number>;
  peakBytes: number;
}

// The runtime interface shared by every runtime; its load() takes the
// compiler's Program, which is assignable to the looser Program above.
export type { RuntimeName, LoadStats, LaunchTime, Executable, Runtime } from '../runtime/interface.js';
