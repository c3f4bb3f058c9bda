// The training loader: shuffles, resizes (short side drawn from a list, long
// side capped), flips, normalises, pads each batch to a multiple of the
// largest stride and transforms the boxes with the pixels (data/augment.ts).
//
// Deterministic by seed whatever the timing: the epoch's order comes from
// stream (seed, epoch) and each sample's augmentation from its own stream
// (seed, epoch, position), so prefetching cannot change a batch. Decoding
// runs on sharp's threads; up to `prefetch` batches are prepared while the
// consumer works on the current one (a bounded queue).
//
// Training data rules (shared/DEFCN.md): crowd boxes dropped (not ignore
// regions), empty boxes dropped after clipping, images without a box skipped.
import { isAbsolute, join } from 'node:path';
import { drawShortSide, gtBucket, padTo, planResize, transformBoxes, type BoxSet } from './augment.js';
import type { CocoDataset } from './coco.js';
import { imageSize, readResized } from './image.js';
import { Rng } from './scenes/rng.js';

/** What the loader needs of a dataset; data/coco.ts's reader is adapted to it by `fromCoco`. */
export interface LoaderDataset {
  readonly images: readonly { readonly id: number; readonly file: string; readonly width: number; readonly height: number }[];
  /**
   * Boxes as x1, y1, x2, y2 in the original image's pixels, classes as
   * 0-based model class indices; `crowd[i] ≠ 0` marks a crowd box.
   */
  boxesOf(imageId: number): { boxes: Float32Array; classes: Int32Array; crowd?: Uint8Array };
}

export interface LoaderOptions {
  batchSize: number;
  /** Short sides to draw from, e.g. sizeRange(640, 800, 32); one value for testing. */
  shortSides: readonly number[];
  maxSize: number;
  /** Mirror with probability 1/2. */
  flip: boolean;
  /** Per channel, on the 0..1 scale: value = (v/255 − mean) / std. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  seed: number;
  /** Image files are relative to this folder (unless absolute). */
  imageRoot?: string;
  /** Batch sides are padded to a multiple of this (the largest stride). Default 32. */
  sizeDivisor?: number;
  /** Default true; false keeps the dataset's order (evaluation). */
  shuffle?: boolean;
  /** Batches prepared ahead of the consumer. Default 2. */
  prefetch?: number;
  /** Drop an epoch's last, short batch. Default false. */
  dropLast?: boolean;
  /**
   * Keep images without a usable box (gtCount 0). Default false: training
   * skips them (DEFCN.md); evaluation must see every image.
   */
  keepEmpty?: boolean;
}

export interface Batch {
  /** B × 3 × H × W, normalised; padding is 0. */
  readonly images: Float32Array;
  readonly shape: readonly [number, 3, number, number];
  /** B × G × 4 (x1, y1, x2, y2 in the resized, possibly flipped image); unused slots 0. */
  readonly gtBoxes: Float32Array;
  /** B × G; unused slots −1. */
  readonly gtClasses: Int32Array;
  readonly gtCount: Int32Array;
  /** G: the per-image box slots, a power of two ≥ 8. */
  readonly maxBoxes: number;
  readonly imageIds: readonly number[];
  /** B × 2: (sx, sy) = resized / original, to map predictions back. */
  readonly scales: Float32Array;
  /** B × 2: (height, width) of each resized image inside the padded batch. */
  readonly imageSizes: Int32Array;
  readonly flipped: readonly boolean[];
}

/** ImageNet statistics on the 0..1 scale, the usual choice for pretrained backbones. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

interface Sample { id: number; path: string; width: number; height: number; boxes: BoxSet }

export class Loader {
  /** Images kept for training (with at least one usable box). */
  readonly samples: readonly Sample[];
  /** Images skipped because no non-crowd, non-empty box was left (0 with keepEmpty). */
  readonly skipped: number;
  private readonly opts: Required<Omit<LoaderOptions, 'imageRoot'>> & { imageRoot?: string };

  constructor(dataset: LoaderDataset, opts: LoaderOptions) {
    if (!(opts.batchSize >= 1)) throw new RangeError(`batchSize must be ≥ 1, got ${opts.batchSize}`);
    this.opts = { sizeDivisor: 32, shuffle: true, prefetch: 2, dropLast: false, keepEmpty: false, ...opts };
    const samples: Sample[] = [];
    let skipped = 0;
    for (const im of dataset.images) {
      const boxes = usableBoxes(dataset.boxesOf(im.id));
      if (boxes.classes.length === 0 && !this.opts.keepEmpty) { skipped++; continue; }
      const path = isAbsolute(im.file) || !opts.imageRoot ? im.file : join(opts.imageRoot, im.file);
      samples.push({ id: im.id, path, width: im.width, height: im.height, boxes });
    }
    this.samples = samples;
    this.skipped = skipped;
  }

  /** Batches in one epoch. */
  batchesPerEpoch(): number {
    const n = this.samples.length / this.opts.batchSize;
    return this.opts.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The sample indices of each batch of an epoch (order only; no pixels). */
  plan(epoch: number): number[][] {
    const order = this.samples.map((_, i) => i);
    if (this.opts.shuffle) new Rng(this.opts.seed, 2 * epoch + 1).shuffle(order);
    const out: number[][] = [];
    for (let i = 0; i < order.length; i += this.opts.batchSize) {
      const b = order.slice(i, i + this.opts.batchSize);
      if (b.length < this.opts.batchSize && this.opts.dropLast) break;
      out.push(b);
    }
    return out;
  }

  /** One epoch's batches, prefetched. */
  epoch(epoch: number): AsyncGenerator<Batch> {
    return this.prefetched(this.plan(epoch).map((indices, b) => ({ epoch, position: b * this.opts.batchSize, indices })));
  }

  /** Epoch after epoch, from `startEpoch`, without end: the training loop counts iterations. */
  async *stream(startEpoch = 0): AsyncGenerator<Batch> {
    if (this.samples.length === 0) throw new RangeError('the loader has no images with boxes');
    for (let e = startEpoch; ; e++) yield* this.epoch(e);
  }

  /** Builds one batch now (no queue): what `epoch` yields at that place. */
  async batch(epoch: number, position: number, indices: readonly number[]): Promise<Batch> {
    const o = this.opts;
    // The shuffle uses stream 2·epoch + 1 of the seed; augmentation draws from
    // a seed of its own per epoch, one stream per place in the epoch.
    const epochSeed = new Rng(o.seed, 2 * epoch + 2).u32();
    const parts = await Promise.all(indices.map(async (si, k) => {
      const s = this.samples[si]!;
      const rng = new Rng(epochSeed, position + k);
      const plan = planResize(s.width, s.height, drawShortSide(o.shortSides, rng), o.maxSize);
      const flip = o.flip && rng.next() < 0.5;
      const img = await readResized(s.path, plan.width, plan.height, flip, { width: s.width, height: s.height });
      return { s, plan, flip, img, boxes: transformBoxes(s.boxes, plan, flip) };
    }));
    const B = parts.length;
    const H = padTo(Math.max(...parts.map((p) => p.plan.height)), o.sizeDivisor);
    const W = padTo(Math.max(...parts.map((p) => p.plan.width)), o.sizeDivisor);
    const G = gtBucket(Math.max(...parts.map((p) => p.boxes.classes.length)));
    const images = new Float32Array(B * 3 * H * W);
    const gtBoxes = new Float32Array(B * G * 4), gtClasses = new Int32Array(B * G).fill(-1), gtCount = new Int32Array(B);
    const scales = new Float32Array(B * 2), imageSizes = new Int32Array(B * 2);
    parts.forEach((p, b) => {
      const { width: w, height: h, data } = p.img;
      for (let c = 0; c < 3; c++) {
        const scale = 1 / (255 * o.std[c]!), shift = o.mean[c]! / o.std[c]!;
        const plane = (b * 3 + c) * H * W;
        for (let y = 0; y < h; y++) {
          const row = plane + y * W, src = y * w * 3 + c;
          for (let x = 0; x < w; x++) images[row + x] = data[src + 3 * x]! * scale - shift;
        }
      }
      const n = p.boxes.classes.length;
      gtBoxes.set(p.boxes.boxes, b * G * 4);
      gtClasses.set(p.boxes.classes, b * G);
      gtCount[b] = n;
      scales[2 * b] = p.plan.sx; scales[2 * b + 1] = p.plan.sy;
      imageSizes[2 * b] = h; imageSizes[2 * b + 1] = w;
    });
    return {
      images, shape: [B, 3, H, W], gtBoxes, gtClasses, gtCount, maxBoxes: G,
      imageIds: parts.map((p) => p.s.id), scales, imageSizes, flipped: parts.map((p) => p.flip),
    };
  }

  private async *prefetched(jobs: { epoch: number; position: number; indices: number[] }[]): AsyncGenerator<Batch> {
    const depth = Math.max(1, this.opts.prefetch);
    const queue: Promise<Batch>[] = [];
    let next = 0;
    const fill = () => {
      while (queue.length < depth && next < jobs.length) {
        const j = jobs[next++]!;
        const p = this.batch(j.epoch, j.position, j.indices);
        // A failure is reported when the consumer reaches this batch, not as an unhandled rejection.
        p.catch(() => undefined);
        queue.push(p);
      }
    };
    fill();
    while (queue.length) {
      const b = await queue.shift()!;
      fill();
      yield b;
    }
  }
}

/**
 * A COCO dataset (data/coco.ts) as the loader sees it: classes are the
 * categories' ranks by ascending id (sparse COCO ids 1..90 become 0..79, as
 * detectron2 maps them); `iscrowd` and `ignore` boxes are marked crowd.
 * Images whose file does not give width/height have their header read.
 */
export async function fromCoco(ds: CocoDataset, imageRoot: string): Promise<LoaderDataset & { classNames: string[] }> {
  const byId = ds.categories.map((c, i) => ({ id: c.id, i, name: c.name })).sort((a, b) => a.id - b.id);
  const classOfIndex = new Int32Array(ds.categories.length);
  byId.forEach((c, rank) => { classOfIndex[c.i] = rank; });
  const images = await Promise.all(ds.images.map(async (im) => {
    const file = isAbsolute(im.fileName) ? im.fileName : join(imageRoot, im.fileName);
    const size = im.width > 0 && im.height > 0 ? { width: im.width, height: im.height } : await imageSize(file);
    return { id: im.id, file, ...size };
  }));
  const a = ds.annotations;
  return {
    images,
    classNames: byId.map((c) => c.name),
    boxesOf(imageId: number) {
      const ii = ds.imageIndexOf(imageId);
      const [start, end] = ii < 0 ? [0, 0] : ds.annotationRange(ii);
      const n = end - start;
      const boxes = new Float32Array(4 * n), classes = new Int32Array(n), crowd = new Uint8Array(n);
      for (let k = 0; k < n; k++) {
        const r = start + k, x = a.bbox[4 * r]!, y = a.bbox[4 * r + 1]!;
        boxes[4 * k] = x; boxes[4 * k + 1] = y; boxes[4 * k + 2] = x + a.bbox[4 * r + 2]!; boxes[4 * k + 3] = y + a.bbox[4 * r + 3]!;
        classes[k] = classOfIndex[a.categoryIndex[r]!]!;
        crowd[k] = a.iscrowd[r]! || a.ignore[r]! ? 1 : 0;
      }
      return { boxes, classes, crowd };
    },
  };
}

/** Crowd boxes out, zero-size boxes out. */
function usableBoxes(src: { boxes: Float32Array; classes: Int32Array; crowd?: Uint8Array }): BoxSet {
  const keep: number[] = [];
  for (let i = 0; i < src.classes.length; i++) {
    if (src.crowd && src.crowd[i]) continue;
    if (!(src.boxes[4 * i + 2]! > src.boxes[4 * i]! && src.boxes[4 * i + 3]! > src.boxes[4 * i + 1]!)) continue;
    keep.push(i);
  }
  const boxes = new Float32Array(4 * keep.length), classes = new Int32Array(keep.length);
  keep.forEach((i, k) => { boxes.set(src.boxes.subarray(4 * i, 4 * i + 4), 4 * k); classes[k] = src.classes[i]!; });
  return { boxes, classes };
}
