// Batched, class-aware greedy NMS with padded outputs; its kernel is nms.kernel.ts.
import { Dim, showDim } from '../dims.js';
import { dimAttr, floatAttr, intAttr } from './attrs.js';
import { need, requireAtLeast, requireDtype, requireEq, requireRank } from './checks.js';
import { Op, ShapeError } from './op.js';
import { alloc } from './tensors.js';

const nms: Op<'nms'> = {
  name: 'nms', kind: 'opaque',
  doc: 'class-aware NMS per image, as torchvision.ops.batched_nms: (keep i32[B, max_out] padded with -1, count i32[B]); a box is suppressed by a kept box of its class with IoU > iou_threshold',
  inputs: [{ name: 'boxes', dtypes: ['f32', 'f16'] }, { name: 'scores', dtypes: ['f32', 'f16'] }, { name: 'classes', dtypes: ['i32'] }],
  attrs: [
    { name: 'iou_threshold', type: 'float', default: 0.6 },
    { name: 'max_out', type: 'int', default: 100 },
    { name: 'score_threshold', type: 'float', default: -Infinity, doc: 'only scores strictly above it are kept' },
  ],
  shape([bx, sc, cl], attrs, ctx) {
    const op = 'nms';
    const tb = need(op, bx, 'boxes', 0), ts = need(op, sc, 'scores', 1), tc = need(op, cl, 'classes', 2);
    requireRank(op, tb, 3, 'boxes', 0, 'B, N, 4');
    requireDtype(op, tb, ['f32', 'f16'], 'boxes', 0);
    requireEq(ctx, tb.shape[2], 4, `${op}: boxes must be [B, N, 4], got last dim ${showDim(tb.shape[2])}`, 0);
    requireRank(op, ts, 2, 'scores', 1, 'B, N');
    requireDtype(op, ts, ['f32', 'f16'], 'scores', 1);
    requireRank(op, tc, 2, 'classes', 2, 'B, N');
    requireDtype(op, tc, ['i32'], 'classes', 2);
    for (const [t, name, arg] of [[ts, 'scores', 1], [tc, 'classes', 2]] as const) {
      requireEq(ctx, t.shape[0], tb.shape[0], `${op}: ${name} has batch ${showDim(t.shape[0])} but boxes has ${showDim(tb.shape[0])}`, arg);
      requireEq(ctx, t.shape[1], tb.shape[1], `${op}: ${name} has ${showDim(t.shape[1])} entries per image but boxes has ${showDim(tb.shape[1])}`, arg);
    }
    const maxOut: Dim = dimAttr(op, attrs, 'max_out');
    requireAtLeast(ctx, maxOut, 1, `${op}: max_out = ${showDim(maxOut)} must be at least 1`);
    const thr = floatAttr(op, attrs, 'iou_threshold');
    if (Number.isNaN(thr)) throw new ShapeError(`${op}: iou_threshold must be a number`);
    floatAttr(op, attrs, 'score_threshold');
    return [{ dtype: 'i32', shape: [tb.shape[0], maxOut] }, { dtype: 'i32', shape: [tb.shape[0]] }];
  },
  // torchvision.ops.batched_nms (its coordinate-trick path) in f32: IoU on
  // box + class · (max coordinate + 1), torchvision's order of operations,
  // the f32 IoU compared with the double threshold; kept in (score
  // descending, index ascending) order, truncated to max_out.
  reference([bx, sc, cl], attrs) {
    const thr = floatAttr('nms', attrs, 'iou_threshold'), minScore = floatAttr('nms', attrs, 'score_threshold');
    const maxOut = intAttr('nms', attrs, 'max_out');
    const [B, N] = sc!.shape;
    const f = Math.fround;
    const keep = alloc('i32', [B, maxOut], false), count = alloc('i32', [B], false);
    keep.data.fill(-1);
    for (let b = 0; b < B; b++) {
      const s = (i: number): number => sc!.data[b * N + i];
      const c = (i: number): number => cl!.data[b * N + i];
      let maxCoord = -Infinity;
      for (let e = 0; e < N * 4; e++) maxCoord = Math.max(maxCoord, bx!.data[b * N * 4 + e]);
      const unit = f(maxCoord + 1);
      const box = (i: number): number[] => {
        const o = f(c(i) * unit);
        return [0, 1, 2, 3].map((k) => f(bx!.data[(b * N + i) * 4 + k] + o));
      };
      const area = (p: number[]): number => f(f(p[2] - p[0]) * f(p[3] - p[1]));
      const order = [...Array(N).keys()].filter((i) => s(i) > minScore).sort((i, j) => s(j) - s(i) || i - j);
      const kept: number[] = [];
      const removed = new Uint8Array(N);
      for (const i of order) {
        if (kept.length === maxOut) break;
        if (removed[i]) continue;
        kept.push(i);
        const p = box(i), pa = area(p);
        for (const j of order) {
          if (removed[j] || j === i || c(j) !== c(i)) continue;
          const q = box(j);
          const w = Math.max(0, f(Math.min(p[2], q[2]) - Math.max(p[0], q[0])));
          const h = Math.max(0, f(Math.min(p[3], q[3]) - Math.max(p[1], q[1])));
          const inter = f(w * h);
          if (f(inter / f(f(pa + area(q)) - inter)) > thr) removed[j] = 1;
        }
      }
      kept.forEach((k, r) => { keep.data[b * maxOut + r] = k; });
      count.data[b] = kept.length;
    }
    return [keep, count];
  },
  // The bitmask kernel (nms.kernel.ts): a merge sort (one compare per row per pass), then at most
  // the IoU of every pair of candidates (12 FLOPs each, an upper bound: only a kept box and a
  // later box of its class not yet removed take the IoU, and a class stops at max_out kept);
  // the scan's word ORs are not counted.
  flops(ins) {
    const [b, n] = ins[1]!.shape;
    const lg = Math.ceil(Math.log2(Math.max(2, n)));
    return b * n * lg + b * ((n * (n - 1)) / 2) * 12;
  },
  grad: 'none',
};

export const NMS_OPS = [nms] as const;
