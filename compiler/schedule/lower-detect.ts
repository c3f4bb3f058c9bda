// Kernel lowerings of the detection ops that compute one output element from
// a few inputs: box decoding, IoU/GIoU (pairwise or aligned), point-in-box
// masks, and the per-element losses. Formulas follow compiler/ops/boxes.ts
// and compiler/ops/loss.ts.
import { Expr } from '../kernel/ir.js';
import { bin, f32, idx, sel, un } from '../kernel/build.js';
import { Emitter, Lowering } from './emit.js';
import { broadcastAt } from './lower-elementwise.js';
import { GNode } from '../graph.js';

const add = (a: Expr, b: Expr): Expr => bin('add', a, b);
const sub = (a: Expr, b: Expr): Expr => bin('sub', a, b);
const mul = (a: Expr, b: Expr): Expr => bin('mul', a, b);
const div = (a: Expr, b: Expr): Expr => bin('div', a, b);
const fmax = (a: Expr, b: Expr): Expr => bin('max', a, b);
const fmin = (a: Expr, b: Expr): Expr => bin('min', a, b);

/** The four coordinates of box `lead` of input i (its last dim is 4), each bound once. */
function box(em: Emitter, node: GNode, i: number, lead: readonly Expr[]): Expr[] {
  return [0, 1, 2, 3].map((c) => em.bind(em.input(node, i, [...lead, idx(c)])));
}

export function iouOf(em: Emitter, a: Expr[], b: Expr[]): Expr {
  const iw = em.bind(sub(fmin(a[2], b[2]), fmax(a[0], b[0])));
  const ih = em.bind(sub(fmin(a[3], b[3]), fmax(a[1], b[1])));
  const inter = em.bind(mul(iw, ih));
  const union = sub(add(mul(sub(a[2], a[0]), sub(a[3], a[1])), mul(sub(b[2], b[0]), sub(b[3], b[1]))), inter);
  return sel(bin('and', bin('gt', iw, f32(0)), bin('gt', ih, f32(0))), div(inter, union), f32(0));
}

function numAttr(node: GNode, name: string, fallback: number): number {
  const v = node.attrs[name];
  return typeof v === 'number' ? v : fallback;
}

/** Strictly inside [x1, y1, x2, y2]. */
function inside(x: Expr, y: Expr, r: Expr[]): Expr {
  return bin('and', bin('and', bin('gt', x, r[0]), bin('gt', y, r[1])), bin('and', bin('lt', x, r[2]), bin('lt', y, r[3])));
}

/** log(1 + exp(-|x|)) + max(x, 0) - x t: BCE on logits, computed stably. */
function bceLogits(x: Expr, t: Expr): Expr {
  return add(sub(fmax(x, f32(0)), mul(x, t)), un('log', add(f32(1), un('exp', un('neg', un('abs', x))))));
}

function lossOperands(em: Emitter, node: GNode, out: readonly Expr[]): [Expr, Expr] {
  return [em.bind(em.input(node, 0, broadcastAt(em.inShape(node, 0), out))), em.bind(em.input(node, 1, broadcastAt(em.inShape(node, 1), out)))];
}

export const DETECT_LOWERINGS = {
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
    const eps = f32(numAttr(node, 'eps', 1e-7));
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
    const radius = numAttr(node, 'radius', 1.5);
    if (radius === 0) return inside(x, y, b);
    const r = em.bind(mul(f32(radius), em.input(node, 1, [out[2]])));
    const cx = em.bind(div(add(b[0], b[2]), f32(2))), cy = em.bind(div(add(b[1], b[3]), f32(2)));
    return inside(x, y, [fmax(sub(cx, r), b[0]), fmax(sub(cy, r), b[1]), fmin(add(cx, r), b[2]), fmin(add(cy, r), b[3])]);
  },
  bce_with_logits: (em, node, out) => bceLogits(...lossOperands(em, node, out)),
  bce: (em, node, out) => {
    const [p, t] = lossOperands(em, node, out);
    const lp = fmax(un('log', p), f32(-100)), lq = fmax(un('log', sub(f32(1), p)), f32(-100));
    return un('neg', add(mul(t, lp), mul(sub(f32(1), t), lq)));
  },
  sigmoid_focal_loss: (em, node, out) => {
    const [x, t] = lossOperands(em, node, out);
    const alpha = numAttr(node, 'alpha', 0.25), gamma = numAttr(node, 'gamma', 2);
    const p = em.bind(div(f32(1), add(f32(1), un('exp', un('neg', x)))));
    const pt = em.bind(add(mul(p, t), mul(sub(f32(1), p), sub(f32(1), t))));
    const loss = mul(bceLogits(x, t), bin('pow', sub(f32(1), pt), f32(gamma)));
    return alpha >= 0 ? mul(loss, add(mul(f32(alpha), t), mul(f32(1 - alpha), sub(f32(1), t)))) : loss;
  },
} satisfies Record<string, Lowering>;
