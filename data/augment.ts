// The geometric side of training augmentation: how big an image becomes and
// where its boxes go. Pure functions on numbers, so the loader's pixel work
// and these box transforms can be checked against each other and by hand.
//
// Boxes are continuous corners x1, y1, x2, y2 (a COCO bbox x, y, w, h is
// x1 = x, x2 = x + w), so a box covering pixel columns a..b is [a, b + 1).
// Resizing maps them by the ratio of the integer sizes actually produced
// (new / old per axis), a horizontal flip maps x to W − x, and clipping is to
// [0, W] × [0, H].
import type { Rng } from './scenes/rng.js';
import type { Tensor } from '../compiler/tensor.js';

export interface ResizePlan {
  /** Resized width and height (what the pixels will be). */
  readonly width: number;
  readonly height: number;
  /** new / old per axis: box coordinates multiply by these. */
  readonly sx: number;
  readonly sy: number;
}

/**
 * The resize that makes the short side `shortSide` unless the long side would
 * then exceed `maxSize`, in which case the long side becomes `maxSize`
 * (detectron2's ResizeShortestEdge, which the DeFCN code trains with).
 */
export function planResize(width: number, height: number, shortSide: number, maxSize: number): ResizePlan {
  let scale = shortSide / Math.min(width, height);
  if (Math.max(width, height) * scale > maxSize) scale = maxSize / Math.max(width, height);
  const w = Math.max(1, Math.floor(width * scale + 0.5)), h = Math.max(1, Math.floor(height * scale + 0.5));
  return { width: w, height: h, sx: w / width, sy: h / height };
}

/** A short side drawn uniformly from the list (the multi-scale training choice). */
export function drawShortSide(sides: readonly number[], rng: Rng): number {
  if (sides.length === 0) throw new Error('drawShortSide: empty list of sizes');
  return sides.length === 1 ? sides[0]! : sides[Math.floor(rng.next() * sides.length)]!;
}

/** `lo, lo + step, …, hi`, e.g. 640..800 step 32 (hi included when on the grid). */
export function sizeRange(lo: number, hi: number, step: number): number[] {
  const out: number[] = [];
  for (let s = lo; s <= hi; s += step) out.push(s);
  return out;
}

export interface BoxSet {
  /** n × (x1, y1, x2, y2). */
  readonly boxes: Float32Array;
  /** n class indices. */
  readonly classes: Int32Array;
}

/**
 * Resizes, optionally flips, clips to the resized image and drops boxes left
 * with no width or height. Classes follow their boxes.
 */
export function transformBoxes(src: BoxSet, plan: ResizePlan, flip: boolean): BoxSet {
  const n = src.classes.length;
  const boxes = new Float32Array(4 * n), classes = new Int32Array(n);
  const W = plan.width, H = plan.height;
  let k = 0;
  for (let i = 0; i < n; i++) {
    let x1 = src.boxes[4 * i]! * plan.sx, x2 = src.boxes[4 * i + 2]! * plan.sx;
    let y1 = src.boxes[4 * i + 1]! * plan.sy, y2 = src.boxes[4 * i + 3]! * plan.sy;
    if (flip) { const t = W - x2; x2 = W - x1; x1 = t; }
    x1 = Math.min(W, Math.max(0, x1)); x2 = Math.min(W, Math.max(0, x2));
    y1 = Math.min(H, Math.max(0, y1)); y2 = Math.min(H, Math.max(0, y2));
    if (!(x2 > x1 && y2 > y1)) continue;
    boxes[4 * k] = x1; boxes[4 * k + 1] = y1; boxes[4 * k + 2] = x2; boxes[4 * k + 3] = y2;
    classes[k++] = src.classes[i]!;
  }
  return { boxes: boxes.slice(0, 4 * k), classes: classes.slice(0, k) };
}

/** Rounds up to a multiple of `divisor` (the largest stride), so every FPN level divides evenly. */
export function padTo(n: number, divisor: number): number {
  return Math.ceil(n / divisor) * divisor;
}

/**
 * Normalised CHW images of their own sizes, zero-padded into one
 * [B, 3, H, W] batch (top-left aligned). A lone image of exactly that size
 * is the batch itself, not a copy: fresh memory costs its page faults on a
 * virtual machine (native/cpu_addon.cc), ~1.2 MB and 1-4 ms per 320 × 320
 * image here, and the runtimes only read their inputs.
 */
export function padChwBatch(images: readonly { chw: Float32Array; width: number; height: number }[], B: number, H: number, W: number): Float32Array {
  if (B === 1 && images.length === 1 && images[0].width === W && images[0].height === H && images[0].chw.length === 3 * H * W) return images[0].chw;
  const data = new Float32Array(B * 3 * H * W);
  images.forEach((p, b) => {
    for (let c = 0; c < 3; c++) for (let y = 0; y < p.height; y++) {
      const src = (c * p.height + y) * p.width;
      data.set(p.chw.subarray(src, src + p.width), ((b * 3 + c) * H + y) * W);
    }
  });
  return data;
}

/** A resized, normalised CHW image and the size it was resized from (boxes map back by origW / width). */
export interface PreparedImage { chw: Float32Array; width: number; height: number; origW: number; origH: number }

/**
 * Images into one zero-padded [B, 3, H, W] batch (padChwBatch) and its info
 * rows [B, 4] (scale_x, scale_y, width, height: what the detector programs
 * rescale their boxes by): sides padded up to a multiple of `divisor`, or to
 * `fixed` (a program file's input; the caller checks each image fits), whose
 * rows past the images describe a 1×1 image with nothing to rescale.
 */
export function padImageBatch(items: readonly PreparedImage[], opts: { divisor?: number; fixed?: { batch: number; height: number; width: number } } = {}): { image: Tensor; info: Tensor } {
  const divisor = opts.divisor ?? 32, fixed = opts.fixed;
  const H = fixed?.height ?? padTo(Math.max(...items.map((p) => p.height)), divisor);
  const W = fixed?.width ?? padTo(Math.max(...items.map((p) => p.width)), divisor);
  const B = fixed?.batch ?? items.length;
  const info = new Float32Array(B * 4);
  items.forEach((p, b) => info.set([p.origW / p.width, p.origH / p.height, p.origW, p.origH], b * 4));
  for (let b = items.length; b < B; b++) info.set([1, 1, 1, 1], b * 4);
  return { image: { dtype: 'f32', shape: [B, 3, H, W], data: padChwBatch(items, B, H, W) }, info: { dtype: 'f32', shape: [B, 4], data: info } };
}

/** Box slots per image in a batch: the next power of two ≥ max(8, count), so compiled shapes repeat. */
export function gtBucket(count: number): number {
  let g = 8;
  while (g < count) g *= 2;
  return g;
}
