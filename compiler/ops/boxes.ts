// Box ops. Boxes are (x1, y1, x2, y2) in pixels; points are (x, y).
import { showDim } from '../dims.js';
import { TensorType, numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { floatAttr } from './attrs.js';
import { alignedGrad } from './box-grad.js';
import { need, requireDtype, requireEq, requireMinRank, requireRank } from './checks.js';
import { Op, ShapeContext, ShapeError } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const FLOAT = ['f32', 'f16'] as const;

function fourWide(op: string, t: TensorType | undefined, name: string, arg: number, rank: number, layout: string, ctx: ShapeContext): TensorType {
  const x = need(op, t, name, arg);
  requireRank(op, x, rank, name, arg, layout);
  requireDtype(op, x, FLOAT, name, arg);
  requireEq(ctx, x.shape[rank - 1], 4, `${op}: ${name} must end in 4 (x1, y1, x2, y2 or l, t, r, b), got ${showDim(x.shape[rank - 1])}`, arg);
  return x;
}

function points(op: string, t: TensorType | undefined, arg: number, ctx: ShapeContext): TensorType {
  const p = need(op, t, 'points', arg);
  requireRank(op, p, 2, 'points', arg, 'N, 2');
  requireDtype(op, p, FLOAT, 'points', arg);
  requireEq(ctx, p.shape[1], 2, `${op}: points must be [N, 2] (x, y), got last dim ${showDim(p.shape[1])}`, arg);
  return p;
}

/** IoU without +1; 0 where the intersection is not positive. */
export function iou(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const iw = Math.min(a[i + 2], b[j + 2]) - Math.max(a[i], b[j]);
  const ih = Math.min(a[i + 3], b[j + 3]) - Math.max(a[i + 1], b[j + 1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const union = (a[i + 2] - a[i]) * (a[i + 3] - a[i + 1]) + (b[j + 2] - b[j]) * (b[j + 3] - b[j + 1]) - inter;
  return inter / union;
}

const boxDecode: Op<'box_decode'> = {
  name: 'box_decode', kind: 'broadcast', doc: 'ltrb distances from points to boxes: (x - l, y - t, x + r, y + b)',
  inputs: [{ name: 'points', dtypes: FLOAT }, { name: 'ltrb', dtypes: FLOAT }], attrs: [],
  shape([p, d], _a, ctx) {
    const pt = points('box_decode', p, 0, ctx);
    const lt = fourWide('box_decode', d, 'ltrb', 1, 3, 'B, N, 4', ctx);
    requireEq(ctx, lt.shape[1], pt.shape[0], `box_decode: ltrb has ${showDim(lt.shape[1])} locations but there are ${showDim(pt.shape[0])} points`, 1);
    return [{ dtype: lt.dtype, shape: lt.shape }];
  },
  reference([p, d]) {
    const [B, N] = d!.shape;
    const out = alloc(d!.dtype, d!.shape, usesF64([p, d]));
    for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) {
      const o = (b * N + n) * 4, x = p!.data[n * 2], y = p!.data[n * 2 + 1];
      out.data[o] = x - d!.data[o]; out.data[o + 1] = y - d!.data[o + 1];
      out.data[o + 2] = x + d!.data[o + 2]; out.data[o + 3] = y + d!.data[o + 3];
    }
    return [out];
  },
  flops: (_i, outs) => numel(outs[0].shape),
  // ltrb: g * (-1, -1, 1, 1); points: (g_x1 + g_x2, g_y1 + g_y2) summed over the batch.
  grad(b) {
    const [, d] = b.inputs, g = b.cotOrZero(0), dtype = b.type(d).dtype;
    const signs = b.op('concat', [b.constant(-1, dtype, [2]), b.constant(1, dtype, [2])], { axis: 0 });
    const half = (start: number): number => b.op('slice', [g], { axis: 2, start, end: start + 2, step: 1 });
    return [
      b.needs(0) ? b.op('sum', [b.op('add', [half(0), half(2)])], { axes: [0], keepdims: false }) : undefined,
      b.needs(1) ? b.op('mul', [g, signs]) : undefined,
    ];
  },
};

const boxIou: Op<'box_iou'> = {
  name: 'box_iou', kind: 'opaque', doc: 'pairwise IoU of a: [B, N, 4] and b: [B, M, 4] -> [B, N, M]',
  inputs: [{ name: 'a', dtypes: FLOAT }, { name: 'b', dtypes: FLOAT }], attrs: [],
  shape([a, b], _a, ctx) {
    const ta = fourWide('box_iou', a, 'a', 0, 3, 'B, N, 4', ctx), tb = fourWide('box_iou', b, 'b', 1, 3, 'B, M, 4', ctx);
    requireEq(ctx, tb.shape[0], ta.shape[0], `box_iou: batch sizes differ (${showDim(ta.shape[0])} and ${showDim(tb.shape[0])})`, 1);
    if (ta.dtype !== tb.dtype) throw new ShapeError(`box_iou: operands have different dtypes (${ta.dtype} and ${tb.dtype})`, { arg: 1 });
    return [{ dtype: ta.dtype, shape: [ta.shape[0], ta.shape[1], tb.shape[1]] }];
  },
  reference([a, b]) {
    const [B, N] = a!.shape, M = b!.shape[1];
    const out = alloc(a!.dtype, [B, N, M], usesF64([a, b]));
    for (let bi = 0; bi < B; bi++) for (let i = 0; i < N; i++) for (let j = 0; j < M; j++) {
      out.data[(bi * N + i) * M + j] = iou(a!.data, (bi * N + i) * 4, b!.data, (bi * M + j) * 4);
    }
    return [out];
  },
  flops: (_i, outs) => 12 * numel(outs[0].shape),
  // Pairwise IoU feeds matching quality only (no gradient there in DeFCN); losses use the aligned forms.
  grad: 'none',
};

/** GIoU of aligned boxes: IoU - (enclosing - union) / enclosing, each denominator clamped to eps (as cvpods' GIoU loss). */
export function giou(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, eps: number): number {
  const iw = Math.max(0, Math.min(a[i + 2], b[j + 2]) - Math.max(a[i], b[j]));
  const ih = Math.max(0, Math.min(a[i + 3], b[j + 3]) - Math.max(a[i + 1], b[j + 1]));
  const inter = iw * ih;
  const union = (a[i + 2] - a[i]) * (a[i + 3] - a[i + 1]) + (b[j + 2] - b[j]) * (b[j + 3] - b[j + 1]) - inter;
  const enclose = (Math.max(a[i + 2], b[j + 2]) - Math.min(a[i], b[j])) * (Math.max(a[i + 3], b[j + 3]) - Math.min(a[i + 1], b[j + 1]));
  return inter / Math.max(union, eps) - (enclose - union) / Math.max(enclose, eps);
}

function alignedShape(op: string, a: TensorType | undefined, b: TensorType | undefined, ctx: ShapeContext): TensorType[] {
  const ta = need(op, a, 'a', 0), tb = need(op, b, 'b', 1);
  requireMinRank(op, ta, 1, 'a', 0);
  fourWide(op, ta, 'a', 0, ta.shape.length, '..., 4', ctx);
  fourWide(op, tb, 'b', 1, ta.shape.length, 'the same shape as a', ctx);
  if (ta.dtype !== tb.dtype) throw new ShapeError(`${op}: operands have different dtypes (${ta.dtype} and ${tb.dtype})`, { arg: 1 });
  ta.shape.forEach((d, i) => requireEq(ctx, tb.shape[i], d, `${op}: a and b must have the same shape, dim ${i} is ${showDim(d)} vs ${showDim(tb.shape[i])}`, 1));
  return [{ dtype: ta.dtype, shape: ta.shape.slice(0, -1) }];
}

const boxIouAligned: Op<'box_iou_aligned'> = {
  name: 'box_iou_aligned', kind: 'broadcast', doc: 'IoU of aligned boxes a[..., 4] and b[..., 4] -> [...]',
  inputs: [{ name: 'a', dtypes: FLOAT }, { name: 'b', dtypes: FLOAT }], attrs: [],
  shape([a, b], _a, ctx) { return alignedShape('box_iou_aligned', a, b, ctx); },
  reference([a, b]) {
    const out = alloc(a!.dtype, a!.shape.slice(0, -1), usesF64([a, b]));
    for (let i = 0; i < out.data.length; i++) out.data[i] = iou(a!.data, i * 4, b!.data, i * 4);
    return [out];
  },
  flops: (_i, outs) => 12 * numel(outs[0].shape),
  grad: (b) => alignedGrad(b, false),
};

function pointsVsBoxes(op: string, p: TensorType | undefined, bx: TensorType | undefined, boxArg: number, ctx: ShapeContext): TensorType[] {
  const pt = points(op, p, 0, ctx);
  const bt = fourWide(op, bx, 'boxes', boxArg, 3, 'B, G, 4', ctx);
  return [{ dtype: 'bool', shape: [bt.shape[0], bt.shape[1], pt.shape[0]] }];
}

/** Writes out[b, g, n] = inside(point n, box (b, g), half-width r(n)) for every triple. */
function pointBoxMask(p: Tensor, boxes: Tensor, region: (n: number, box: number[]) => number[] | null): Tensor {
  const [B, G] = boxes.shape, N = p.shape[0];
  const out = alloc('bool', [B, G, N], false);
  for (let b = 0; b < B; b++) for (let g = 0; g < G; g++) {
    const o = (b * G + g) * 4;
    const box = [boxes.data[o], boxes.data[o + 1], boxes.data[o + 2], boxes.data[o + 3]];
    for (let n = 0; n < N; n++) {
      const r = region(n, box);
      if (r === null) continue;
      const x = p.data[n * 2], y = p.data[n * 2 + 1];
      out.data[(b * G + g) * N + n] = x > r[0] && y > r[1] && x < r[2] && y < r[3] ? 1 : 0;
    }
  }
  return out;
}

const insideBox: Op<'inside_box'> = {
  name: 'inside_box', kind: 'opaque', doc: 'points: [N, 2] strictly inside boxes: [B, G, 4] -> bool[B, G, N]',
  inputs: [{ name: 'points', dtypes: FLOAT }, { name: 'boxes', dtypes: FLOAT }], attrs: [],
  shape([p, b], _a, ctx) { return pointsVsBoxes('inside_box', p, b, 1, ctx); },
  reference([p, b]) { return [pointBoxMask(p!, b!, (_n, box) => box)]; },
  flops: (_i, outs) => 4 * numel(outs[0].shape),
  grad: 'none',
};

const centerPrior: Op<'center_prior'> = {
  name: 'center_prior', kind: 'opaque',
  doc: 'FCOS centre region: strictly inside [c - radius*stride, c + radius*stride] clipped to the box; radius 0 = strictly inside the box',
  inputs: [{ name: 'points', dtypes: FLOAT }, { name: 'strides', dtypes: FLOAT }, { name: 'boxes', dtypes: FLOAT }],
  attrs: [{ name: 'radius', type: 'float', default: 1.5 }],
  shape([p, s, b], attrs, ctx) {
    const out = pointsVsBoxes('center_prior', p, b, 2, ctx);
    const st = need('center_prior', s, 'strides', 1);
    requireRank('center_prior', st, 1, 'strides', 1, 'one stride per point');
    requireEq(ctx, st.shape[0], p!.shape[0], `center_prior: ${showDim(st.shape[0])} strides for ${showDim(p!.shape[0])} points`, 1);
    const r = floatAttr('center_prior', attrs, 'radius');
    if (!(r >= 0)) throw new ShapeError(`center_prior: radius must be >= 0, got ${r}`);
    return out;
  },
  reference([p, s, b], attrs) {
    const radius = floatAttr('center_prior', attrs, 'radius');
    return [pointBoxMask(p!, b!, (n, box) => {
      if (radius === 0) return box;
      const r = radius * s!.data[n];
      const cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;
      return [Math.max(cx - r, box[0]), Math.max(cy - r, box[1]), Math.min(cx + r, box[2]), Math.min(cy + r, box[3])];
    })];
  },
  flops: (_i, outs) => 8 * numel(outs[0].shape),
  grad: 'none',
};

const boxGiouAligned: Op<'box_giou_aligned'> = {
  name: 'box_giou_aligned', kind: 'broadcast',
  doc: 'generalised IoU of aligned boxes a[..., 4] and b[..., 4] -> [...], in [-1, 1]; the union and enclosing-area denominators clamped to eps (the GIoU loss is 1 - this)',
  inputs: [{ name: 'a', dtypes: FLOAT }, { name: 'b', dtypes: FLOAT }],
  attrs: [{ name: 'eps', type: 'float', default: 1e-7 }],
  shape([a, b], attrs, ctx) {
    floatAttr('box_giou_aligned', attrs, 'eps');
    return alignedShape('box_giou_aligned', a, b, ctx);
  },
  reference([a, b], attrs) {
    const eps = floatAttr('box_giou_aligned', attrs, 'eps');
    const out = alloc(a!.dtype, a!.shape.slice(0, -1), usesF64([a, b]));
    for (let i = 0; i < out.data.length; i++) out.data[i] = giou(a!.data, i * 4, b!.data, i * 4, eps);
    return [out];
  },
  flops: (_i, outs) => 20 * numel(outs[0].shape),
  grad: (b) => alignedGrad(b, true),
};

export const BOX_OPS = [boxDecode, boxIou, boxIouAligned, boxGiouAligned, insideBox, centerPrior] as const;
