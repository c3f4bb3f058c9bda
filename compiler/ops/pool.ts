// max_pool2d: padding counts as -inf, floor mode (PyTorch's default).
import { numel } from '../types.js';
import { intsAttr, dimsAttr, withDefaults } from './attrs.js';
import { need, requireAtLeast, requireDtype, requireEq, requireRank } from './checks.js';
import { Tensor } from '../tensor.js';
import { windowOut } from './conv.js';
import { Attrs, Op, ShapeError } from './op.js';
import { alloc, usesF64 } from './tensors.js';
import { showDim } from '../dims.js';

const NUMERIC = ['f32', 'f16', 'i32'] as const;

/** kernel, stride (empty = kernel) and padding as numbers, validated. */
function poolParams(attrs: Attrs): { k: number[]; s: number[]; p: number[] } {
  const op = 'max_pool2d';
  const k = intsAttr(op, attrs, 'kernel', 2);
  const sRaw = dimsAttr(op, attrs, 'stride');
  const s = sRaw.length === 0 ? k : intsAttr(op, attrs, 'stride', 2);
  const p = intsAttr(op, attrs, 'padding', 2);
  if (k.some((v) => v < 1)) throw new ShapeError(`${op}: kernel must be at least 1, got ${k.join(', ')}`);
  if (s.some((v) => v < 1)) throw new ShapeError(`${op}: stride must be at least 1, got ${s.join(', ')}`);
  if (p.some((v, i) => v < 0 || 2 * v > k[i])) {
    throw new ShapeError(`${op}: padding ${p.join(', ')} must be between 0 and half the kernel ${k.join(', ')}`, { hint: 'as in PyTorch, pad at most kernel / 2' });
  }
  return { k, s, p };
}

const maxPool2d: Op<'max_pool2d'> = {
  name: 'max_pool2d', kind: 'injective',
  doc: 'max over kH x kW windows of x: [N, C, H, W]; stride defaults to the kernel; padding is -inf',
  inputs: [{ name: 'x', dtypes: NUMERIC }],
  attrs: [{ name: 'kernel', type: 'ints' }, { name: 'stride', type: 'ints', default: [] }, { name: 'padding', type: 'ints', default: [0] }],
  shape([x], attrs, ctx) {
    const op = 'max_pool2d';
    const t = need(op, x, 'x', 0);
    requireRank(op, t, 4, 'input', 0, 'N, C, H, W');
    requireDtype(op, t, NUMERIC, 'input', 0);
    const { k, s, p } = poolParams(attrs);
    const [n, c, h, w] = t.shape;
    const oh = windowOut(h, k[0], s[0], p[0], 1), ow = windowOut(w, k[1], s[1], p[1], 1);
    requireAtLeast(ctx, oh, 1, `${op}: output height ${showDim(oh)} is less than 1 (input height ${showDim(h)}, kernel ${k[0]})`, 0);
    requireAtLeast(ctx, ow, 1, `${op}: output width ${showDim(ow)} is less than 1 (input width ${showDim(w)}, kernel ${k[1]})`, 0);
    return [{ dtype: t.dtype, shape: [n, c, oh, ow] }];
  },
  reference([x], attrs) {
    const { k, s, p } = poolParams(attrs);
    const X = x!, [N, C, H, W] = X.shape;
    const OH = Math.floor((H + 2 * p[0] - k[0]) / s[0]) + 1, OW = Math.floor((W + 2 * p[1] - k[1]) / s[1]) + 1;
    const out = alloc(X.dtype, [N, C, OH, OW], usesF64([x]));
    for (let nc = 0; nc < N * C; nc++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
      let m = -Infinity;
      for (let ky = 0; ky < k[0]; ky++) {
        const iy = oy * s[0] - p[0] + ky;
        if (iy < 0 || iy >= H) continue;
        for (let kx = 0; kx < k[1]; kx++) {
          const ix = ox * s[1] - p[1] + kx;
          if (ix < 0 || ix >= W) continue;
          const v = X.data[(nc * H + iy) * W + ix];
          if (v > m || Number.isNaN(v)) m = v;
          if (Number.isNaN(m)) break;
        }
      }
      out.data[(nc * OH + oy) * OW + ox] = m;
    }
    return [out];
  },
  flops(_ins, outs, attrs) {
    const { k } = poolParams(withDefaults(maxPool2d, attrs));
    return numel(outs[0].shape) * k[0] * k[1];
  },
  grad: (b) => [b.op('max_pool2d_grad', [b.inputs[0], b.cotOrZero(0)], { kernel: b.attrs.kernel, stride: b.attrs.stride, padding: b.attrs.padding })],
};

/** Calls fn(inputIndex, outputIndex) for the window maximum of every output: the first in row-major window order that no later value beats (the forward's scan). */
function forEachArgmax(X: Tensor, attrs: Attrs, fn: (xi: number, oi: number) => void): void {
  const { k, s, p } = poolParams(attrs);
  const [N, C, H, W] = X.shape;
  const OH = Math.floor((H + 2 * p[0] - k[0]) / s[0]) + 1, OW = Math.floor((W + 2 * p[1] - k[1]) / s[1]) + 1;
  for (let nc = 0; nc < N * C; nc++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    let m = -Infinity, at = -1;
    for (let ky = 0; ky < k[0]; ky++) {
      const iy = oy * s[0] - p[0] + ky;
      if (iy < 0 || iy >= H) continue;
      for (let kx = 0; kx < k[1]; kx++) {
        const ix = ox * s[1] - p[1] + kx;
        if (ix < 0 || ix >= W) continue;
        const i = (nc * H + iy) * W + ix, v = X.data[i];
        if (at < 0 || v > m || (Number.isNaN(v) && !Number.isNaN(m))) { m = v; at = i; }
      }
    }
    if (at >= 0) fn(at, (nc * OH + oy) * OW + ox);
  }
}

const maxPool2dGrad: Op<'max_pool2d_grad'> = {
  name: 'max_pool2d_grad', kind: 'opaque',
  doc: 'adjoint of max_pool2d: each window\'s gradient goes to its first maximum (row-major, as the forward scans; ties are not split), summed where windows overlap',
  inputs: [{ name: 'x', dtypes: ['f32', 'f16'] }, { name: 'g', dtypes: ['f32', 'f16'] }],
  attrs: maxPool2d.attrs,
  shape([x, g], attrs, ctx) {
    const [want] = maxPool2d.shape([x], attrs, ctx);
    const tg = need('max_pool2d_grad', g, 'g', 1);
    requireRank('max_pool2d_grad', tg, 4, 'g', 1, 'the pooled shape');
    if (tg.dtype !== want.dtype) throw new ShapeError(`max_pool2d_grad: g is ${tg.dtype} but x is ${want.dtype}`, { arg: 1 });
    want.shape.forEach((d, i) => requireEq(ctx, tg.shape[i], d, `max_pool2d_grad: g must have the pooled shape, dim ${i} is ${showDim(tg.shape[i])} vs ${showDim(d)}`, 1));
    return [{ dtype: x!.dtype, shape: x!.shape }];
  },
  reference([x, g], attrs) {
    const acc = new Float64Array(x!.data.length);
    forEachArgmax(x!, attrs, (xi, oi) => { acc[xi] += g!.data[oi]; });
    const out = alloc(x!.dtype, x!.shape, usesF64([x, g]));
    out.data.set(acc);
    return [out];
  },
  flops: (ins) => numel(ins[1]!.shape) * 2,
  grad: 'none',
};

export const POOL_OPS = [maxPool2d, maxPool2dGrad] as const;
