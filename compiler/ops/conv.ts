// conv2d: NCHW activations, OIHW weights, PyTorch semantics (cross-correlation).
import { Dim, add, floordiv, isConst, mul, showDim, sub } from '../dims.js';
import { numel } from '../types.js';
import { dimAttr, intAttr, intsAttr, dimsAttr } from './attrs.js';
import { need, requireAtLeast, requireDtype, requireEq, requireRank, requireSameDtype } from './checks.js';
import { OpDef, ShapeError } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const FLOAT = ['f32', 'f16'] as const;

/** floor((n + 2p - d(k-1) - 1) / s) + 1: the output size of a strided, padded, dilated window. */
export function windowOut(n: Dim, k: Dim, stride: number, pad: Dim, dilation: Dim): Dim {
  const span = add(mul(dilation, sub(k, 1)), 1);
  return add(floordiv(sub(add(n, mul(2, pad)), span), stride), 1);
}

const conv2d: OpDef = {
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
};

export const CONV_OPS: readonly OpDef[] = [conv2d];
