// Hand-scheduled sort and top-k along an axis (first version): one thread per
// element computes its rank in its line by counting the elements that come
// before it under the total order (value, NaN largest, then lower index), and
// scatters itself there. Stable and deterministic by construction, O(n²) per
// line: fine for the per-level candidate lists (≤ a few thousand); a bitonic
// or radix version replaces it for large lines (notes/kernels.md §3).
// topk below keeps a heap in its outputs instead (O(n + k log k) per line),
// and sorts of lines longer than RANK_SORT_MAX use it with k = n.
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import { boolAttr, intAttr, normAxis } from '../ops/attrs.js';
import { add, and, arg, bin, cast, div, f32, for_, gid, idx, if_, let_, lid, lt, mod, mul, sel, set, store, sub, v } from '../kernel/build.js';
import { numel } from '../types.js';
import { Emitter, Lowering } from './emit.js';
import { Scheduled, finish, POINTWISE_WG } from './pointwise.js';

/** Lines longer than this sort with the heap (one thread, O(n log n)) instead of ranking (n threads, O(n) each). */
const RANK_SORT_MAX = 2048;

export function scheduleSort(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const node = graph.nodes[anchorId];
  const full = graph.values[node.inputs[0]].type.shape;
  if (node.op === 'sort' && full[normAxis('sort', intAttr('sort', node.attrs, 'axis'), full.length)] > RANK_SORT_MAX) {
    return heapSchedule(graph, nodes, anchorId, sink, lowerings);
  }
  const em = new Emitter(graph, nodes, lowerings);
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
 * top-k with a heap in the outputs (one thread per line): the first k
 * elements are heapified with the worst at the root, each later element that
 * beats the root replaces it and sifts down, and a final heapsort leaves the
 * k best in order, best first. The order is total — key (NaN largest), then
 * the lower index first — so ties come out exactly as the reference's. O(n +
 * k·log k·(1 + ln(n/k))) per line instead of insertion's O(k) per entry:
 * 1.2M keys with k = 1000 (P3 at 800×1216, 80 classes) is one pass.
 */
export function scheduleTopk(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  return heapSchedule(graph, nodes, anchorId, sink, lowerings);
}

/** topk, or a long line's sort (k = n, its direction as `largest`): the heap kernel above. */
function heapSchedule(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const op = node.op as 'topk' | 'sort';
  const shape = em.shape(node.inputs[0]);
  const axis = normAxis(op, intAttr(op, node.attrs, 'axis'), shape.length);
  const largest = op === 'topk' ? boolAttr('topk', node.attrs, 'largest') : boolAttr('sort', node.attrs, 'descending');
  const n = shape[axis], inner = numel(shape.slice(axis + 1)), K = op === 'topk' ? intAttr('topk', node.attrs, 'k') : n;
  const lines = numel(shape) / n;
  const valBuf = em.buf(node.outputs[0], 'w'), idxBuf = em.buf(node.outputs[1], 'w');
  em.buf(node.outputs[0], 'r'); em.buf(node.outputs[1], 'r');
  const xb = em.buf(node.inputs[0], 'r');
  const t = em.dtype(node.inputs[0]);
  const isF = t === 'f32';
  const key = (x: Expr): Expr => (isF ? sel(bin('ne', x, x), f32(Infinity), x) : x);
  /** Does (a, ia) come before (b, ib) in the output order? */
  const better = (a: Expr, ia: Expr, b: Expr, ib: Expr): Expr => {
    const ka = key(a), kb = key(b);
    const strict = largest ? bin('gt', ka, kb) : bin('lt', ka, kb);
    const tie = lt(ia, ib);
    if (!isF) return bin('or', strict, and(bin('eq', ka, kb), tie));
    const na = cast(bin('ne', a, a), 'i32'), nb = cast(bin('ne', b, b), 'i32');
    const nanFirst = largest ? bin('gt', na, nb) : bin('lt', na, nb);
    return bin('or', strict, and(bin('eq', ka, kb), bin('or', nanFirst, and(bin('eq', na, nb), tie))));
  };
  const slot = (p: Expr): Expr => add(v('obase'), mul(p, idx(inner)));
  const val = (p: Expr): Expr => em.bufLoad(valBuf, slot(p), t);
  const ix = (p: Expr): Expr => em.bufLoad(idxBuf, slot(p), 'i32');
  const depth = Math.max(1, Math.ceil(Math.log2(K + 1)));
  let siftId = 0;
  /** Sift the entry at `from` down a heap of `end` entries (the worst at the root: every child comes before its parent). */
  const siftDown = (from: Expr, end: Expr): Stmt[] => {
    const h = `h${siftId++}`, p = `${h}_p`, go = `${h}_go`;
    return [
      let_(p, 'i64', from), let_(go, 'bool', { k: 'const', t: 'bool', v: 1 }),
      for_(`${h}_d`, idx(0), idx(depth), [if_(v(go, 'bool'), [
        let_('c1', 'i64', add(mul(v(p), idx(2)), idx(1))),
        if_(lt(v('c1'), end), [
          let_('w', 'i64', v('c1')),
          let_('wv', t, val(v('c1'))), let_('wi', 'i32', ix(v('c1'))),
          if_(lt(add(v('c1'), idx(1)), end), [
            let_('c2v', t, val(add(v('c1'), idx(1)))), let_('c2i', 'i32', ix(add(v('c1'), idx(1)))),
            // The worse child is the one the other comes before.
            if_(better(v('wv', t), v('wi', 'i32'), v('c2v', t), v('c2i', 'i32')), [set('w', add(v('c1'), idx(1))), set('wv', v('c2v', t)), set('wi', v('c2i', 'i32'))]),
          ]),
          let_('pv', t, val(v(p))), let_('pi', 'i32', ix(v(p))),
          if_(better(v('pv', t), v('pi', 'i32'), v('wv', t), v('wi', 'i32')), [
            store(valBuf, slot(v(p)), v('wv', t)), store(idxBuf, slot(v(p)), v('wi', 'i32')),
            store(valBuf, slot(v('w')), v('pv', t)), store(idxBuf, slot(v('w')), v('pi', 'i32')),
            set(p, v('w')),
          ], [set(go, { k: 'const', t: 'bool', v: 0 })]),
        ], [set(go, { k: 'const', t: 'bool', v: 0 })]),
      ])]),
    ];
  };
  // Few long lines (the per-level candidate selection): a workgroup each, so they spread over cores / SMs.
  const wg = lines >= 1024 ? POINTWISE_WG : 1;
  const body = em.block(() => {
    em.emit(let_('line', 'i64', add(mul(gid, idx(wg)), lid)));
    em.emit(if_(lt(v('line'), idx(lines)), em.block(() => {
      em.emit(let_('base', 'i64', add(mul(div(v('line'), idx(inner)), idx(n * inner)), mod(v('line'), idx(inner)))));
      em.emit(let_('obase', 'i64', add(mul(div(v('line'), idx(inner)), idx(K * inner)), mod(v('line'), idx(inner)))));
      const x = (q: Expr): Expr => em.bufLoad(xb, add(v('base'), mul(q, idx(inner))), t);
      // 1. The first k elements, heapified.
      em.emit(for_('q', idx(0), idx(K), [store(valBuf, slot(v('q')), x(v('q'))), store(idxBuf, slot(v('q')), cast(v('q'), 'i32'))]));
      em.emit(for_('r', idx(0), idx(Math.floor(K / 2)), siftDown(sub(idx(Math.floor(K / 2) - 1), v('r')), idx(K))));
      // 2. Later elements replace the root when they beat it (a later index never wins a tie).
      // The root (the k-th best so far) is kept in registers between replacements.
      em.emit(let_('rootv', t, val(idx(0))));
      em.emit(let_('rooti', 'i32', ix(idx(0))));
      em.emit(for_('q', idx(K), idx(n), [
        let_('xq', t, x(v('q'))),
        if_(better(v('xq', t), cast(v('q'), 'i32'), v('rootv', t), v('rooti', 'i32')), [
          store(valBuf, slot(idx(0)), v('xq', t)), store(idxBuf, slot(idx(0)), cast(v('q'), 'i32')),
          ...siftDown(idx(0), idx(K)),
          set('rootv', val(idx(0))), set('rooti', ix(idx(0))),
        ]),
      ]));
      // 3. Heapsort: the worst goes to the end each time, so the best end up first.
      em.emit(for_('e', idx(1), idx(K), [
        let_('last', 'i64', sub(idx(K), v('e'))),
        let_('rv', t, val(idx(0))), let_('ri', 'i32', ix(idx(0))),
        store(valBuf, slot(idx(0)), val(v('last'))), store(idxBuf, slot(idx(0)), ix(v('last'))),
        store(valBuf, slot(v('last')), v('rv', t)), store(idxBuf, slot(v('last')), v('ri', 'i32')),
        ...siftDown(idx(0), v('last')),
      ]));
    })));
  });
  return finish(em, body, wg, [], Math.ceil(lines / wg));
}
