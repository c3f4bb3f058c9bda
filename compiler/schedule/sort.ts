// Hand-scheduled sort and top-k along an axis (first version): one thread per
// element computes its rank in its line by counting the elements that come
// before it under the total order (value, NaN largest, then lower index), and
// scatters itself there. Stable and deterministic by construction, O(n²) per
// line: fine for the per-level candidate lists (≤ a few thousand); a bitonic
// or radix version replaces it for large lines (notes/kernels.md §3).
import { Graph } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { boolAttr, intAttr, normAxis } from '../ops/attrs.js';
import { add, and, arg, bin, cast, div, f32, for_, gid, idx, if_, let_, lid, lt, mod, mul, sel, set, store, v } from '../kernel/build.js';
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
