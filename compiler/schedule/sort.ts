// Hand-scheduled sort and top-k along an axis (first version): one thread per
// element computes its rank in its line by counting the elements that come
// before it under the total order (value, NaN largest, then lower index), and
// scatters itself there. Stable and deterministic by construction, O(n²) per
// line: fine for the per-level candidate lists (≤ a few thousand); a bitonic
// or radix version replaces it for large lines (notes/kernels.md §3).
import { Graph } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { boolAttr, intAttr, normAxis } from '../ops/attrs.js';
import { add, and, arg, bin, cast, div, f32, for_, gid, idx, if_, let_, lid, lt, min, mod, mul, sel, set, store, sub, v } from '../kernel/build.js';
import { numel } from '../types.js';
import { Emitter, Lowering } from './emit.js';
import { Scheduled, finish, POINTWISE_WG } from './pointwise.js';

export function scheduleSort(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const shape = em.shape(node.inputs[0]);
  const axis = normAxis(node.op, intAttr(node.op, node.attrs, 'axis'), shape.length);
  const descending = node.op === 'topk' ? boolAttr('topk', node.attrs, 'largest') : boolAttr('sort', node.attrs, 'descending');
  const n = shape[axis], inner = numel(shape.slice(axis + 1));
  const K = node.op === 'topk' ? intAttr('topk', node.attrs, 'k') : n;
  const total = numel(shape);
  const valBuf = em.buf(node.outputs[0], 'w'), idxBuf = em.buf(node.outputs[1], 'w');
  const xb = em.buf(node.inputs[0], 'r');
  const t = em.dtype(node.inputs[0]);
  const isF = t === 'f32';
  const body = em.block(() => {
    em.emit(let_('i', 'i64', add(mul(gid, idx(POINTWISE_WG)), lid)));
    em.emit(if_(lt(v('i'), arg(0)), em.block(() => {
      em.emit(let_('o', 'i64', div(v('i'), idx(n * inner))));
      em.emit(let_('p', 'i64', mod(div(v('i'), idx(inner)), idx(n))));
      em.emit(let_('jn', 'i64', mod(v('i'), idx(inner))));
      em.emit(let_('line', 'i64', add(mul(v('o'), idx(n * inner)), v('jn'))));
      const xv = (q: Expr): Expr => em.bufLoad(xb, add(v('line'), mul(q, idx(inner))), t);
      em.emit(let_('xp', t, xv(v('p'))));
      const key = (x: Expr): Expr => (isF ? sel(bin('ne', x, x), f32(Infinity), x) : x);
      const nan = (x: Expr): Expr => (isF ? bin('ne', x, x) : { k: 'const', t: 'bool', v: 0 });
      em.emit(let_('kp', t, key(v('xp', t))));
      em.emit(let_('rank', 'i64', idx(0)));
      const before = em.block(() => {
        em.emit(let_('xq', t, xv(v('q'))));
        em.emit(let_('kq', t, key(v('xq', t))));
        const kq = v('kq', t), kp = v('kp', t);
        const nq = cast(nan(v('xq', t)), 'i32'), np = cast(nan(v('xp', t)), 'i32');
        const first = descending ? bin('gt', kq, kp) : bin('lt', kq, kp);
        const sameKey = bin('eq', kq, kp);
        const nanOrder = isF ? (descending ? bin('gt', nq, np) : bin('lt', nq, np)) : { k: 'const' as const, t: 'bool' as const, v: 0 };
        const tie = and(and(sameKey, bin('eq', nq, np)), lt(v('q'), v('p')));
        em.emit(if_(bin('or', bin('or', first, and(sameKey, nanOrder)), tie), [set('rank', add(v('rank'), idx(1)))]));
      });
      em.emit(for_('q', idx(0), idx(n), before));
      const dst = add(add(mul(v('o'), idx(K * inner)), mul(v('rank'), idx(inner))), v('jn'));
      em.emit(if_(lt(v('rank'), idx(K)), [store(valBuf, dst, v('xp', t)), store(idxBuf, dst, cast(v('p'), 'i32'))]));
    })));
  });
  return finish(em, body, POINTWISE_WG, [total], Math.ceil(total / POINTWISE_WG));
}

/**
 * top-k by insertion (one thread per line): the line is scanned once in index
 * order; an element enters the k-long list kept in the outputs when it comes
 * before the current last, shifting the later ones down. Equal keys keep the
 * lower index first because earlier elements are already in place. O(n) for
 * elements below the k-th, O(k) per insertion (about k·ln(n/k) of them on
 * random data): the per-level candidate selection of DeFCN/FCOS post-processing.
 */
export function scheduleTopk(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const shape = em.shape(node.inputs[0]);
  const axis = normAxis('topk', intAttr('topk', node.attrs, 'axis'), shape.length);
  const largest = boolAttr('topk', node.attrs, 'largest');
  const n = shape[axis], inner = numel(shape.slice(axis + 1)), K = intAttr('topk', node.attrs, 'k');
  const lines = numel(shape) / n;
  const valBuf = em.buf(node.outputs[0], 'w'), idxBuf = em.buf(node.outputs[1], 'w');
  em.buf(node.outputs[0], 'r'); em.buf(node.outputs[1], 'r');
  const xb = em.buf(node.inputs[0], 'r');
  const t = em.dtype(node.inputs[0]);
  const isF = t === 'f32';
  const key = (x: Expr): Expr => (isF ? sel(bin('ne', x, x), f32(Infinity), x) : x);
  const nan = (x: Expr): Expr => (isF ? bin('ne', x, x) : { k: 'const', t: 'bool', v: 0 });
  /** Does a (a later element) come before b (an earlier one)? Ties keep b first. */
  const before = (a: Expr, b: Expr): Expr => {
    const ka = key(a), kb = key(b);
    const strict = largest ? bin('gt', ka, kb) : bin('lt', ka, kb);
    if (!isF) return strict;
    const na = cast(nan(a), 'i32'), nb = cast(nan(b), 'i32');
    return bin('or', strict, and(bin('eq', ka, kb), largest ? bin('gt', na, nb) : bin('lt', na, nb)));
  };
  const slot = (p: Expr): Expr => add(v('obase'), mul(p, idx(inner)));
  const body = em.block(() => {
    em.emit(let_('line', 'i64', add(mul(gid, idx(POINTWISE_WG)), lid)));
    em.emit(if_(lt(v('line'), idx(lines)), em.block(() => {
      em.emit(let_('base', 'i64', add(mul(div(v('line'), idx(inner)), idx(n * inner)), mod(v('line'), idx(inner)))));
      em.emit(let_('obase', 'i64', add(mul(div(v('line'), idx(inner)), idx(K * inner)), mod(v('line'), idx(inner)))));
      em.emit(let_('cnt', 'i64', idx(0)));
      const scan = em.block(() => {
        em.emit(let_('x', t, em.bufLoad(xb, add(v('base'), mul(v('q'), idx(inner))), t)));
        const x = v('x', t);
        const enters = bin('or', lt(v('cnt'), idx(K)), before(x, em.bufLoad(valBuf, slot(idx(K - 1)), t)));
        const insert = em.block(() => {
          em.emit(let_('top', 'i64', min(v('cnt'), idx(K - 1))));
          em.emit(let_('moving', 'bool', { k: 'const', t: 'bool', v: 1 }));
          const shift = em.block(() => {
            em.emit(let_('p', 'i64', sub(v('top'), v('s'))));
            const prev = em.bind(em.bufLoad(valBuf, slot(sub(v('p'), idx(1))), t), 'pv');
            em.emit(if_(v('moving', 'bool'), [if_(before(x, prev), [
              store(valBuf, slot(v('p')), prev),
              store(idxBuf, slot(v('p')), em.bufLoad(idxBuf, slot(sub(v('p'), idx(1))), 'i32')),
            ], [store(valBuf, slot(v('p')), x), store(idxBuf, slot(v('p')), cast(v('q'), 'i32')), set('moving', { k: 'const', t: 'bool', v: 0 })])]));
          });
          em.emit(for_('s', idx(0), v('top'), shift));
          em.emit(if_(v('moving', 'bool'), [store(valBuf, slot(idx(0)), x), store(idxBuf, slot(idx(0)), cast(v('q'), 'i32'))]));
          em.emit(set('cnt', min(add(v('cnt'), idx(1)), idx(K))));
        });
        em.emit(if_(enters, insert));
      });
      em.emit(for_('q', idx(0), idx(n), scan));
    })));
  });
  return finish(em, body, POINTWISE_WG, [], Math.ceil(lines / POINTWISE_WG));
}
