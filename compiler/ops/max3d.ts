// 3D max filtering (DeFCN): for each pyramid level, neighbouring levels are
// bilinearly resized to its size and a (tau+1) x phi x phi max is taken,
// keeping the level's own frame. Resize and max are one op so backends can
// sample the neighbours inside the kernel.
import { isConst, showDim } from '../dims.js';
import { DType, TensorType, numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { dimAttr, intAttr, withDefaults } from './attrs.js';
import { need, requireDtype, requireEq, requireRank } from './checks.js';
import { AttrSpec, Attrs, Op, ShapeContext, ShapeError } from './op.js';
import { bilinearTaps, resizePlanes } from './resize.js';
import { alloc, usesF64 } from './tensors.js';

export function windowParams(attrs: Attrs): { tau: number; phi: number } {
  const tau = intAttr('max3d', attrs, 'tau'), phi = intAttr('max3d', attrs, 'phi');
  if (tau < 0 || tau % 2 !== 0) throw new ShapeError(`max3d: tau must be an even number >= 0, got ${tau}`, { hint: 'the paper uses tau in {0, 2, 4}' });
  if (phi < 1 || phi % 2 !== 1) throw new ShapeError(`max3d: phi must be an odd number >= 1, got ${phi}`, { hint: 'the paper uses phi in {1, 3, 5}' });
  return { tau, phi };
}

/** The levels level l sees: [l - tau/2, l + tau/2] clipped to the pyramid. */
export function neighbourLevels(l: number, levels: number, tau: number): number[] {
  const out: number[] = [];
  for (let k = Math.max(0, l - tau / 2); k <= Math.min(levels - 1, l + tau / 2); k++) out.push(k);
  return out;
}

export const MAX3D_ATTRS: readonly AttrSpec[] = [{ name: 'tau', type: 'int', default: 2 }, { name: 'phi', type: 'int', default: 3 }];

/** The pyramid checks of max3d and its arg-max ops: rank-4 levels of one dtype sharing B and C; the levels' own types back. */
export function max3dShape(op: string, ins: readonly (TensorType | undefined)[], attrs: Attrs, ctx: ShapeContext, dtypes: readonly DType[] = ['f32', 'f16']): TensorType[] {
  // The window never changes shapes: symbolic tau/phi are left to lowering.
  if (isConst(dimAttr(op, attrs, 'tau')) && isConst(dimAttr(op, attrs, 'phi'))) windowParams(attrs);
  if (ins.length === 0) throw new ShapeError(`${op}: needs at least one level`);
  const ts = ins.map((t, i) => need(op, t, `level ${i}`, i));
  ts.forEach((t, i) => {
    requireRank(op, t, 4, `level ${i}`, i, 'B, C, H, W');
    requireDtype(op, t, dtypes, `level ${i}`, i);
    if (t.dtype !== ts[0].dtype) throw new ShapeError(`${op}: level ${i} is ${t.dtype} but level 0 is ${ts[0].dtype}`, { arg: i });
    requireEq(ctx, t.shape[0], ts[0].shape[0], `${op}: level ${i} has batch ${showDim(t.shape[0])} but level 0 has ${showDim(ts[0].shape[0])}`, i);
    requireEq(ctx, t.shape[1], ts[0].shape[1], `${op}: level ${i} has ${showDim(t.shape[1])} channels but level 0 has ${showDim(ts[0].shape[1])}`, i,
      'all levels must share B and C (apply the same conv to every level)');
  });
  return ts.map((t) => ({ dtype: t.dtype, shape: t.shape }));
}

const max3d: Op<'max3d'> = {
  name: 'max3d', kind: 'opaque',
  doc: 'DeFCN 3D max filter over pyramid levels [B, C, H_l, W_l]: one output per level, same shape',
  inputs: [{ name: 'levels', dtypes: ['f32', 'f16'], variadic: true }],
  attrs: MAX3D_ATTRS,
  shape(ins, attrs, ctx) { return max3dShape('max3d', ins, attrs, ctx); },
  reference(ins, attrs) {
    const { tau, phi } = windowParams(attrs);
    const levels = ins as Tensor[];
    const L = levels.length, r = (phi - 1) / 2;
    return levels.map((x, l) => {
      const [B, C, H, W] = x.shape;
      const frames = neighbourLevels(l, L, tau).map((k) => (k === l ? x : resizePlanes(levels[k], H, W, 'bilinear')));
      const out = alloc(x.dtype, x.shape, usesF64(levels));
      for (let p = 0; p < B * C; p++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
        // Frames ascending, then h, then w; strictly greater or NaN replaces (PyTorch's first-max order).
        let m = -Infinity;
        for (const f of frames) {
          for (let dh = -r; dh <= r; dh++) {
            const y = h + dh;
            if (y < 0 || y >= H) continue;
            for (let dw = -r; dw <= r; dw++) {
              const xx = w + dw;
              if (xx < 0 || xx >= W) continue;
              const v = f.data[(p * H + y) * W + xx];
              if (v > m || (Number.isNaN(v) && !Number.isNaN(m))) m = v;
            }
          }
        }
        out.data[(p * H + h) * W + w] = m;
      }
      return out;
    });
  },
  flops(ins, _outs, attrs) {
    const { tau, phi } = windowParams(withDefaults(max3d, attrs));
    let total = 0;
    ins.forEach((t, l) => {
      const n = numel(t!.shape);
      const frames = neighbourLevels(l, ins.length, tau).length;
      total += n * frames * phi * phi + n * 6 * (frames - 1);
    });
    return total;
  },
  grad(b) {
    const L = b.inputs.length;
    const gs = b.outputs.map((_, l) => b.cotOrZero(l));
    // The arg-max once per output, then a gather per input over the outputs that can reach it
    // (compiler/ops/max3d-argmax.ts): far cheaper than re-deriving arg-maxes around every input.
    const window = { tau: b.attrs.tau, phi: b.attrs.phi };
    const codes = b.emit('max3d_argmax', b.inputs, window);
    const outs = b.emit('max3d_argmax_grad', [...codes, ...gs], window);
    return outs.map((v, l) => (l < L && b.needs(l) ? v : undefined));
  },
};

/**
 * The backward's routing, used by max3d_argmax_grad: output
 * (level l; plane p, row y, column x) whose maximum came from level k adds its
 * gradient g to that same pixel when k = l, else to level k's four bilinear
 * taps of the sample (float64 accumulators, one per level).
 */
export function gradientRouter(acc: Float64Array[], shapes: readonly (readonly number[])[]): (l: number, k: number, p: number, y: number, x: number, g: number) => void {
  const taps = new Map<string, ReturnType<typeof bilinearTaps>>();
  const tapsOf = (from: number, to: number): ReturnType<typeof bilinearTaps> => {
    const key = `${from}>${to}`;
    let t = taps.get(key);
    if (!t) { t = bilinearTaps(from, to); taps.set(key, t); }
    return t;
  };
  return (l, k, p, y, x, g) => {
    const [, , H, W] = shapes[l];
    if (k === l) { acc[l][(p * H + y) * W + x] += g; return; }
    const [, , Hk, Wk] = shapes[k];
    const th = tapsOf(Hk, H), tw = tapsOf(Wk, W);
    const base = p * Hk * Wk;
    acc[k][base + th.i0[y] * Wk + tw.i0[x]] += g * th.w0[y] * tw.w0[x];
    acc[k][base + th.i0[y] * Wk + tw.i1[x]] += g * th.w0[y] * tw.w1[x];
    acc[k][base + th.i1[y] * Wk + tw.i0[x]] += g * th.w1[y] * tw.w0[x];
    acc[k][base + th.i1[y] * Wk + tw.i1[x]] += g * th.w1[y] * tw.w1[x];
  };
}

/**
 * For every output element of level l, where its maximum came from: the
 * frame (level k), and the position in level l's frame. The scan order is
 * the forward's (frames ascending, then dh, then dw; strictly greater
 * replaces), so ties go to the first maximum in that order, whole.
 */
export function forEachArgmax(levels: readonly Tensor[], tau: number, phi: number, fn: (l: number, o: number, k: number, at: number) => void): void {
  const L = levels.length, r = (phi - 1) / 2;
  levels.forEach((x, l) => {
    const [B, C, H, W] = x.shape;
    const ks = neighbourLevels(l, L, tau);
    const frames = ks.map((k) => (k === l ? x : resizePlanes(levels[k], H, W, 'bilinear')));
    for (let p = 0; p < B * C; p++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
      let m = -Infinity, from = -1, at = -1;
      frames.forEach((f, fi) => {
        for (let dh = -r; dh <= r; dh++) {
          const y = h + dh;
          if (y < 0 || y >= H) continue;
          for (let dw = -r; dw <= r; dw++) {
            const xx = w + dw;
            if (xx < 0 || xx >= W) continue;
            const i = (p * H + y) * W + xx, v = f.data[i];
            if (v > m || (Number.isNaN(v) && !Number.isNaN(m))) { m = v; from = ks[fi]; at = i; }
          }
        }
      });
      if (from >= 0) fn(l, (p * H + h) * W + w, from, at);
    }
  });
}

export const MAX3D_OPS = [max3d] as const;
