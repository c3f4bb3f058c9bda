// CUDA graphs where they pay: a program's whole launch list captured once
// into a graph and replayed with one cuGraphLaunch per run, instead of one
// cuLaunchKernel per launch (~2-5 µs of host time each, and a gap on the GPU
// between kernels). A capture bakes every parameter in, so a graph is reused
// only while the packed plan and the buffers' device pointers are the same;
// anything else re-captures. A graph never changes a result: when capture or
// replay is refused, the run goes through plain launches.
import { debugLog } from '../runtime-cpu/debug.js';
import { CudaRunError } from './errors.js';
import type { CudaGraph, CudaModule, HostCopy, NativeCuda, RunOptions } from './native.js';

/** FUSEDET_CUDA_GRAPHS: `0` never, `1` from the first run whatever the size, unset/`auto` as decided below. */
export type GraphMode = 'off' | 'on' | 'auto';

export function graphMode(env: NodeJS.ProcessEnv = process.env): GraphMode {
  const raw = env.FUSEDET_CUDA_GRAPHS;
  if (raw === undefined || raw === '' || raw === 'auto') return 'auto';
  if (raw === '0') return 'off';
  if (raw === '1') return 'on';
  throw new CudaRunError(`FUSEDET_CUDA_GRAPHS=${raw} is not understood: use 0 (plain launches), 1 (always a CUDA graph) or auto`);
}

/**
 * auto's size threshold: below it the few microseconds a graph saves per run
 * do not repay the capture and instantiation (tens of µs plus ~1 µs per node).
 */
export const AUTO_MIN_LAUNCHES = 8;

export interface GraphContext {
  readonly mode: GraphMode;
  /** FUSEDET_DEBUG=2: events between launches time each one; a graph has none. */
  readonly timing: boolean;
  /** FUSEDET_CUDA_SYNC=1: a wait after each launch names a faulting kernel; a graph runs them all at once. */
  readonly syncEach: boolean;
  /** Launches that do work (grid > 0). */
  readonly launches: number;
  /** Runs of this same plan and pointers so far, this one included. */
  readonly run: number;
  /** Capture or replay of this plan was refused before. */
  readonly refused: boolean;
}

export type GraphChoice = { readonly use: true } | { readonly use: false; readonly why: string };

/**
 * Whether a run goes through a CUDA graph. auto waits for the second run of
 * a plan: a single run (one `fusedet run`) would pay the capture for nothing.
 */
export function chooseGraph(c: GraphContext): GraphChoice {
  if (c.mode === 'off') return { use: false, why: 'FUSEDET_CUDA_GRAPHS=0' };
  if (c.timing) return { use: false, why: 'per-launch timing (FUSEDET_DEBUG=2)' };
  if (c.syncEach) return { use: false, why: 'FUSEDET_CUDA_SYNC=1' };
  if (c.refused) return { use: false, why: 'the CUDA graph of this launch list was refused earlier' };
  if (c.launches === 0) return { use: false, why: 'no launches' };
  if (c.mode === 'on') return { use: true };
  if (c.launches < AUTO_MIN_LAUNCHES) return { use: false, why: `fewer than ${AUTO_MIN_LAUNCHES} launches` };
  if (c.run < 2) return { use: false, why: 'the first run of this launch list' };
  return { use: true };
}

/** Launches with grid > 0 in a packed plan ([count, per launch: kernel, grid, block, nbufs, nargs, ...]). */
export function workingLaunches(plan: BigInt64Array): number {
  let n = 0;
  for (let l = 0, at = 1; l < Number(plan[0] ?? 0n); l++) {
    if (plan[at + 1] > 0n) n++;
    at += 5 + Number(plan[at + 3]) + Number(plan[at + 4]);
  }
  return n;
}

// memcmp: this runs before every run, and a plan holds thousands of entries.
const bytes = (a: BigInt64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: BigInt64Array, b: BigInt64Array): boolean => a.length === b.length && bytes(a).equals(bytes(b));

export interface GraphRun {
  /** Per-launch milliseconds (plain timed runs only). */
  readonly times?: Float64Array;
  /** Whether this run was a graph replay. */
  readonly graph: boolean;
}

/** One executable's launches: plain, or through its graph, captured and re-captured as the plan requires. */
export class GraphRunner {
  private graph?: CudaGraph;
  private plan?: BigInt64Array;
  private slots?: BigInt64Array;
  private launches = 0;
  private runs = 0;
  private refused = false;

  constructor(private readonly native: NativeCuda, private readonly module: CudaModule) {}

  run(plan: BigInt64Array, slots: BigInt64Array, uploads: readonly HostCopy[], downloads: readonly HostCopy[], options: RunOptions, mode: GraphMode = graphMode()): GraphRun {
    if (!this.plan || !this.slots || !same(this.plan, plan) || !same(this.slots, slots)) {
      if (this.graph) debugLog(1, 'cuda: the launch list or its buffers changed: the CUDA graph will be captured again');
      this.drop();
      // Copies: a caller refilling the same arrays must still count as a change.
      this.plan = plan.slice();
      this.slots = slots.slice();
      this.launches = workingLaunches(plan);
      this.runs = 0;
      this.refused = false;
    }
    this.runs++;
    const choice = chooseGraph({ mode, timing: options.timing, syncEach: options.syncEach, launches: this.launches, run: this.runs, refused: this.refused });
    const plain = (): GraphRun => ({ times: this.native.run(this.module, plan, slots, uploads, downloads, options), graph: false });
    if (!choice.use) return plain();
    if (!this.graph) {
      const generation = this.native.generation();
      const t0 = performance.now();
      try {
        this.graph = this.native.captureGraph(this.module, plan, slots);
      } catch (e) {
        // A context reset is a device fault, not a graph problem: the caller reports it.
        if (this.native.generation() !== generation) throw e;
        return this.refuse(`capturing ${this.launches} launches as a CUDA graph failed (${(e as Error).message})`, plain);
      }
      debugLog(1, `cuda: ${this.launches} launches captured as a CUDA graph in ${(performance.now() - t0).toFixed(1)} ms; this run and later ones replay it`);
    }
    try {
      this.native.runGraph(this.graph, uploads, downloads, options);
    } catch (e) {
      if ((e as { notLaunched?: boolean }).notLaunched !== true) throw e;
      return this.refuse(`replaying the CUDA graph failed before it ran (${(e as Error).message})`, plain);
    }
    return { graph: true };
  }

  private refuse(note: string, plain: () => GraphRun): GraphRun {
    this.refused = true;
    this.drop();
    debugLog(1, `cuda: ${note}; plain launches instead`);
    return plain();
  }

  /** Frees the graph now rather than at garbage collection (its launches point into buffers about to be reused). */
  private drop(): void {
    if (!this.graph) return;
    const g = this.graph;
    this.graph = undefined;
    this.native.destroyGraph(g);
  }

  dispose(): void {
    this.drop();
  }
}
