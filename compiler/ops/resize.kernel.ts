// The kernels of the resize ops (resize.ts), computed per output element:
// nearest or bilinear taps (PyTorch align_corners=False), and resize's
// adjoint written as a gather over the few output rows and columns that read
// an input element (no atomics, a fixed summation order). The max3d kernels
// interpolate their neighbour levels with the same taps (bilinearTap).
import { Expr } from '../kernel/ir.js';
import { add, bin, cast, div, f32, for_, idx, if_, let_, lt, max, min, mul, sel, set, sub, un, v } from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { OpNameOf, perElement } from './op.js';
import type { RESIZE_OPS } from './resize.js';

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

/** Bilinear sample of `value` (planes over the last two dims) at output row/col. */
function bilinearSample(em: Emitter, value: number, lead: readonly Expr[], y: Expr, x: Expr, outH: number, outW: number): Expr {
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

export const RESIZE_KERNELS = perElement<OpNameOf<typeof RESIZE_OPS>>({
  resize,
  resize_as: resize,
  resize_grad: resizeGrad,
});
