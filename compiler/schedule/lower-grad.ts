// Kernel lowerings of the scatter-like ops, written as gathers: each output
// element sums (or picks) what would have been scattered onto it, in a fixed
// order, so there are no atomics and results are deterministic — the
// adjoints of max pooling and resize, scatter and scatter_add.
import { Expr } from '../kernel/ir.js';
import { intAttr, intsAttr, normAxis } from '../ops/attrs.js';
import { add, and, bin, cast, div, f32, for_, idx, if_, inRange, let_, lt, max, min, mod, mul, sel, set, sub, v } from '../kernel/build.js';
import { Emitter, Lowering } from './emit.js';
import { bilinearTap } from './lower-gather.js';

/** dx[iy, ix] = Σ over windows whose first maximum is (iy, ix) of g[window]. */
const maxPoolGrad: Lowering = (em, node, out) => {
  const k = intsAttr('max_pool2d_grad', node.attrs, 'kernel', 2);
  const sRaw = node.attrs.stride as readonly number[] | undefined;
  const s = !sRaw || (Array.isArray(sRaw) && sRaw.length === 0) ? k : intsAttr('max_pool2d_grad', node.attrs, 'stride', 2);
  const p = intsAttr('max_pool2d_grad', node.attrs, 'padding', 2);
  const [, , H, W] = em.inShape(node, 0);
  const [, , OH, OW] = em.inShape(node, 1);
  const [n, c, iy, ix] = out;
  const acc = em.fresh('acc'), ky = em.fresh('ky'), kx = em.fresh('kx');
  em.emit(let_(acc, 'f32', f32(0)));
  const window = em.block(() => {
    // The window that holds (iy, ix) at tap (ky, kx), if the stride lands on it.
    const ny = em.bind(sub(add(iy, idx(p[0])), v(ky)), 'ny'), nx = em.bind(sub(add(ix, idx(p[1])), v(kx)), 'nx');
    const oy = em.bind(div(ny, idx(s[0])), 'oy'), ox = em.bind(div(nx, idx(s[1])), 'ox');
    const lands = and(and(bin('ge', ny, idx(0)), bin('eq', mod(ny, idx(s[0])), idx(0))), and(bin('ge', nx, idx(0)), bin('eq', mod(nx, idx(s[1])), idx(0))));
    const inside = em.block(() => {
      const m = em.fresh('m'), at = em.fresh('at'), wy = em.fresh('wy'), wx = em.fresh('wx');
      em.emit(let_(m, 'f32', f32(-Infinity)));
      em.emit(let_(at, 'i64', idx(-1)));
      const scan = em.block(() => {
        const yy = em.bind(add(sub(mul(oy, idx(s[0])), idx(p[0])), v(wy)), 'yy'), xx = em.bind(add(sub(mul(ox, idx(s[1])), idx(p[1])), v(wx)), 'xx');
        const take = em.block(() => {
          const val = em.bind(em.input(node, 0, [n, c, yy, xx]), 'val');
          const cur = v(m, 'f32');
          const better = bin('or', bin('or', lt(v(at), idx(0)), bin('gt', val, cur)), and(bin('ne', val, val), bin('eq', cur, cur)));
          em.emit(if_(better, [set(m, val), set(at, add(mul(yy, idx(W)), xx))]));
        });
        em.emit(if_(and(inRange(yy, H), inRange(xx, W)), take));
      });
      em.emit(for_(wy, idx(0), idx(k[0]), [for_(wx, idx(0), idx(k[1]), scan)]));
      em.emit(if_(bin('eq', v(at), add(mul(iy, idx(W)), ix)), [set(acc, bin('add', v(acc, 'f32'), em.input(node, 1, [n, c, oy, ox])))]));
    });
    em.emit(if_(and(lands, and(lt(oy, idx(OH)), lt(ox, idx(OW)))), inside));
  });
  em.emit(for_(ky, idx(0), idx(k[0]), [for_(kx, idx(0), idx(k[1]), window)]));
  return v(acc, 'f32');
};

/** The weight with which output row y of a resize reads input row r (0 when it does not). */
function tapWeight(em: Emitter, y: Expr, r: Expr, inSize: number, outSize: number, bilinear: boolean): Expr {
  if (!bilinear) return sel(bin('eq', min(div(mul(y, idx(inSize)), idx(outSize)), idx(inSize - 1)), r), f32(1), f32(0));
  const t = bilinearTap(em, y, inSize, outSize);
  return bin('add', sel(bin('eq', t.i0, r), t.w0, f32(0)), sel(bin('eq', t.i1, r), t.w1, f32(0)));
}

/** dx[r, c] = Σ_y Σ_x g[y, x] · wy(y, r) · wx(x, c) over the few output rows/columns that can read (r, c). */
const resizeGrad: Lowering = (em, node, out) => {
  const gs = em.inShape(node, 0), os = em.outShape(node);
  const rank = os.length;
  const [H, W] = [os[rank - 2], os[rank - 1]], [oh, ow] = [gs[rank - 2], gs[rank - 1]];
  const bilinear = String(node.attrs.mode ?? 'nearest') === 'bilinear';
  const lead = out.slice(0, rank - 2), r = out[rank - 2], c = out[rank - 1];
  const acc = em.fresh('acc'), ty = em.fresh('ty'), tx = em.fresh('tx');
  em.emit(let_(acc, 'f32', f32(0)));
  // Output rows that can read input row r lie within [(r - 1)·oh/H - 2, (r + 2)·oh/H + 3].
  const countY = Math.ceil((3 * oh) / H) + 6, countX = Math.ceil((3 * ow) / W) + 6;
  const y0 = em.bind(max(idx(0), sub(div(mul(sub(r, idx(1)), idx(oh)), idx(H)), idx(2))), 'ys');
  const x0 = em.bind(max(idx(0), sub(div(mul(sub(c, idx(1)), idx(ow)), idx(W)), idx(2))), 'xs');
  const rows = em.block(() => {
    const y = em.bind(add(y0, v(ty)), 'y');
    const rowBody = em.block(() => {
      const wy = em.bind(tapWeight(em, y, r, H, oh, bilinear), 'wyt');
      const cols = em.block(() => {
        const x = em.bind(add(x0, v(tx)), 'x');
        const colBody = em.block(() => {
          const wx = em.bind(tapWeight(em, x, c, W, ow, bilinear), 'wxt');
          em.emit(set(acc, bin('add', v(acc, 'f32'), bin('mul', bin('mul', wy, wx), em.input(node, 0, [...lead, y, x])))));
        });
        em.emit(if_(lt(x, idx(ow)), colBody));
      });
      em.emit(for_(tx, idx(0), idx(countX), cols));
    });
    em.emit(if_(lt(y, idx(oh)), rowBody));
  });
  em.emit(for_(ty, idx(0), idx(countY), rows));
  return v(acc, 'f32');
};

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

export const GRAD_LOWERINGS = {
  max_pool2d_grad: maxPoolGrad,
  resize_grad: resizeGrad,
  scatter: scatterInto(false),
  scatter_add: scatterInto(true),
} satisfies Record<string, Lowering>;
