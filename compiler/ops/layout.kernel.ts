// The kernels of the layout ops (layout.ts): index remaps computed per output
// element, so nothing is copied when they fuse. concat and stack pick their
// source input with a chain of ifs.
import { Expr } from '../kernel/ir.js';
import { add, bin, div, idx, if_, konst, let_, lt, mul, set, sub, v } from '../kernel/build.js';
import { stridesOf } from '../tensor.js';
import { Lowering, broadcastAt } from '../schedule/emit.js';
import { intAttr, intsAttr, normAxis } from './attrs.js';
import type { LAYOUT_OPS } from './layout.js';
import { OpNameOf, perElement } from './op.js';

/** Coordinates of a flat offset in `shape` (plain expressions, bound by the caller's memo). */
function coordsOf(flat: Expr, shape: readonly number[]): Expr[] {
  const st = stridesOf(shape);
  return shape.map((d, i) => (d === 1 ? idx(0) : bin('mod', div(flat, idx(st[i])), idx(d))));
}

/** Joins inputs along `axis` (concat) or a new axis (stack): a chain of ifs picks the source. */
function joinInputs(newAxis: boolean): Lowering {
  return (em, node, out) => {
    const axis = intAttr(node.op, node.attrs, 'axis');
    const rank = em.outShape(node).length;
    const a = normAxis(node.op, axis, rank);
    const t = em.dtype(node.outputs[0]);
    const r = em.fresh('j');
    em.emit(let_(r, t, konst(t, 0)));
    const pos = em.bind(out[a]);
    let offset = 0;
    const branches = node.inputs.map((_, i) => {
      const size = newAxis ? 1 : em.inShape(node, i)[a];
      const lo = offset;
      offset += size;
      const at = newAxis ? [...out.slice(0, a), ...out.slice(a + 1)] : out.map((e, d) => (d === a ? sub(pos, idx(lo)) : e));
      return { hi: offset, body: em.block(() => em.emit(set(r, em.input(node, i, at)))) };
    });
    let chain = branches[branches.length - 1].body;
    for (let i = branches.length - 2; i >= 0; i--) chain = [if_(lt(pos, idx(branches[i].hi)), branches[i].body, chain)];
    for (const s of chain) em.emit(s);
    return v(r, t);
  };
}

function sliceStart(start: number, n: number): number {
  let s = start < 0 ? n + start : start;
  if (s < 0) s = 0;
  if (s > n) s = n;
  return s;
}

// The flat offset is the same on both sides: where the output index is the kernel's own
// unflattened index it is that index, and the input's coordinates are recorded as its
// unflattening, so a buffer read (or a further reshape) uses it again instead of
// re-flattening: a chain of reshapes costs one division per coordinate actually used.
const reshape: Lowering = (em, node, out) => {
  const flat = em.bind(em.flatIndex(em.outShape(node), out));
  const inShape = em.inShape(node, 0);
  const at = coordsOf(flat, inShape);
  em.aliasFlat(inShape, at, flat);
  return em.input(node, 0, at);
};

export const LAYOUT_KERNELS = perElement<OpNameOf<typeof LAYOUT_OPS>>({
  concat: joinInputs(false),
  stack: joinInputs(true),
  slice: (em, node, out) => {
    const is = em.inShape(node, 0);
    const a = normAxis('slice', intAttr('slice', node.attrs, 'axis'), is.length);
    const start = sliceStart(intAttr('slice', node.attrs, 'start'), is[a]);
    const step = intAttr('slice', node.attrs, 'step');
    return em.input(node, 0, out.map((e, d) => (d === a ? add(idx(start), mul(e, idx(step))) : e)));
  },
  reshape,
  flatten: reshape,
  transpose: (em, node, out) => {
    const perm = intsAttr('transpose', node.attrs, 'perm');
    const at = new Array<Expr>(perm.length);
    perm.forEach((p, i) => { at[normAxis('transpose', p, perm.length)] = out[i]; });
    return em.input(node, 0, at);
  },
  expand: (em, node, out) => em.input(node, 0, broadcastAt(em.inShape(node, 0), out)),
});
