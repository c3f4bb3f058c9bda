// The shapes this runtime consumes and provides. Program is a structural
// superset of compiler/program.ts's (kernel IR may be hand-written WGSL, a
// buffer may state its shape), so compiled programs and the hand-written
// test programs both load. Runtime / Executable mirror runtime/interface.ts
// member for member; once that file is committed they are re-exported from it.
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

export type RuntimeName = 'cpu' | 'webgpu' | 'cuda';

/** What one load cost; FUSEDET_DEBUG=1 prints it. */
export interface LoadStats {
  readonly compiled: number;
  readonly cached: number;
  readonly kernels: number;
  readonly seconds: number;
}

/** GPU time of one launch, in program order (FUSEDET_DEBUG=2, timestamp queries). */
export interface LaunchTime {
  readonly kernel: string;
  readonly grid: number;
  readonly seconds: number;
}

export interface Executable {
  readonly runtime: RuntimeName;
  readonly stats: LoadStats;
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Uploads weights once; they stay resident across runs. A subset is fine. */
  setParams(params: Map<string, Tensor> | Record<string, Tensor>): Promise<void>;
  getParam(name: string): Promise<Tensor>;
  lastTimes(): readonly LaunchTime[];
  dispose(): void;
}

export interface Runtime {
  readonly name: RuntimeName;
  load(program: Program): Promise<Executable>;
}
