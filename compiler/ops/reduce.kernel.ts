// CUDA schedules for a group anchored on sum/mean/max/min, with the threads
// of a warp or of a whole workgroup sharing one output element. They stride
// the reduced elements between them with the fused prologue inline and
// finish with a shuffle-xor butterfly (lower-reduce.ts under
// withWarpReduction); a workgroup adds one barrier to combine its warps'
// partials. One thread then stores the epilogue's value.
//  - warp per output (32 ≤ elements < BLOCK_REDUCE_MIN): 8 warps a
//    workgroup, the output index clamped so every lane of the last warp
//    reaches the shuffles; no barrier, no workgroup memory;
//  - workgroup per output (≥ BLOCK_REDUCE_MIN elements: global sums, losses):
//    256 threads, coordinates kept as expressions of gid so they outlive the
//    barrier; a group whose epilogue would need a value from before the
//    barrier (the kernel fails validation) takes the warp form instead.
// Other targets, and reductions of fewer elements than a warp, keep the
// one-thread-per-output pointwise schedule unchanged.
import { Graph } from '../graph.js';
import { Expr, WARP } from '../kernel/ir.js';
import { add, and, arg, bin, div, gid, idx, if_, let_, lid, lt, min, mod, mul, store, sub, v } from '../kernel/build.js';
import { KernelIRError, validateKernel } from '../kernel/validate.js';
import { numel } from '../types.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import type { Target } from '../target.js';
import { REDUCE_LOWERINGS, reducedCount, withWarpReduction } from '../schedule/lower-reduce.js';
import type { KernelTable } from './op.js';
import { Scheduled, finish, schedulePointwise, unflatten } from '../schedule/pointwise.js';

export const WARP_REDUCE_WARPS = 8;
export const BLOCK_REDUCE_THREADS = 256;
export const BLOCK_REDUCE_MIN = 2048;
const LANE_OPS = new Set(['sum', 'mean', 'max', 'min']);

type GroupArgs = [graph: Graph, nodes: ReadonlySet<number>, anchor: number, sink: number, lowerings: Readonly<Record<string, Lowering>>];

export function scheduleReduce(...a: [...GroupArgs, target: Target]): Scheduled {
  const [graph, nodes, anchor, sink, lowerings, target] = a;
  const node = graph.nodes[anchor];
  const probe = new Emitter(graph, nodes, lowerings);
  if (target.name !== 'cuda' || !LANE_OPS.has(node.op) || probe.dtype(node.outputs[0]) === 'bool') return schedulePointwise(graph, nodes, sink, lowerings);
  const count = reducedCount(probe, node);
  if (count < WARP) return schedulePointwise(graph, nodes, sink, lowerings);
  if (count >= BLOCK_REDUCE_MIN) {
    const s = blockPerOutput(graph, nodes, anchor, sink, lowerings);
    try {
      validateKernel({ name: 'k0_block_reduce', ...s.kernel });
      return s;
    } catch (e) {
      if (!(e instanceof KernelIRError)) throw e;
    }
  }
  return warpPerOutput(graph, nodes, anchor, sink, lowerings);
}

function warpPerOutput(graph: Graph, nodes: ReadonlySet<number>, _anchor: number, sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
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
    const value = withWarpReduction(em, () => em.value(outValue, at));
    em.emit(if_(and(lt(v('o'), arg(0)), bin('eq', mod(lid, idx(WARP)), idx(0))), [store(outBuf, v('o'), value)]));
  });
  return finish(em, body, WARP_REDUCE_WARPS * WARP, [total], Math.ceil(total / WARP_REDUCE_WARPS));
}

function blockPerOutput(graph: Graph, nodes: ReadonlySet<number>, _anchor: number, sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const outValue = graph.nodes[sink].outputs[0];
  const shape = em.shape(outValue);
  const outBuf = em.buf(outValue, 'w');
  const body = em.block(() => {
    // No lets: the coordinates are needed again after the barrier.
    const at: Expr[] = [];
    let inner = numel(shape);
    shape.forEach((n, d) => {
      inner /= n;
      let e = n === 1 && d > 0 ? idx(0) : inner === 1 ? gid : div(gid, idx(inner));
      if (d > 0 && n !== 1) e = mod(e, idx(n));
      at.push(e);
    });
    em.aliasFlat(shape, at, gid);
    const value = withWarpReduction(em, () => em.value(outValue, at), BLOCK_REDUCE_THREADS);
    em.emit(if_(bin('eq', lid, idx(0)), [store(outBuf, gid, value)]));
  });
  return finish(em, body, BLOCK_REDUCE_THREADS, [], numel(shape));
}

/** The per-element code (lower-reduce.ts) serves every target; on CUDA the reductions also anchor a schedule of their own. */
export const REDUCE_KERNELS: KernelTable<'sum' | 'mean' | 'max' | 'min' | 'argmax'> = {
  sum: { lower: REDUCE_LOWERINGS.sum, schedule: scheduleReduce },
  mean: { lower: REDUCE_LOWERINGS.mean, schedule: scheduleReduce },
  max: { lower: REDUCE_LOWERINGS.max, schedule: scheduleReduce },
  min: { lower: REDUCE_LOWERINGS.min, schedule: scheduleReduce },
  argmax: { lower: REDUCE_LOWERINGS.argmax },
};
