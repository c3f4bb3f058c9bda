// CUDA schedule for a group anchored on sum/mean/max/min: one warp per
// output element. The lanes share the output index (clamped, so every lane of
// the last warp reaches the shuffles), stride the reduced elements between
// them with the fused prologue inline, and finish with a shuffle-xor
// butterfly (lower-reduce.ts under withWarpReduction); lane 0 runs the
// epilogue's store. No barrier and no workgroup memory. Other targets, and
// reductions of fewer elements than a warp, keep the one-thread-per-output
// pointwise schedule unchanged.
import { Graph } from '../graph.js';
import { WARP } from '../kernel/ir.js';
import { add, and, arg, bin, div, gid, idx, if_, let_, lid, lt, min, mod, mul, store, sub, v } from '../kernel/build.js';
import { numel } from '../types.js';
import { Emitter, Lowering } from './emit.js';
import { currentTarget } from './gemm.js';
import { reducedCount, withWarpReduction } from './lower-reduce.js';
import { Scheduled, finish, schedulePointwise, unflatten } from './pointwise.js';

export const WARP_REDUCE_WARPS = 8;
const LANE_OPS = new Set(['sum', 'mean', 'max', 'min']);

export function scheduleReduce(graph: Graph, nodes: ReadonlySet<number>, anchor: number, sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const node = graph.nodes[anchor];
  const em = new Emitter(graph, nodes, lowerings);
  if (currentTarget() !== 'cuda' || !LANE_OPS.has(node.op) || em.dtype(node.outputs[0]) === 'bool' || reducedCount(em, node) < WARP) {
    return schedulePointwise(graph, nodes, sink, lowerings);
  }
  const outValue = graph.nodes[sink].outputs[0];
  const shape = em.shape(outValue);
  const total = numel(shape);
  const outBuf = em.buf(outValue, 'w');
  const body = em.block(() => {
    em.emit(let_('o', 'i64', add(mul(gid, idx(WARP_REDUCE_WARPS)), div(lid, idx(WARP)))));
    // The output count is an argument, as in the pointwise schedule: the batch size stays out of the kernel's structure.
    em.emit(let_('oc', 'i64', min(v('o'), sub(arg(0), idx(1)))));
    const at = unflatten(em, v('oc'), shape, 'c');
    em.aliasFlat(shape, at, v('oc'));
    const value = withWarpReduction(() => em.value(outValue, at));
    em.emit(if_(and(lt(v('o'), arg(0)), bin('eq', mod(lid, idx(WARP)), idx(0))), [store(outBuf, v('o'), value)]));
  });
  return finish(em, body, WARP_REDUCE_WARPS * WARP, [total], Math.ceil(total / WARP_REDUCE_WARPS));
}
