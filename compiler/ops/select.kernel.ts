// The kernels of the selection ops (select.ts). gather and index_select read
// one clamped source element per output. scatter and scatter_add are written
// as gathers: each output element sums (or picks) what would have been
// scattered onto it, in a fixed order, so there are no atomics and results
// are deterministic. sort and topk are hand-scheduled (schedule/sort.ts).
import { Expr } from '../kernel/ir.js';
import { and, bin, cast, for_, idx, if_, let_, lt, max, min, set, v } from '../kernel/build.js';
import { Lowering } from '../schedule/emit.js';
import { scheduleSort, scheduleTopk } from '../schedule/sort.js';
import { intAttr, normAxis } from './attrs.js';
import { KernelTable, OpNameOf } from './op.js';
import type { SELECT_OPS } from './select.js';

/** out[..., a, ...]: x, then every src[..., i, ...] whose index[..., i, ...] is a, in order (set or add). */
function scatterInto(add_: boolean): Lowering {
  return (em, node, out) => {
    const xs = em.inShape(node, 0), is = em.inShape(node, 1);
    const a = normAxis(node.op, intAttr(node.op, node.attrs, 'axis'), xs.length);
    const t = em.dtype(node.outputs[0]);
    const r = em.fresh('sc'), i = em.fresh('si');
    em.emit(let_(r, t, em.input(node, 0, out)));
    // Only coordinates inside index's shape receive anything (index may be smaller than x off the axis).
    let covered: Expr = { k: 'const', t: 'bool', v: 1 };
    out.forEach((e, d) => { if (d !== a && is[d] < xs[d]) covered = and(covered, lt(e, idx(is[d]))); });
    const at = out.map((e, d) => (d === a ? v(i) : e));
    const body = em.block(() => {
      const target = em.bind(cast(em.input(node, 1, at), 'i64'), 'tg');
      const val = em.input(node, 2, at);
      em.emit(if_(bin('eq', target, out[a]), [set(r, add_ ? bin('add', v(r, t), val) : val)]));
    });
    em.emit(if_(covered, [for_(i, idx(0), idx(is[a]), body)]));
    return v(r, t);
  };
}

export const SELECT_KERNELS: KernelTable<OpNameOf<typeof SELECT_OPS>> = {
  gather: {
    lower: (em, node, out) => {
      const is = em.inShape(node, 0);
      const a = normAxis('gather', intAttr('gather', node.attrs, 'axis'), is.length);
      const j = em.bind(cast(em.input(node, 1, out), 'i64'));
      return em.input(node, 0, out.map((e, d) => (d === a ? max(idx(0), min(j, idx(is[a] - 1))) : e)));
    },
  },
  index_select: {
    lower: (em, node, out) => {
      const is = em.inShape(node, 0);
      const a = normAxis('index_select', intAttr('index_select', node.attrs, 'axis'), is.length);
      const j = em.bind(cast(em.input(node, 1, [out[a]]), 'i64'));
      return em.input(node, 0, out.map((e, d) => (d === a ? max(idx(0), min(j, idx(is[a] - 1))) : e)));
    },
  },
  scatter: { lower: scatterInto(false) },
  scatter_add: { lower: scatterInto(true) },
  topk: { schedule: scheduleTopk },
  sort: { schedule: scheduleSort },
};
