// The one interface every runtime (cpu, webgpu, cuda) implements. Runtimes
// know nothing about detection: they allocate, upload, launch, read back and
// time a compiled Program. Types only, so importing it costs nothing at run
// time; each runtime defines its own error classes.
import type { Program } from '../compiler/program.js';
import type { Tensor } from '../compiler/tensor.js';
import type { Target } from '../compiler/target.js';

export type RuntimeName = 'cpu' | 'webgpu' | 'cuda';

export interface Runtime {
  readonly name: RuntimeName;
  /**
   * What programs for this runtime are compiled for (compileGraph(graph,
   * runtime.target)): its limits, adapter kind, CUDA capability and math.
   * Where the device cannot be opened, the class's defaults (load() then says why).
   */
  readonly target: Target;
  /**
   * Compiles (or finds in the cache) every kernel of the program and
   * allocates its buffers. When a buffer cannot be allocated (a memory limit,
   * out of memory), it throws one error with exitCode 1 whose message names
   * the buffer (role, id, name: runtime/errors.ts describeBuffer), the bytes
   * that failed and the program's total (programNeeds: Program.peakBytes).
   */
  load(program: Program): Promise<Executable>;
}

/** What one load cost; FUSEDET_DEBUG=1 prints it. */
export interface LoadStats {
  /** Translation units (or modules) compiled now; 0 on a warm cache. */
  readonly compiled: number;
  /** Compiled libraries (or modules) found in the on-disk cache instead. */
  readonly cached: number;
  readonly kernels: number;
  readonly seconds: number;
}

/** Wall time of one launch, in program order (FUSEDET_DEBUG=2). */
export interface LaunchTime {
  readonly kernel: string;
  readonly grid: number;
  readonly seconds: number;
}

export interface Executable {
  readonly runtime: RuntimeName;
  readonly stats: LoadStats;
  /**
   * Runs the whole launch list. Inputs are matched by name and must have the
   * program's dtype and size; outputs are fresh tensors the caller owns.
   * A program with `updates` (compiler/program.ts: a training step) leaves
   * the new values of those params in their resident buffers: the launches
   * write them, so a runtime needs nothing beyond running the launches in
   * order on the buffers it allocated once (no copy, no output for them).
   */
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /**
   * Uploads weights once; they stay resident across run() calls. A subset is
   * fine (the rest keep their values); unknown names or a wrong size are errors.
   */
  setParams(params: Map<string, Tensor> | Record<string, Tensor>): Promise<void>;
  /** Reads a resident parameter back as it is now (after run() updated it in place, the new value): checkpointing, tests. */
  getParam(name: string): Promise<Tensor>;
  /** Per-launch times of the last run (empty unless timing was asked for). */
  lastTimes(): readonly LaunchTime[];
  /** Releases buffers and compiled code; the executable is unusable after. */
  dispose(): void;
}

/**
 * What a runtime that cannot run here throws (no driver, no adapter, no C
 * compiler, not in this build). Each runtime has its own class of this shape;
 * `reason` is one line a user can act on.
 */
export interface RuntimeUnavailableError extends Error {
  readonly exitCode: number;
  readonly reason: string;
}
