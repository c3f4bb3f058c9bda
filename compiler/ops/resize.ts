// resize / resize_as over the last two dims, PyTorch align_corners=False.
import { Dim, showDim } from '../dims.js';
import { TensorType, numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { dimsAttr, stringAttr } from './attrs.js';
import { need, requireAtLeast, requireDtype, requireMinRank } from './checks.js';
import { GradBuilder, Op, ShapeContext } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const MODES = ['nearest', 'bilinear'] as const;
type Mode = (typeof MODES)[number];

/** Source taps of a 1-D bilinear resize: value[dst] = w0[dst]·in[i0[dst]] + w1[dst]·in[i1[dst]]. */
export interface Taps { i0: Int32Array; i1: Int32Array; w0: Float64Array; w1: Float64Array }

export function bilinearTaps(inSize: number, outSize: number): Taps {
  const t: Taps = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), w0: new Float64Array(outSize), w1: new Float64Array(outSize) };
  const scale = inSize / outSize;
  for (let d = 0; d < outSize; d++) {
    // Equal sizes are a plain copy in PyTorch; the formula below gives the same.
    const src = Math.max(0, scale * (d + 0.5) - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const l1 = i0 < inSize - 1 ? src - i0 : 0;
    t.i0[d] = i0; t.i1[d] = i1; t.w0[d] = 1 - l1; t.w1[d] = l1;
  }
  return t;
}

export function nearestTaps(inSize: number, outSize: number): Taps {
  const t: Taps = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), w0: new Float64Array(outSize).fill(1), w1: new Float64Array(outSize) };
  for (let d = 0; d < outSize; d++) { t.i0[d] = Math.min(Math.floor((d * inSize) / outSize), inSize - 1); t.i1[d] = t.i0[d]; }
  return t;
}

/** Resizes every [H, W] plane of x to [oh, ow] into a new tensor of the same array kind. */
export function resizePlanes(x: Tensor, oh: number, ow: number, mode: Mode): Tensor {
  const H = x.shape[x.shape.length - 2], W = x.shape[x.shape.length - 1];
  const lead = x.shape.slice(0, -2);
  const out = alloc(x.dtype, [...lead, oh, ow], usesF64([x]));
  const th = mode === 'bilinear' ? bilinearTaps(H, oh) : nearestTaps(H, oh);
  const tw = mode === 'bilinear' ? bilinearTaps(W, ow) : nearestTaps(W, ow);
  const planes = numel(lead);
  for (let p = 0; p < planes; p++) {
    const src = p * H * W, dst = p * oh * ow;
    for (let y = 0; y < oh; y++) {
      const r0 = src + th.i0[y] * W, r1 = src + th.i1[y] * W;
      for (let xx = 0; xx < ow; xx++) {
        const a = tw.i0[xx], b = tw.i1[xx];
        const top = tw.w0[xx] * x.data[r0 + a] + tw.w1[xx] * x.data[r0 + b];
        const bot = tw.w0[xx] * x.data[r1 + a] + tw.w1[xx] * x.data[r1 + b];
        out.data[dst + y * ow + xx] = th.w0[y] * top + th.w1[y] * bot;
      }
    }
  }
  return out;
}

/** The adjoint of resizePlanes: g: [..., oh, ow] spread back onto [..., H, W] through the same taps. */
export function resizePlanesAdjoint(g: Tensor, H: number, W: number, mode: Mode): Tensor {
  const oh = g.shape[g.shape.length - 2], ow = g.shape[g.shape.length - 1];
  const lead = g.shape.slice(0, -2);
  const th = mode === 'bilinear' ? bilinearTaps(H, oh) : nearestTaps(H, oh);
  const tw = mode === 'bilinear' ? bilinearTaps(W, ow) : nearestTaps(W, ow);
  const acc = new Float64Array(numel(lead) * H * W);
  for (let p = 0; p < numel(lead); p++) {
    const dst = p * H * W, src = p * oh * ow;
    for (let y = 0; y < oh; y++) {
      const r0 = dst + th.i0[y] * W, r1 = dst + th.i1[y] * W;
      for (let xx = 0; xx < ow; xx++) {
        const v = g.data[src + y * ow + xx], a = tw.i0[xx], b = tw.i1[xx];
        acc[r0 + a] += th.w0[y] * tw.w0[xx] * v; acc[r0 + b] += th.w0[y] * tw.w1[xx] * v;
        acc[r1 + a] += th.w1[y] * tw.w0[xx] * v; acc[r1 + b] += th.w1[y] * tw.w1[xx] * v;
      }
    }
  }
  const out = alloc(g.dtype, [...lead, H, W], usesF64([g]));
  out.data.set(acc);
  return out;
}

function resizedType(op: string, x: TensorType | undefined, h: Dim, w: Dim, ctx: ShapeContext): TensorType {
  const t = need(op, x, 'x', 0);
  requireMinRank(op, t, 2, 'input', 0);
  requireDtype(op, t, ['f32', 'f16'], 'input', 0);
  requireAtLeast(ctx, h, 1, `${op}: output height ${showDim(h)} must be at least 1`, 0);
  requireAtLeast(ctx, w, 1, `${op}: output width ${showDim(w)} must be at least 1`, 0);
  return { dtype: t.dtype, shape: [...t.shape.slice(0, -2), h, w] };
}

const flops = (_i: unknown, outs: readonly { shape: readonly number[] }[], attrs: Readonly<Record<string, unknown>>): number =>
  numel(outs[0].shape) * (attrs.mode === 'bilinear' ? 6 : 1);

const resize: Op<'resize'> = {
  name: 'resize', kind: 'injective',
  doc: 'resize the last two dims to size = [H, W] (nearest or bilinear, align_corners false)',
  inputs: [{ name: 'x', dtypes: ['f32', 'f16'] }],
  attrs: [{ name: 'size', type: 'ints' }, { name: 'mode', type: 'string', default: 'nearest', choices: MODES }],
  shape([x], attrs, ctx) {
    const [h, w] = dimsAttr('resize', attrs, 'size', 2);
    stringAttr('resize', attrs, 'mode', MODES);
    return [resizedType('resize', x, h, w, ctx)];
  },
  reference([x], attrs) {
    const [h, w] = dimsAttr('resize', attrs, 'size', 2) as number[];
    return [resizePlanes(x!, h, w, stringAttr('resize', attrs, 'mode', MODES) as Mode)];
  },
  flops,
  grad: (b) => [resizeGradOf(b)],
};

/**
 * Nearest upsampling by whole factors (the FPN's 2x) is a sum over each
 * source pixel's fh x fw block: reshape + sum, which fuse like any
 * reduction. Every other case is the dedicated resize_grad adjoint.
 */
function resizeGradOf(b: GradBuilder): number {
  const xs = b.type(b.inputs[0]).shape, g = b.cotOrZero(0), gs = b.type(g).shape;
  const [H, W] = xs.slice(-2), [oh, ow] = gs.slice(-2);
  if (b.attrs.mode === 'nearest' && oh % H === 0 && ow % W === 0) {
    const lead = gs.slice(0, -2), r = lead.length;
    const blocks = b.op('reshape', [g], { shape: [...lead, H, oh / H, W, ow / W] });
    return b.op('sum', [blocks], { axes: [r + 1, r + 3], keepdims: false });
  }
  return b.op('resize_grad', [g], { size: xs.slice(-2), mode: b.attrs.mode });
}

const resizeAs: Op<'resize_as'> = {
  name: 'resize_as', kind: 'injective',
  doc: "resize x's last two dims to ref's last two dims (nearest or bilinear, align_corners false)",
  inputs: [{ name: 'x', dtypes: ['f32', 'f16'] }, { name: 'ref' }],
  attrs: [{ name: 'mode', type: 'string', default: 'nearest', choices: MODES }],
  shape([x, ref], attrs, ctx) {
    const r = need('resize_as', ref, 'ref', 1);
    requireMinRank('resize_as', r, 2, 'ref', 1);
    stringAttr('resize_as', attrs, 'mode', MODES);
    return [resizedType('resize_as', x, r.shape[r.shape.length - 2], r.shape[r.shape.length - 1], ctx)];
  },
  reference([x, ref], attrs) {
    const r = ref!.shape;
    return [resizePlanes(x!, r[r.length - 2], r[r.length - 1], stringAttr('resize_as', attrs, 'mode', MODES) as Mode)];
  },
  flops,
  // ref only lends its size.
  grad: (b) => [resizeGradOf(b), undefined],
};

const resizeGrad: Op<'resize_grad'> = {
  name: 'resize_grad', kind: 'opaque',
  doc: 'adjoint of resize: g: [..., h, w] summed back onto [..., size[0], size[1]] through the same nearest or bilinear taps',
  inputs: [{ name: 'g', dtypes: ['f32', 'f16'] }],
  attrs: [{ name: 'size', type: 'ints', doc: 'the forward input height and width' }, { name: 'mode', type: 'string', default: 'nearest', choices: MODES }],
  shape([g], attrs, ctx) {
    const [h, w] = dimsAttr('resize_grad', attrs, 'size', 2);
    stringAttr('resize_grad', attrs, 'mode', MODES);
    return [resizedType('resize_grad', g, h, w, ctx)];
  },
  reference([g], attrs) {
    const [h, w] = dimsAttr('resize_grad', attrs, 'size', 2) as number[];
    return [resizePlanesAdjoint(g!, h, w, stringAttr('resize_grad', attrs, 'mode', MODES) as Mode)];
  },
  flops: (ins, _o, attrs) => numel(ins[0]!.shape) * (attrs.mode === 'bilinear' ? 8 : 1),
  grad: 'none',
};

export const RESIZE_OPS = [resize, resizeAs, resizeGrad] as const;
