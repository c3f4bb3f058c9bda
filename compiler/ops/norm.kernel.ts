// group_norm in one kernel: a workgroup per (sample, group). Its threads sum
// strided slices into workgroup memory (mean, then squared deviations: the
// two-pass variance the reference uses), and then normalise, apply the
// per-channel affine and the fused epilogue (ReLU, residual add) on the way
// to the single store.
import { Graph } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import {
  add, bin, div, f32, for_, gid, idx, let_, lid, lload, lstore, mod, mul, set, sub, un, v, barrier,
} from '../kernel/build.js';
import { numel } from '../types.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { Scheduled, finish } from '../schedule/pointwise.js';
import { numberAttrOr } from './attrs.js';
import type { KernelTable, OpNameOf } from './op.js';
import { addRange, foldLanes, startLanes } from '../schedule/lane-sum.js';
import type { Target } from '../target.js';
import type { NORM_OPS } from './norm.js';

export const GN_WG = 64;

/** What both group_norm schedules read: the node, its shapes and attributes, the output and input buffers. */
function groupNormParts(em: Emitter, graph: Graph, anchorId: number, sink: number) {
  const node = graph.nodes[anchorId];
  const [xv, wv, bv] = node.inputs;
  const shape = em.shape(xv);
  const [N, C] = shape;
  const S = numel(shape.slice(2));
  const G = Number(node.attrs.groups);
  const cg = C / G;
  const sinkValue = graph.nodes[sink].outputs[0];
  return {
    node, wv, bv, shape, N, C, S, G, cg, len: cg * S, eps: Number(node.attrs.eps ?? 1e-5), sinkValue,
    outBuf: em.buf(sinkValue, 'w'), xb: em.buf(xv, 'r'),
  };
}

export function scheduleGroupNorm(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  if (target.name === 'cpu') return scheduleGroupNormCpu(graph, nodes, anchorId, sink, lowerings, target);
  const em = new Emitter(graph, nodes, lowerings);
  const { node, wv, bv, shape, N, G, eps, cg, S, len, sinkValue, outBuf, xb } = groupNormParts(em, graph, anchorId, sink);
  em.locals.push({ name: 'part', t: 'f32', size: GN_WG }, { name: 'part2', t: 'f32', size: GN_WG });
  const base = mul(gid, idx(len)); // (n * C + g * cg) * S = gid * len
  const x = (i: Expr): Expr => em.bufLoad(xb, add(base, i), 'f32');
  /** Sum of a local array, computed by every thread (no extra barriers). */
  const total = (arr: string, name: string): Expr => {
    em.emit(let_(name, 'f32', f32(0)));
    em.emit(for_(`${name}_i`, idx(0), idx(GN_WG), [set(name, bin('add', v(name, 'f32'), lload(arr, v(`${name}_i`), 'f32')))]));
    return v(name, 'f32');
  };
  const body = em.block(() => {
    em.emit(let_('s', 'f32', f32(0)));
    em.emit(for_('e', lid, idx(len), [set('s', bin('add', v('s', 'f32'), x(v('e'))))], false));
    em.emit(lstore('part', lid, v('s', 'f32')));
    em.emit(barrier);
    em.emit(let_('mean', 'f32', bin('div', total('part', 'tot'), f32(len))));
    em.emit(let_('q', 'f32', f32(0)));
    em.emit(for_('e', lid, idx(len), [let_('d', 'f32', bin('sub', x(v('e')), v('mean', 'f32'))), set('q', bin('add', v('q', 'f32'), bin('mul', v('d', 'f32'), v('d', 'f32'))))]));
    em.emit(lstore('part2', lid, v('q', 'f32')));
    em.emit(barrier);
    em.emit(let_('mean2', 'f32', bin('div', total('part', 'tot2'), f32(len))));
    em.emit(let_('inv', 'f32', bin('div', f32(1), un('sqrt', bin('add', bin('div', total('part2', 'var'), f32(len)), f32(eps))))));
    const apply = em.block(() => {
      const e = v('e2');
      const n = div(gid, idx(G));
      const c = em.bind(add(mul(mod(gid, idx(G)), idx(cg)), div(e, idx(S))), 'ch');
      const sp = mod(e, idx(S));
      const at: Expr[] = [n, c, ...spatial(em, sp, shape.slice(2))];
      em.storeThrough(outBuf, sinkValue, at, node.outputs[0], () => {
        const y = bin('mul', bin('sub', x(e), v('mean2', 'f32')), bin('mul', v('inv', 'f32'), em.bufLoad(em.buf(wv, 'r'), c, 'f32')));
        return bin('add', y, em.bufLoad(em.buf(bv, 'r'), c, 'f32'));
      });
    });
    em.emit(for_('e2', lid, idx(len), apply));
  });
  // Loops stride by the workgroup size: rewrite `e++` loops as strided ones.
  return finish(em, strided(body), GN_WG, [], N * G);
}

/**
 * group_norm on the CPU: a workgroup of one thread per (sample, group), since
 * a CPU runs a workgroup's threads one after another: 64 threads striding
 * the group's elements read every 64th float each, scalar (FCOS's head at
 * 800 × 1216 normalised 15.5 MB at 8 GB/s). Here each pass walks the group
 * in order, the sums in vectorWidth lanes (a vector loop: contiguous loads),
 * and the normalisation runs channel by channel over the plane, the
 * per-channel factor hoisted and the store unit-stride, so the epilogue
 * vectorises too.
 */
function scheduleGroupNormCpu(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const { node, wv, bv, shape, N, C, G, eps, cg, S, len, sinkValue, outBuf, xb } = groupNormParts(em, graph, anchorId, sink);
  const L = Math.max(1, target.vectorWidth);
  const x = (i: Expr): Expr => em.bufLoad(xb, add(mul(gid, idx(len)), i), 'f32');
  /** Σ over the group of term(x[e]) in L lanes (schedule/lane-sum.ts): the total as a let named `name`. */
  const laneSum = (name: string, term: (xe: Expr) => Expr): Expr => {
    em.emit(let_(name, 'f32', f32(0)));
    const lanes = startLanes(em, L);
    addRange(em, lanes, L, len, (e) => term(x(e)), name);
    foldLanes(em, lanes, L, name);
    return v(name, 'f32');
  };
  const body = em.block(() => {
    em.emit(let_('mean', 'f32', bin('div', laneSum('tot', (xe) => xe), f32(len))));
    const dev = (xe: Expr): Expr => bin('sub', xe, v('mean', 'f32'));
    const variance = bin('div', laneSum('sq', (xe) => bin('mul', dev(xe), dev(xe))), f32(len));
    em.emit(let_('inv', 'f32', bin('div', f32(1), un('sqrt', bin('add', variance, f32(eps))))));
    const n = div(gid, idx(G));
    em.emit(for_('cl', idx(0), idx(cg), em.block(() => {
      const c = em.bind(add(mul(mod(gid, idx(G)), idx(cg)), v('cl')), 'ch');
      const scale = em.bind(bin('mul', v('inv', 'f32'), em.bufLoad(em.buf(wv, 'r'), c, 'f32')), 'scale');
      const shift = em.bind(em.bufLoad(em.buf(bv, 'r'), c, 'f32'), 'shift');
      em.emit(for_('s', idx(0), idx(S), em.block(() => {
        const at: Expr[] = [n, c, ...spatial(em, v('s'), shape.slice(2))];
        // The element's flat offset, so operands shaped like the output are read unit-stride.
        em.aliasFlat(shape, at, add(mul(add(mul(n, idx(C)), c), idx(S)), v('s')));
        em.storeThrough(outBuf, sinkValue, at, node.outputs[0], () =>
          bin('add', bin('mul', dev(x(add(mul(v('cl'), idx(S)), v('s')))), scale), shift));
      })));
    })));
  });
  return finish(em, body, 1, [], N * G);
}

/** Spatial coordinates of a flat offset within a channel plane. */
function spatial(em: Emitter, sp: Expr, dims: readonly number[]): Expr[] {
  const out: Expr[] = [];
  const flat = em.bind(sp, 'sp');
  let inner = numel(dims);
  for (const d of dims) {
    inner /= d;
    out.push(d === 1 ? idx(0) : mod(div(flat, idx(inner)), idx(d)));
  }
  return out;
}

/**
 * The IR's loops step by one; a thread-strided loop `for e = lid; e < len; e += WG`
 * is written as `for k in 0..ceil((len - lid)/WG)` with e = lid + k*WG.
 */
function strided(body: ReturnType<Emitter['block']>): ReturnType<Emitter['block']> {
  return body.map((s) => {
    if (s.k !== 'for' || s.from.k !== 'lid') return s;
    const k = `${s.v}_k`;
    const count = div(add(sub(s.to, lid), idx(GN_WG - 1)), idx(GN_WG));
    return for_(k, idx(0), count, [let_(s.v, 'i64', add(lid, mul(v(k), idx(GN_WG)))), ...s.body]);
  });
}

export const NORM_KERNELS: KernelTable<OpNameOf<typeof NORM_OPS>> = {
  group_norm: { schedule: scheduleGroupNorm },
  // Frozen statistics fold to one multiply-add per element; the per-channel
  // factors are recomputed inline (cheap next to the loads).
  frozen_bn: {
    lower: (em, node, out) => {
      const c = [out[1]];
      const x = em.input(node, 0, out);
      const eps = numberAttrOr(node.attrs, 'eps', 1e-5);
      const inv = bin('div', f32(1), un('sqrt', bin('add', em.input(node, 4, c), f32(eps))));
      const scale = bin('mul', inv, em.input(node, 1, c));
      return bin('add', bin('mul', bin('sub', x, em.input(node, 3, c)), scale), em.input(node, 2, c));
    },
  },
};
