// The kernels of the reductions (reduce.ts).
//
// Per element (every target): at an output index, a loop nest over the
// reduced axes with an accumulator. The input is evaluated inside the loop,
// so a fused prologue (x*x, exp(x - m)) costs no memory traffic; the group's
// consumers of the result are the epilogue.
//
// Under withWarpReduction (the CUDA schedules below: the threads of a warp,
// or of the whole workgroup, share one output index) the outermost
// sum/mean/max/min instead strides its reduced elements over those threads
// and finishes with a shuffle-xor butterfly, so every lane holds its warp's
// result; across warps, lane 0 of each writes its partial to workgroup memory
// and one barrier later every thread combines them. A reduction nested inside
// another's loop sees a different index per thread and stays serial.
//
// The CUDA schedules, for a group anchored on sum/mean/max/min: the threads
// of a warp or of a whole workgroup share one output element, striding the
// reduced elements between them with the fused prologue inline; one thread
// then stores the epilogue's value.
//  - warp per output (32 ≤ elements < BLOCK_REDUCE_MIN): 8 warps a
//    workgroup, the output index clamped so every lane of the last warp
//    reaches the shuffles; no barrier, no workgroup memory;
//  - workgroup per output (≥ BLOCK_REDUCE_MIN elements: global sums, losses):
//    256 threads, coordinates kept as expressions of gid so they outlive the
//    barrier; a group whose epilogue would need a value from before the
//    barrier (the kernel fails validation) takes the warp form instead.
// Other targets, and reductions of fewer elements than a warp, keep the
// one-thread-per-output pointwise schedule unchanged.
import { Graph, GNode } from '../graph.js';
import { Expr, Stmt, WARP } from '../kernel/ir.js';
import {
  add, and, arg, barrier, bin, cast, div, f32, for_, gid, idx, if_, konst, let_, lid, lload, lstore, lt, min, mod, mul, set, sel, shflXor, store, sub,
  un, v,
} from '../kernel/build.js';
import { KernelIRError, validateKernel } from '../kernel/validate.js';
import { numel } from '../types.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { POINTWISE_WG, Scheduled, finish, schedulePointwise, schedulePointwiseOutputs, unflatten } from '../schedule/pointwise.js';
import { addRange, foldLanes, startLanes } from '../schedule/lane-sum.js';
import type { Target } from '../target.js';
import { boolAttr, intAttr, intsAttr, normAxis } from './attrs.js';
import type { KernelTable, OpNameOf } from './op.js';
import type { REDUCE_OPS } from './reduce.js';

function axesOf(node: GNode, rank: number): number[] {
  const raw = intsAttr(node.op, node.attrs, 'axes');
  const axes = raw.length === 0 ? [...Array(rank).keys()] : raw.map((a) => normAxis(node.op, a, rank));
  return axes.sort((a, b) => a - b);
}

/** Input index: kept axes from the output index, reduced axes from loop variables. */
function inputIndex(out: readonly Expr[], rank: number, axes: readonly number[], keepdims: boolean, loopVars: readonly Expr[]): Expr[] {
  const at: Expr[] = [];
  let o = 0, r = 0;
  for (let d = 0; d < rank; d++) {
    if (axes.includes(d)) { at.push(loopVars[r++]); if (keepdims) o++; } else at.push(out[o++]);
  }
  return at;
}

/** Loops over the reduced axes around `body(at)`. */
function loopNest(em: Emitter, node: GNode, out: readonly Expr[], axes: readonly number[], keepdims: boolean, body: (at: Expr[]) => void): void {
  const shape = em.inShape(node, 0);
  const names = axes.map(() => em.fresh('r'));
  const inner = em.block(() => body(inputIndex(out, shape.length, axes, keepdims, names.map((n) => v(n)))));
  let nest: Stmt[] = inner;
  for (let i = axes.length - 1; i >= 0; i--) nest = [for_(names[i], idx(0), idx(shape[axes[i]]), nest)];
  for (const s of nest) em.emit(s);
}

/** Runs `run` (one kernel's value computation on em) with its outermost reduction spread over `threads` (a warp, or the workgroup). */
function withWarpReduction<T>(em: Emitter, run: () => T, threads = WARP): T {
  if (threads % WARP !== 0) throw new RangeError(`withWarpReduction: ${threads} threads are not whole warps`);
  const prev = em.reductionLanes;
  em.reductionLanes = threads;
  try { return run(); } finally { em.reductionLanes = prev; }
}

/** Number of reduced elements per output of a sum/mean/max/min node. */
function reducedCount(em: Emitter, node: GNode): number {
  const shape = em.inShape(node, 0);
  return axesOf(node, shape.length).reduce((n, d) => n * shape[d], 1);
}

/** Thread-strided loop over the flattened reduced elements: thread l of T takes l, l + T, ... */
function laneNest(em: Emitter, node: GNode, out: readonly Expr[], axes: readonly number[], keepdims: boolean, body: (at: Expr[]) => void): void {
  const shape = em.inShape(node, 0);
  const count = axes.reduce((n, d) => n * shape[d], 1);
  const T = em.reductionLanes;
  const lane = em.fresh('lane'), rk = em.fresh('rk'), f = em.fresh('rf');
  em.emit(let_(lane, 'i64', mod(lid, idx(T))));
  const trips = div(add(sub(idx(count), v(lane)), idx(T - 1)), idx(T));
  em.emit(for_(rk, idx(0), trips, em.block(() => {
    em.emit(let_(f, 'i64', add(v(lane), mul(v(rk), idx(T)))));
    let inner = count;
    const coords = axes.map((d, i) => {
      inner /= shape[d];
      let e = inner === 1 ? v(f) : div(v(f), idx(inner));
      if (i > 0) e = mod(e, idx(shape[d]));
      return em.bind(e, 'rc');
    });
    body(inputIndex(out, shape.length, axes, keepdims, coords));
  })));
}

/**
 * A sum whose reduced axes end with the input's innermost ones, in L partial
 * sums (schedule/lane-sum.ts): the trailing reduced axes (contiguous in
 * memory: a whole weight tensor's sum of squares, a plane's sum) are walked
 * as one flat range, inside loops over any other reduced axes. The flat
 * offset is recorded for the coordinates (Emitter.aliasFlat) so same-shaped
 * loads index by it.
 */
function vectorLaneNest(em: Emitter, node: GNode, out: readonly Expr[], axes: readonly number[], keepdims: boolean, L: number, acc: string): void {
  const shape = em.inShape(node, 0);
  const k = trailingReduced(shape.length, axes);
  const lanes = startLanes(em, L);
  const outerAxes = axes.filter((a) => a < k);
  const outer = outerAxes.map(() => em.fresh('r'));
  const elementAt = (flat: Expr): Expr => {
    // The element `flat` of the trailing range, at its coordinates, with the flat offset recorded for them.
    const trailing = shape.slice(k).map((n, i) => {
      const inner = numel(shape.slice(k + i + 1));
      const q = inner === 1 ? flat : div(flat, idx(inner));
      return i === 0 ? q : mod(q, idx(n));
    });
    const loops = [...outer.map((o) => v(o)), ...trailing];
    const at = inputIndex(out, shape.length, axes, keepdims, loops);
    const base = inputIndex(out, shape.length, axes, keepdims, [...outer.map((o) => v(o)), ...trailing.map(() => idx(0))]);
    em.aliasFlat(shape, at, add(em.flatIndex(shape, base), flat));
    return em.input(node, 0, at);
  };
  let nest: Stmt[] = em.block(() => addRange(em, lanes, L, numel(shape.slice(k)), elementAt, acc));
  for (let i = outer.length - 1; i >= 0; i--) nest = [for_(outer[i], idx(0), idx(shape[outerAxes[i]]), nest)];
  for (const st of nest) em.emit(st);
  foldLanes(em, lanes, L, acc);
}

/** The first of the trailing axes that are all reduced (rank when the last axis is kept). */
function trailingReduced(rank: number, axes: readonly number[]): number {
  let k = rank;
  while (k > 0 && axes.includes(k - 1)) k--;
  return k;
}

function reduction(kind: 'sum' | 'mean' | 'max' | 'min'): Lowering {
  return (em, node, out) => {
    const shape = em.inShape(node, 0);
    const axes = axesOf(node, shape.length);
    const keepdims = boolAttr(node.op, node.attrs, 'keepdims');
    const t = em.dtype(node.outputs[0]);
    const acc = em.fresh('acc');
    const init = kind === 'max' ? (t === 'f32' ? -Infinity : -2147483648) : kind === 'min' ? (t === 'f32' ? Infinity : 2147483647) : 0;
    em.emit(let_(acc, t, konst(t, init)));
    const a = v(acc, t);
    /** cur ⊕ x: NaN wins a float max/min, as in the serial loop. */
    const fold = (cur: Expr, x: Expr): Expr => {
      if (kind === 'sum' || kind === 'mean') return bin('add', cur, x);
      const better = bin(kind === 'max' ? 'gt' : 'lt', x, cur);
      return sel(t === 'f32' ? bin('or', better, bin('ne', x, x)) : better, x, cur);
    };
    const combine = (x: Expr): Expr => fold(a, x);
    const lanes = em.reductionLanes > 0 && em.reductionDepth === 0 && t !== 'bool';
    const L = em.vectorLanes;
    const vectorSum = !lanes && L > 1 && em.reductionDepth === 0 && (kind === 'sum' || kind === 'mean') && t === 'f32' &&
      numel(shape.slice(trailingReduced(shape.length, axes))) >= L;
    em.reductionDepth++;
    try {
      if (vectorSum) vectorLaneNest(em, node, out, axes, keepdims, L, acc);
      else (lanes ? laneNest : loopNest)(em, node, out, axes, keepdims, (at) => em.emit(set(acc, combine(em.bind(em.input(node, 0, at))))));
    } finally {
      em.reductionDepth--;
    }
    let result = a;
    if (lanes) {
      for (let m = WARP / 2; m >= 1; m >>= 1) {
        const other = em.fresh('sh');
        em.emit(shflXor(other, a, m));
        em.emit(set(acc, combine(v(other, t))));
      }
      const warps = em.reductionLanes / WARP;
      if (warps > 1) {
        // Every scalar let dies at the barrier: the partials cross it in workgroup memory.
        const part = em.fresh('wpart');
        em.locals.push({ name: part, t, size: warps });
        em.emit(if_(bin('eq', mod(lid, idx(WARP)), idx(0)), [lstore(part, div(lid, idx(WARP)), a)]));
        em.emit(barrier);
        const total = em.fresh('wsum');
        em.emit(let_(total, t, lload(part, idx(0), t)));
        const b = v(total, t);
        for (let w = 1; w < warps; w++) em.emit(set(total, fold(b, lload(part, idx(w), t))));
        result = b;
      }
    }
    if (kind !== 'mean') return result;
    const count = axes.reduce((n, d) => n * shape[d], 1);
    return bin('div', result, f32(count));
  };
}

/** First index of the largest value; NaN wins (torch.argmax). */
const argmax: Lowering = (em, node, out) => {
  const shape = em.inShape(node, 0);
  const axis = normAxis('argmax', intAttr('argmax', node.attrs, 'axis'), shape.length);
  const keepdims = boolAttr('argmax', node.attrs, 'keepdims');
  const t = em.dtype(node.inputs[0]);
  const best = em.fresh('best'), bi = em.fresh('bi'), r = em.fresh('r');
  em.emit(let_(best, t, em.input(node, 0, inputIndex(out, shape.length, [axis], keepdims, [idx(0)]))));
  em.emit(let_(bi, 'i64', idx(0)));
  const body = em.block(() => {
    const x = em.bind(em.input(node, 0, inputIndex(out, shape.length, [axis], keepdims, [v(r)])));
    const b = v(best, t);
    const better = t === 'f32'
      ? bin('and', un('not', bin('ne', b, b)), bin('or', bin('gt', x, b), bin('ne', x, x)))
      : bin('gt', x, b);
    em.emit(if_(better, [set(best, x), set(bi, v(r))]));
  });
  em.emit(for_(r, idx(1), idx(shape[axis]), body));
  return cast(v(bi), 'i32');
};

export const WARP_REDUCE_WARPS = 8;
export const BLOCK_REDUCE_THREADS = 256;
export const BLOCK_REDUCE_MIN = 2048;

/** Below this many reduced elements per output a CPU reduction keeps the pointwise workgroup. */
const CPU_HEAVY_REDUCE = 1024;
/** Workgroups a CPU reduction with few, heavy outputs is spread over at least, where it has that many outputs. */
const CPU_REDUCE_WORKGROUPS = 16;

/**
 * The CPU's workgroups are its unit of parallel work, and a workgroup's
 * threads run one after another on one core. A reduction with few outputs
 * of many elements each (group norm's statistics: 32 groups of 8 × 80 × 80
 * in R50-FPN's head) would sit in one workgroup of 64, on one core: its
 * workgroups shrink until there are CPU_REDUCE_WORKGROUPS of them (or one
 * per output). Training R50-FPN DeFCN spent 53 ms of its 678 ms step in
 * such single-workgroup reductions.
 */
function cpuReduceWorkgroup(em: Emitter, node: GNode, out: number): number {
  if (reducedCount(em, node) < CPU_HEAVY_REDUCE) return POINTWISE_WG;
  return Math.max(1, Math.min(POINTWISE_WG, Math.floor(numel(em.shape(out)) / CPU_REDUCE_WORKGROUPS)));
}
const LANE_OPS = new Set(['sum', 'mean', 'max', 'min']);

type GroupArgs = [graph: Graph, nodes: ReadonlySet<number>, anchor: number, sink: number, lowerings: Readonly<Record<string, Lowering>>];

export function scheduleReduce(...a: [...GroupArgs, target: Target]): Scheduled {
  const [graph, nodes, anchor, sink, lowerings, target] = a;
  const node = graph.nodes[anchor];
  const probe = new Emitter(graph, nodes, lowerings);
  if (target.name === 'cpu') {
    const outValue = graph.nodes[sink].outputs[0];
    return schedulePointwiseOutputs(graph, nodes, sink, lowerings, (em, at) => {
      em.vectorLanes = target.vectorWidth;
      try { return [em.value(outValue, at)]; } finally { em.vectorLanes = 0; }
    }, cpuReduceWorkgroup(probe, node, outValue));
  }
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

/** The per-element code serves every target; on CUDA sum/mean/max/min also anchor a schedule of their own. */
export const REDUCE_KERNELS: KernelTable<OpNameOf<typeof REDUCE_OPS>> = {
  sum: { lower: reduction('sum'), schedule: scheduleReduce },
  mean: { lower: reduction('mean'), schedule: scheduleReduce },
  max: { lower: reduction('max'), schedule: scheduleReduce },
  min: { lower: reduction('min'), schedule: scheduleReduce },
  argmax: { lower: argmax },
};
