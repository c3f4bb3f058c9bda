// The kernels of the box ops (boxes.ts), each output element from a few
// inputs: box decoding, IoU/GIoU (pairwise or aligned) and point-in-box
// masks. Formulas follow the references in boxes.ts.
import { GNode } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { add, bin, div, f32, idx, max as fmax, min as fmin, mul, sel, sub } from '../kernel/build.js';
import { Emitter } from '../schedule/emit.js';
import { numberAttrOr } from './attrs.js';
import type { BOX_OPS } from './boxes.js';
import { OpNameOf, perElement } from './op.js';

/** The four coordinates of box `lead` of input i (its last dim is 4), each bound once. */
function box(em: Emitter, node: GNode, i: number, lead: readonly Expr[]): Expr[] {
  return [0, 1, 2, 3].map((c) => em.bind(em.input(node, i, [...lead, idx(c)])));
}

function iouOf(em: Emitter, a: Expr[], b: Expr[]): Expr {
  const iw = em.bind(sub(fmin(a[2], b[2]), fmax(a[0], b[0])));
  const ih = em.bind(sub(fmin(a[3], b[3]), fmax(a[1], b[1])));
  const inter = em.bind(mul(iw, ih));
  const union = sub(add(mul(sub(a[2], a[0]), sub(a[3], a[1])), mul(sub(b[2], b[0]), sub(b[3], b[1]))), inter);
  return sel(bin('and', bin('gt', iw, f32(0)), bin('gt', ih, f32(0))), div(inter, union), f32(0));
}

/** Strictly inside [x1, y1, x2, y2]. */
function inside(x: Expr, y: Expr, r: Expr[]): Expr {
  return bin('and', bin('and', bin('gt', x, r[0]), bin('gt', y, r[1])), bin('and', bin('lt', x, r[2]), bin('lt', y, r[3])));
}

export const BOX_KERNELS = perElement<OpNameOf<typeof BOX_OPS>>({
  box_decode: (em, node, out) => {
    // out = [b, n, c]; points [N, 2]
    const c = out[2];
    const d = em.bind(em.input(node, 1, out));
    const isY = bin('eq', bin('mod', c, idx(2)), idx(1));
    const p = em.bind(em.input(node, 0, [out[1], sel(isY, idx(1), idx(0))]));
    return sel(bin('lt', c, idx(2)), sub(p, d), add(p, d));
  },
  box_iou: (em, node, out) => iouOf(em, box(em, node, 0, [out[0], out[1]]), box(em, node, 1, [out[0], out[2]])),
  box_iou_aligned: (em, node, out) => iouOf(em, box(em, node, 0, out), box(em, node, 1, out)),
  box_giou_aligned: (em, node, out) => {
    const a = box(em, node, 0, out), b = box(em, node, 1, out);
    const eps = f32(numberAttrOr(node.attrs, 'eps', 1e-7));
    const iw = fmax(f32(0), sub(fmin(a[2], b[2]), fmax(a[0], b[0])));
    const ih = fmax(f32(0), sub(fmin(a[3], b[3]), fmax(a[1], b[1])));
    const inter = em.bind(mul(iw, ih));
    const union = em.bind(sub(add(mul(sub(a[2], a[0]), sub(a[3], a[1])), mul(sub(b[2], b[0]), sub(b[3], b[1]))), inter));
    const enclose = em.bind(mul(sub(fmax(a[2], b[2]), fmin(a[0], b[0])), sub(fmax(a[3], b[3]), fmin(a[1], b[1]))));
    return sub(div(inter, fmax(union, eps)), div(sub(enclose, union), fmax(enclose, eps)));
  },
  inside_box: (em, node, out) => {
    const x = em.bind(em.input(node, 0, [out[2], idx(0)])), y = em.bind(em.input(node, 0, [out[2], idx(1)]));
    return inside(x, y, box(em, node, 1, [out[0], out[1]]));
  },
  center_prior: (em, node, out) => {
    const x = em.bind(em.input(node, 0, [out[2], idx(0)])), y = em.bind(em.input(node, 0, [out[2], idx(1)]));
    const b = box(em, node, 2, [out[0], out[1]]);
    const radius = numberAttrOr(node.attrs, 'radius', 1.5);
    if (radius === 0) return inside(x, y, b);
    const r = em.bind(mul(f32(radius), em.input(node, 1, [out[2]])));
    const cx = em.bind(div(add(b[0], b[2]), f32(2))), cy = em.bind(div(add(b[1], b[3]), f32(2)));
    return inside(x, y, [fmax(sub(cx, r), b[0]), fmax(sub(cy, r), b[1]), fmin(add(cx, r), b[2]), fmin(add(cy, r), b[3])]);
  },
});
