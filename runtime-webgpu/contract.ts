// The shapes this runtime consumes and provides. They mirror the Program
// contract of compiler/program.ts and the Runtime interface of
// runtime/interface.ts, which are being written concurrently; once those land
// this file re-exports them instead of declaring its own.
import type { DType } from '../compiler/types.js';
import type { Tensor } from '../compiler/tensor.js';

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

export interface Executable {
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Uploads weights once; they stay resident across runs. */
  setParams(params: Record<string, Tensor>): Promise<void>;
  dispose(): void;
}

export interface Runtime {
  readonly name: 'webgpu' | 'cuda' | 'cpu';
  load(program: Program): Promise<Executable>;
}
