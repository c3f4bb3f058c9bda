// Kernel lowerings of the injective ops: layout ops as index remaps (nothing
// is copied when they fuse), windowed gathers (max pool, resize) computed per
// output element, and generators (arange, full, locations).
import { Expr, Scalar } from '../kernel/ir.js';
import { intAttr, intsAttr, normAxis } from '../ops/attrs.js';
import {
  add, bin, cast, div, f32, for_, idx, if_, inRange, konst, let_, lt, max, min, mul, sel, set, sub, un, v,
} from '../kernel/build.js';
import { stridesOf } from '../tensor.js';
import { Emitter, Lowering } from './emit.js';
import { broadcastAt } from './lower-elementwise.js';

/** Flat row-major offset of `at` in `shape`. */
export function flatIn(shape: readonly number[], at: readonly Expr[]): Expr {
  const st = stridesOf(shape);
  return at.reduce<Expr>((e, a, d) => add(e, mul(a, idx(st[d]))), idx(0));
}

/** Coordinates of a flat offset in `shape` (plain expressions, bound by the caller's memo). */
export function coordsOf(flat: Expr, shape: readonly number[]): Expr[] {
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

const reshape: Lowering = (em, node, out) => em.input(node, 0, coordsOf(em.bind(flatIn(em.outShape(node), out)), em.inShape(node, 0)));

/** Source coordinate and weights of a bilinear tap, PyTorch align_corners=False (compiler/ops/resize.ts). */
export function bilinearTap(em: Emitter, d: Expr, inSize: number, outSize: number): { i0: Expr; i1: Expr; w0: Expr; w1: Expr } {
  if (inSize === outSize) return { i0: d, i1: d, w0: f32(1), w1: f32(0) };
  const src = em.bind(bin('max', f32(0), bin('sub', bin('mul', f32(inSize / outSize), bin('add', cast(d, 'f32'), f32(0.5))), f32(0.5))));
  const i0 = em.bind(min(cast(un('floor', src), 'i64'), idx(inSize - 1)));
  const last = bin('lt', i0, idx(inSize - 1));
  const i1 = em.bind(sel(last, add(i0, idx(1)), i0));
  const w1 = em.bind(sel(last, bin('sub', src, cast(i0, 'f32')), f32(0)));
  return { i0, i1, w0: bin('sub', f32(1), w1), w1 };
}

/** Bilinear sample of input `i` of `node` (planes over the last two dims) at output row/col. */
export function bilinearSample(em: Emitter, value: number, lead: readonly Expr[], y: Expr, x: Expr, outH: number, outW: number): Expr {
  const s = em.shape(value);
  const H = s[s.length - 2], W = s[s.length - 1];
  const th = bilinearTap(em, y, H, outH), tw = bilinearTap(em, x, W, outW);
  const at = (r: Expr, c: Expr): Expr => em.value(value, [...lead, r, c]);
  if (H === outH && W === outW) return at(y, x);
  const top = bin('add', bin('mul', tw.w0, at(th.i0, tw.i0)), bin('mul', tw.w1, at(th.i0, tw.i1)));
  const bot = bin('add', bin('mul', tw.w0, at(th.i1, tw.i0)), bin('mul', tw.w1, at(th.i1, tw.i1)));
  return bin('add', bin('mul', th.w0, top), bin('mul', th.w1, bot));
}

const resize: Lowering = (em, node, out) => {
  const mode = String(node.attrs.mode ?? 'nearest');
  const os = em.outShape(node), is = em.inShape(node, 0);
  const r = os.length;
  const lead = out.slice(0, r - 2);
  if (mode === 'bilinear') return bilinearSample(em, node.inputs[0], lead, out[r - 2], out[r - 1], os[r - 2], os[r - 1]);
  const near = (d: Expr, inSize: number, outSize: number): Expr => min(div(mul(d, idx(inSize)), idx(outSize)), idx(inSize - 1));
  return em.input(node, 0, [...lead, near(out[r - 2], is[r - 2], os[r - 2]), near(out[r - 1], is[r - 1], os[r - 1])]);
};

const lowest = (t: Scalar): Expr => (t === 'f32' ? f32(-Infinity) : konst(t, -2147483648));

const maxPool: Lowering = (em, node, out) => {
  const k = intsAttr('max_pool2d', node.attrs, 'kernel', 2);
  const sRaw = node.attrs.stride as readonly number[] | undefined;
  const s = !sRaw || (Array.isArray(sRaw) && sRaw.length === 0) ? k : intsAttr('max_pool2d', node.attrs, 'stride', 2);
  const p = intsAttr('max_pool2d', node.attrs, 'padding', 2);
  const [, , H, W] = em.inShape(node, 0);
  const t = em.dtype(node.outputs[0]);
  const m = em.fresh('m'), ky = em.fresh('ky'), kx = em.fresh('kx');
  em.emit(let_(m, t, lowest(t)));
  const iy = add(sub(mul(out[2], idx(s[0])), idx(p[0])), v(ky)), ix = add(sub(mul(out[3], idx(s[1])), idx(p[1])), v(kx));
  // Branch-free: a tap outside the image reads a clamped neighbour and counts as the lowest value.
  const body = em.block(() => {
    const yv = em.bind(iy), xv = em.bind(ix);
    const ok = em.bind(bin('and', inRange(yv, H), inRange(xv, W)), 'ok');
    const at = [out[0], out[1], max(idx(0), min(yv, idx(H - 1))), max(idx(0), min(xv, idx(W - 1)))];
    const val = em.bind(sel(ok, em.input(node, 0, at), lowest(t)));
    const better = t === 'f32' ? bin('or', bin('gt', val, v(m, t)), bin('ne', val, val)) : bin('gt', val, v(m, t));
    em.emit(set(m, sel(better, val, v(m, t))));
  });
  em.emit(for_(ky, idx(0), idx(k[0]), [for_(kx, idx(0), idx(k[1]), body)]));
  return v(m, t);
};

export const GATHER_LOWERINGS = {
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
  gather: (em, node, out) => {
    const is = em.inShape(node, 0);
    const a = normAxis('gather', intAttr('gather', node.attrs, 'axis'), is.length);
    const j = em.bind(cast(em.input(node, 1, out), 'i64'));
    return em.input(node, 0, out.map((e, d) => (d === a ? max(idx(0), min(j, idx(is[a] - 1))) : e)));
  },
  index_select: (em, node, out) => {
    const is = em.inShape(node, 0);
    const a = normAxis('index_select', intAttr('index_select', node.attrs, 'axis'), is.length);
    const j = em.bind(cast(em.input(node, 1, [out[a]]), 'i64'));
    return em.input(node, 0, out.map((e, d) => (d === a ? max(idx(0), min(j, idx(is[a] - 1))) : e)));
  },
  resize,
  resize_as: resize,
  max_pool2d: maxPool,
  arange: (em, node, out) => cast(out[0], em.dtype(node.outputs[0])),
  full: (em, node) => konst(em.dtype(node.outputs[0]), Number(node.attrs.value)),
  locations: (em, node, out) => {
    const s = intAttr('locations', node.attrs, 'stride');
    const [, , , W] = em.inShape(node, 0);
    const cell = em.bind(out[0]);
    const coord = sel(bin('eq', out[1], idx(0)), bin('mod', cell, idx(W)), div(cell, idx(W)));
    return bin('mul', bin('add', cast(coord, 'f32'), f32(0.5)), f32(s));
  },
} satisfies Record<string, Lowering>;

