// How max3d's kernels split a pyramid into launches. One launch over every
// level binds a buffer per level in and out (max3d over P3–P7: 10;
// max3d_argmax_grad, which reads codes and gradients: 15), more than WebGPU
// allows per shader stage (8 in browsers by default). Where the target's
// limit is lower, the output levels go in runs of consecutive levels, each
// run as many as one launch can take within the limit; a run binds only the
// levels its outputs read (its own and its τ/2 neighbours on each side). A
// launch computes each of its outputs exactly as the one-launch kernel does,
// so the results are the same bits. Where the limit allows, one run: the one
// launch, unchanged.
import { Graph } from '../graph.js';
import { ScheduleError } from '../schedule/emit.js';
import { neighbourLevels } from './max3d.js';

/**
 * Consecutive runs of the levels 0..levels-1, each as long as `binds` (the
 * storage buffers of one launch over a run) stays within `limit`; greedy,
 * so as few launches as a split into consecutive runs allows. A level that
 * alone binds more than the limit is a run of its own: its schedule splits
 * it further or refuses it (`levelTooWide`).
 */
export function levelRuns(levels: number, limit: number, binds: (run: readonly number[]) => number): number[][] {
  const runs: number[][] = [];
  let run: number[] = [];
  for (let l = 0; l < levels; l++) {
    if (run.length > 0 && binds([...run, l]) > limit) {
      runs.push(run);
      run = [];
    }
    run.push(l);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * The storage buffers of a max3d or max3d_argmax launch over `run`: the
 * input levels its outputs read, and its outputs.
 */
export function forwardBinds(graph: Graph, anchorId: number, tau: number): (run: readonly number[]) => number {
  const node = graph.nodes[anchorId];
  const L = node.inputs.length;
  return (run) => new Set(run.flatMap((l) => neighbourLevels(l, L, tau).map((k) => node.inputs[k]))).size + run.length;
}

/** The output levels of max3d or max3d_argmax in runs whose launches bind at most `limit` buffers; refuses a level that alone binds more. */
export function forwardRuns(graph: Graph, anchorId: number, tau: number, limit: number): number[][] {
  const binds = forwardBinds(graph, anchorId, tau);
  const runs = levelRuns(graph.nodes[anchorId].inputs.length, limit, binds);
  for (const run of runs) if (binds(run) > limit) throw levelTooWide(graph.nodes[anchorId].op, run[0], binds(run), tau, limit);
  return runs;
}

/** A level whose output reads more levels than the target lets one launch bind. */
export function levelTooWide(op: string, level: number, binds: number, tau: number, limit: number): ScheduleError {
  return new ScheduleError(`${op}: output level ${level} reads every level within τ/2 = ${tau / 2} of it, ${binds} storage buffers with its output; this target allows ${limit} per kernel (use a smaller tau, or a device with more storage buffers per shader stage)`);
}
