// conv2d: NCHW activations, OIHW weights, PyTorch semantics (cross-correlation).
import { Dim, add, floordiv, isConst, mul, showDim, sub } from '../dims.js';
import { TensorType, numel } from '../types.js';
import { dimAttr, intAttr, intsAttr, dimsAttr } from './attrs.js';
import { need, requireAtLeast, requireDtype, requireEq, requireRank, requireSameDtype } from './checks.js';
import { Op, OpDef, ShapeContext, ShapeError } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const FLOAT = ['f32', 'f16'] as const;

/** floor((n + 2p - d(k-1) - 1) / s) + 1: the output size of a strided, padded, dilated window. */
export function windowOut(n: Dim, k: Dim, stride: number, pad: Dim, dilation: Dim): Dim {
  const span = add(mul(dilation, sub(k, 1)), 1);
  return add(floordiv(sub(add(n, mul(2, pad)), span), stride), 1);
}

const conv2d: Op<'conv2d'> = {
  name: 'conv2d', kind: 'out-fusable',
  doc: '2-D convolution (cross-correlation) of x: [N, C, H, W] with w: [O, C/groups, kH, kW], optional bias b: [O]',
  inputs: [{ name: 'x', dtypes: FLOAT }, { name: 'w', dtypes: FLOAT }, { name: 'b', dtypes: FLOAT, optional: true }],
  attrs: [
    { name: 'stride', type: 'ints', default: [1] },
    { name: 'padding', type: 'ints', default: [0] },
    { name: 'dilation', type: 'ints', default: [1] },
    { name: 'groups', type: 'int', default: 1 },
  ],
  shape([x, w, b], attrs, ctx) {
    const op = 'conv2d';
    const tx = need(op, x, 'x', 0), tw = need(op, w, 'w', 1);
    requireRank(op, tx, 4, 'input', 0, 'N, C, H, W');
    requireRank(op, tw, 4, 'weight', 1, 'O, C/groups, kH, kW');
    requireDtype(op, tx, FLOAT, 'input', 0);
    requireSameDtype(op, tx, tw, 1);
    const stride = intsAttr(op, attrs, 'stride', 2);
    const padding = dimsAttr(op, attrs, 'padding', 2);
    const dilation = dimsAttr(op, attrs, 'dilation', 2);
    // groups may stay symbolic (a constructor parameter): divisibility is then left to lowering.
    const groups = dimAttr(op, attrs, 'groups');
    if (isConst(groups) && groups < 1) throw new ShapeError(`${op}: groups must be at least 1, got ${groups}`);
    if (stride.some((s) => s < 1)) throw new ShapeError(`${op}: stride must be at least 1, got ${stride.join(', ')}`);
    const [n, c, h, wd] = tx.shape;
    const [o, ci, kh, kw] = tw.shape;
    const expected = mul(ci, groups);
    requireEq(ctx, c, expected,
      `${op}: input has ${showDim(c)} channels but the weight expects ${showDim(expected)} (groups = ${showDim(groups)})`, 1,
      'the weight is [out_channels, in_channels / groups, kH, kW]');
    if (isConst(groups) && groups > 1) {
      requireEq(ctx, sub(o, mul(floordiv(o, groups), groups)), 0,
        `${op}: ${showDim(o)} output channels are not divisible by groups = ${groups}`, 1);
    }
    if (b !== undefined) {
      requireRank(op, b, 1, 'bias', 2, 'O');
      requireSameDtype(op, tx, b, 2);
      requireEq(ctx, b.shape[0], o, `${op}: bias has ${showDim(b.shape[0])} values but the weight has ${showDim(o)} output channels`, 2);
    }
    const oh = windowOut(h, kh, stride[0], padding[0], dilation[0]);
    const ow = windowOut(wd, kw, stride[1], padding[1], dilation[1]);
    const hint = 'the input is smaller than the (dilated) kernel: add padding or use a larger input';
    requireAtLeast(ctx, oh, 1, `${op}: output height ${showDim(oh)} is less than 1 (input height ${showDim(h)}, kernel ${showDim(kh)})`, 0, hint);
    requireAtLeast(ctx, ow, 1, `${op}: output width ${showDim(ow)} is less than 1 (input width ${showDim(wd)}, kernel ${showDim(kw)})`, 0, hint);
    return [{ dtype: tx.dtype, shape: [n, o, oh, ow] }];
  },
  reference([x, w, b], attrs) {
    const [sh, sw] = intsAttr('conv2d', attrs, 'stride', 2);
    const [ph, pw] = intsAttr('conv2d', attrs, 'padding', 2);
    const [dh, dw] = intsAttr('conv2d', attrs, 'dilation', 2);
    const g = intAttr('conv2d', attrs, 'groups');
    const [N, C, H, W] = x!.shape;
    const [O, Cg, KH, KW] = w!.shape;
    const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
    const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
    if (Cg * g !== C || OH < 1 || OW < 1) throw new ShapeError(`conv2d: bad shapes x [${x!.shape.join(', ')}], w [${w!.shape.join(', ')}]`);
    const out = alloc(x!.dtype, [N, O, OH, OW], usesF64([x, w, b]));
    const X = x!.data, Wt = w!.data, Y = out.data;
    const og = O / g;
    // One output plane at a time, accumulated in f64: for each weight tap,
    // add w * (the shifted input row) over the output columns that see it.
    const acc = new Float64Array(OH * OW);
    for (let n = 0; n < N; n++) for (let oc = 0; oc < O; oc++) {
      const grp = Math.floor(oc / og);
      acc.fill(b ? b.data[oc] : 0);
      for (let ic = 0; ic < Cg; ic++) {
        const xc = (n * C + grp * Cg + ic) * H;
        for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
          const wv = Wt[((oc * Cg + ic) * KH + ky) * KW + kx];
          const dx = kx * dw - pw;
          // Output columns whose input column ox * sw + dx lies in [0, W).
          const ox0 = Math.max(0, Math.ceil(-dx / sw)), ox1 = Math.min(OW - 1, Math.floor((W - 1 - dx) / sw));
          for (let oy = 0; oy < OH; oy++) {
            const iy = oy * sh - ph + ky * dh;
            if (iy < 0 || iy >= H) continue;
            const row = (xc + iy) * W + dx, orow = oy * OW;
            for (let ox = ox0; ox <= ox1; ox++) acc[orow + ox] += wv * X[row + ox * sw];
          }
        }
      }
      Y.set(acc, (n * O + oc) * OH * OW);
    }
    return [out];
  },
  flops(ins, outs) {
    const w = ins[1]!;
    const perOut = numel(w.shape.slice(1)); // C/groups * kH * kW multiply-adds
    return 2 * numel(outs[0].shape) * perOut + (ins[2] ? numel(outs[0].shape) : 0);
  },
  // Dedicated adjoint ops rather than conv2d over a zero-dilated cotangent
  // with flipped weights: for stride s that composition multiplies the work
  // and the temporary by s^2 and needs a dilate op; these are one implicit
  // GEMM each, the same loop nest as the forward with the roles swapped.
  grad(b) {
    const [x, w, bias] = b.inputs, g = b.cotOrZero(0);
    const conv = { stride: b.attrs.stride, padding: b.attrs.padding, dilation: b.attrs.dilation, groups: b.attrs.groups };
    const xs = b.type(x).shape, ws = b.type(w).shape;
    return [
      b.needs(0) ? b.op('conv2d_grad_input', [g, w], { ...conv, size: [xs[2], xs[3]] }) : undefined,
      b.needs(1) ? b.op('conv2d_grad_weight', [x, g], { ...conv, kernel: [ws[2], ws[3]] }) : undefined,
      bias >= 0 && b.needs(2) ? b.op('sum', [g], { axes: [0, 2, 3], keepdims: false }) : undefined,
    ];
  },
};

/** The conv attrs as numbers, validated by the forward's rules. */
function convParams(op: string, attrs: Parameters<OpDef['reference']>[1]): { s: number[]; p: number[]; d: number[]; groups: number } {
  const s = intsAttr(op, attrs, 'stride', 2), p = intsAttr(op, attrs, 'padding', 2), d = intsAttr(op, attrs, 'dilation', 2);
  const groups = intAttr(op, attrs, 'groups');
  if (groups < 1 || s.some((v) => v < 1) || d.some((v) => v < 1) || p.some((v) => v < 0)) {
    throw new ShapeError(`${op}: stride, dilation and groups must be >= 1 and padding >= 0`);
  }
  return { s, p, d, groups };
}

const CONV_ATTRS: OpDef['attrs'] = [
  { name: 'stride', type: 'ints', default: [1] },
  { name: 'padding', type: 'ints', default: [0] },
  { name: 'dilation', type: 'ints', default: [1] },
  { name: 'groups', type: 'int', default: 1 },
];

/**
 * Visits every (input pixel, weight tap, output pixel) triple of a conv:
 * fn(xIndex, wIndex, yIndex). Both adjoints are this loop with a different
 * accumulation, so they cannot disagree about the geometry.
 */
function forEachTap(xs: readonly number[], ws: readonly number[], ys: readonly number[], c: { s: number[]; p: number[]; d: number[]; groups: number },
  fn: (xi: number, wi: number, yi: number) => void): void {
  const [N, C, H, W] = xs, [O, Cg, KH, KW] = ws, [, , OH, OW] = ys;
  const og = O / c.groups;
  for (let n = 0; n < N; n++) for (let oc = 0; oc < O; oc++) {
    const grp = Math.floor(oc / og);
    for (let ic = 0; ic < Cg; ic++) {
      const xc = (n * C + grp * Cg + ic) * H;
      for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
        const wi = ((oc * Cg + ic) * KH + ky) * KW + kx;
        for (let oy = 0; oy < OH; oy++) {
          const iy = oy * c.s[0] - c.p[0] + ky * c.d[0];
          if (iy < 0 || iy >= H) continue;
          const yrow = ((n * O + oc) * OH + oy) * OW;
          for (let ox = 0; ox < OW; ox++) {
            const ix = ox * c.s[1] - c.p[1] + kx * c.d[1];
            if (ix < 0 || ix >= W) continue;
            fn((xc + iy) * W + ix, wi, yrow + ox);
          }
        }
      }
    }
  }
}

function gradShapeCheck(op: string, g: TensorType, w: TensorType, ctx: ShapeContext, gArg: number, wArg: number): void {
  requireRank(op, g, 4, 'output gradient', gArg, 'N, O, OH, OW');
  requireRank(op, w, 4, 'weight', wArg, 'O, C/groups, kH, kW');
  requireDtype(op, g, FLOAT, 'output gradient', gArg);
  requireSameDtype(op, g, w, wArg);
  requireEq(ctx, g.shape[1], w.shape[0], `${op}: the gradient has ${showDim(g.shape[1])} channels but the weight has ${showDim(w.shape[0])} outputs`, gArg);
}

const conv2dGradInput: Op<'conv2d_grad_input'> = {
  name: 'conv2d_grad_input', kind: 'out-fusable',
  doc: 'adjoint of conv2d w.r.t. its input: g: [N, O, OH, OW], w: [O, C/groups, kH, kW] -> [N, C, size[0], size[1]]',
  inputs: [{ name: 'g', dtypes: FLOAT }, { name: 'w', dtypes: FLOAT }],
  attrs: [...CONV_ATTRS, { name: 'size', type: 'ints', doc: 'the forward input height and width' }],
  shape([g, w], attrs, ctx) {
    const op = 'conv2d_grad_input';
    const tg = need(op, g, 'g', 0), tw = need(op, w, 'w', 1);
    gradShapeCheck(op, tg, tw, ctx, 0, 1);
    const c = convParams(op, attrs);
    const [h, wd] = dimsAttr(op, attrs, 'size', 2);
    requireEq(ctx, windowOut(h, tw.shape[2], c.s[0], c.p[0], c.d[0]), tg.shape[2], `${op}: height ${showDim(h)} does not give the gradient's ${showDim(tg.shape[2])} rows`, 0);
    requireEq(ctx, windowOut(wd, tw.shape[3], c.s[1], c.p[1], c.d[1]), tg.shape[3], `${op}: width ${showDim(wd)} does not give the gradient's ${showDim(tg.shape[3])} columns`, 0);
    return [{ dtype: tg.dtype, shape: [tg.shape[0], mul(tw.shape[1], c.groups), h, wd] }];
  },
  reference([g, w], attrs) {
    const c = convParams('conv2d_grad_input', attrs);
    const [H, W] = intsAttr('conv2d_grad_input', attrs, 'size', 2);
    const xs = [g!.shape[0], w!.shape[1] * c.groups, H, W];
    const acc = new Float64Array(numel(xs));
    const G = g!.data, Wt = w!.data;
    forEachTap(xs, w!.shape, g!.shape, c, (xi, wi, yi) => { acc[xi] += Wt[wi] * G[yi]; });
    const out = alloc(g!.dtype, xs, usesF64([g, w]));
    out.data.set(acc);
    return [out];
  },
  flops: (ins) => 2 * numel(ins[0]!.shape) * numel(ins[1]!.shape.slice(1)),
  grad: 'none',
};

const conv2dGradWeight: Op<'conv2d_grad_weight'> = {
  name: 'conv2d_grad_weight', kind: 'out-fusable',
  doc: 'adjoint of conv2d w.r.t. its weight: x: [N, C, H, W], g: [N, O, OH, OW] -> [O, C/groups, kernel[0], kernel[1]]',
  inputs: [{ name: 'x', dtypes: FLOAT }, { name: 'g', dtypes: FLOAT }],
  attrs: [...CONV_ATTRS, { name: 'kernel', type: 'ints', doc: 'the forward weight kH and kW' }],
  shape([x, g], attrs, ctx) {
    const op = 'conv2d_grad_weight';
    const tx = need(op, x, 'x', 0), tg = need(op, g, 'g', 1);
    requireRank(op, tx, 4, 'input', 0, 'N, C, H, W');
    requireRank(op, tg, 4, 'output gradient', 1, 'N, O, OH, OW');
    requireDtype(op, tx, FLOAT, 'input', 0);
    requireSameDtype(op, tx, tg, 1);
    const c = convParams(op, attrs);
    const [kh, kw] = dimsAttr(op, attrs, 'kernel', 2);
    requireEq(ctx, windowOut(tx.shape[2], kh, c.s[0], c.p[0], c.d[0]), tg.shape[2], `${op}: input height ${showDim(tx.shape[2])} does not give the gradient's ${showDim(tg.shape[2])} rows`, 1);
    requireEq(ctx, windowOut(tx.shape[3], kw, c.s[1], c.p[1], c.d[1]), tg.shape[3], `${op}: input width ${showDim(tx.shape[3])} does not give the gradient's ${showDim(tg.shape[3])} columns`, 1);
    return [{ dtype: tx.dtype, shape: [tg.shape[1], floordiv(tx.shape[1], c.groups), kh, kw] }];
  },
  reference([x, g], attrs) {
    const c = convParams('conv2d_grad_weight', attrs);
    const [KH, KW] = intsAttr('conv2d_grad_weight', attrs, 'kernel', 2);
    const ws = [g!.shape[1], x!.shape[1] / c.groups, KH, KW];
    const acc = new Float64Array(numel(ws));
    const G = g!.data, X = x!.data;
    forEachTap(x!.shape, ws, g!.shape, c, (xi, wi, yi) => { acc[wi] += X[xi] * G[yi]; });
    const out = alloc(x!.dtype, ws, usesF64([x, g]));
    out.data.set(acc);
    return [out];
  },
  flops: (ins, outs) => 2 * numel(ins[1]!.shape) * numel(outs[0].shape.slice(1)),
  grad: 'none',
};

export const CONV_OPS = [conv2d, conv2dGradInput, conv2dGradWeight] as const;
