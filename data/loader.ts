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
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import sharp from 'sharp';
import { FusedetError } from '../io/errors.js';
import { drawShortSide, gtBucket, padTo, planResize, transformBoxes, type BoxSet } from './augment.js';
import type { CocoDataset } from './coco.js';
import { recordName } from './json/records.js';
import { ImageError, imageSize, readResized } from './image.js';
import { Rng } from './scenes/rng.js';

/** What the loader needs of a dataset; data/coco.ts's reader is adapted to it by `fromCoco`. */
export interface LoaderDataset {
  /** `unreadable`: why the header could not be read when the size was looked up (screenDataset reports it). */
  readonly images: readonly { readonly id: number; readonly file: string; readonly width: number; readonly height: number; readonly unreadable?: string }[];
  /**
   * Boxes as x1, y1, x2, y2 in the original image's pixels, classes as
   * 0-based model class indices; `crowd[i] ≠ 0` marks a crowd box; `names[i]`,
   * where the source has them, names box i's record in messages
   * (`annotations[12] (id 907)`).
   */
  boxesOf(imageId: number): { boxes: Float32Array; classes: Int32Array; crowd?: Uint8Array; names?: readonly string[] };
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
 * A dataset image with its size: the record's when it has one, else its
 * header's. A header that cannot be read is screenDataset's to report (an
 * error, or skipped under --skip-bad), so it is kept as `unreadable`.
 */
export async function imageEntry(id: number, file: string, width?: number, height?: number): Promise<LoaderDataset['images'][number]> {
  if (width !== undefined && height !== undefined && width > 0 && height > 0) return { id, file, width, height };
  try { return { id, file, ...(await imageSize(file)) }; } catch (e) {
    if (!(e instanceof ImageError)) throw e;
    return { id, file, width: 0, height: 0, unreadable: e.message };
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
    return imageEntry(im.id, file, im.width, im.height);
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
      const names: string[] = [];
      for (let k = 0; k < n; k++) {
        const r = start + k, x = a.bbox[4 * r]!, y = a.bbox[4 * r + 1]!;
        boxes[4 * k] = x; boxes[4 * k + 1] = y; boxes[4 * k + 2] = x + a.bbox[4 * r + 2]!; boxes[4 * k + 3] = y + a.bbox[4 * r + 3]!;
        classes[k] = classOfIndex[a.categoryIndex[r]!]!;
        crowd[k] = a.iscrowd[r]! || a.ignore[r]! ? 1 : 0;
        names.push(recordName('annotations', a.recordIndex[r]!, a.id[r]));
      }
      return { boxes, classes, crowd, names };
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

/** An image a training run cannot use, and why: `entry` names the record (the image itself, or one of its boxes). */
export interface BadSample { file: string; entry: string; problem: string }

/** A training image that cannot be used, outside --skip-bad. */
export class BadSampleError extends FusedetError {
  constructor(readonly sample: BadSample) {
    super(`${sample.file}: ${sample.entry}: ${sample.problem}`, { hint: 'fix or remove it, or pass --skip-bad to leave such images out (counted)' });
  }
}

export interface ScreenOptions {
  /** Classes the dataset names: a box's class must be in 0..classCount − 1. */
  classCount: number;
  /** Leave bad images out (each reported to onBad) instead of stopping at the first. */
  skipBad: boolean;
  onBad?: (bad: BadSample) => void;
  /** Images decoded at once (sharp decodes on its own threads). Default 4. */
  concurrency?: number;
}

export interface ScreenResult {
  /** The dataset without the bad images. */
  dataset: LoaderDataset;
  /** Every bad image, in dataset order (empty unless skipBad: otherwise the first one throws). */
  bad: BadSample[];
  /** Of `bad`: images that do not decode (or decode to another size than their record's). */
  undecodable: number;
  /** Of `bad`: images with an inconsistent box (outside the image, negative size, unknown class, not finite). */
  inconsistent: number;
}

/**
 * Boxes may reach this far past the image's border (pixels) before they count
 * as outside it: annotation tools round (COCO's own boxes overshoot by
 * fractions of a pixel).
 */
export const BORDER_SLACK = 1;

/** The first inconsistent box of an image's annotations, as (entry, problem), or undefined. */
export function badBox(ds: LoaderDataset, im: LoaderDataset['images'][number], classCount: number): [string, string] | undefined {
  const { boxes, classes, names } = ds.boxesOf(im.id);
  for (let k = 0; k < classes.length; k++) {
    const [x1, y1, x2, y2] = [0, 1, 2, 3].map((j) => boxes[4 * k + j]!) as [number, number, number, number];
    const entry = names?.[k] ?? `box ${k} of image ${im.id}`;
    const shown = `[${x1}, ${y1}, ${x2}, ${y2}]`;
    if (![x1, y1, x2, y2].every(Number.isFinite)) return [entry, `box ${shown} is not finite`];
    if (x2 < x1 || y2 < y1) return [entry, `box ${shown} (x1, y1, x2, y2) has negative size (${x2 - x1} × ${y2 - y1})`];
    const c = classes[k]!;
    if (!(c >= 0 && c < classCount)) return [entry, `class ${c} is not one of the dataset's ${classCount} categories`];
    if (x1 < -BORDER_SLACK || y1 < -BORDER_SLACK || x2 > im.width + BORDER_SLACK || y2 > im.height + BORDER_SLACK) {
      return [entry, `box ${shown} (x1, y1, x2, y2) lies outside the ${im.width}×${im.height} image`];
    }
  }
  return undefined;
}

/** Why an image file cannot be trained on (it does not decode fully, or has another size than its record), or undefined. */
export async function undecodable(im: LoaderDataset['images'][number]): Promise<string | undefined> {
  // fromCoco's message starts with the file, which the report names already.
  if (im.unreadable !== undefined) return (im.unreadable.startsWith(`${im.file}: `) ? im.unreadable.slice(im.file.length + 2) : im.unreadable).split('\n')[0];
  let bytes: Buffer;
  try { bytes = await readFile(im.file); } catch (e) { return `cannot read image: ${(e as Error).message.split('\n')[0]}`; }
  if (bytes.length === 0) return 'cannot decode image: the file is empty';
  try {
    // failOn 'error' also fails truncated files (the loader decodes the same way: data/image.ts).
    const { info } = await sharp(bytes, { failOn: 'error' }).rotate().raw().toBuffer({ resolveWithObject: true });
    if (info.width !== im.width || info.height !== im.height) return `image is ${info.width}×${info.height} but its record says ${im.width}×${im.height}; the boxes would not fit it`;
  } catch (e) {
    // sharp's message repeats the decoder's lines: the first says what is wrong, and a warning stays one line.
    return `cannot decode image (corrupt, truncated or not PNG/JPEG): ${(e as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

/**
 * Checks every image of a training set before the first step, so that a bad
 * one does not stop a run hours in: its boxes (badBox) and its pixels
 * (undecodable: every image is decoded once). Without skipBad the first bad
 * image in dataset order throws a BadSampleError naming the file and the
 * entry; with it, each is reported to onBad and left out.
 */
export async function screenDataset(ds: LoaderDataset, o: ScreenOptions): Promise<ScreenResult> {
  const bad: BadSample[] = [];
  let undecodableCount = 0, inconsistent = 0;
  const keep: LoaderDataset['images'][number][] = [];
  const report = (b: BadSample): void => {
    if (!o.skipBad) throw new BadSampleError(b);
    bad.push(b);
    o.onBad?.(b);
  };
  const width = Math.max(1, o.concurrency ?? 4);
  for (let i = 0; i < ds.images.length; i += width) {
    const chunk = ds.images.slice(i, i + width);
    // Boxes first (cheap); only images whose boxes pass are decoded. An image of unknown size (its header
    // unreadable) has no border to check boxes against: it is undecodable.
    const boxProblems = chunk.map((im) => (im.unreadable !== undefined ? undefined : badBox(ds, im, o.classCount)));
    const pixelProblems = await Promise.all(chunk.map((im, k) => (boxProblems[k] ? undefined : undecodable(im))));
    chunk.forEach((im, k) => {
      const box = boxProblems[k], pixels = pixelProblems[k];
      if (box) { inconsistent++; report({ file: im.file, entry: box[0], problem: box[1] }); } else if (pixels) { undecodableCount++; report({ file: im.file, entry: 'the image', problem: pixels }); } else keep.push(im);
    });
  }
  const dataset: LoaderDataset = bad.length ? { images: keep, boxesOf: (id) => ds.boxesOf(id) } : ds;
  return { dataset, bad, undecodable: undecodableCount, inconsistent };
}
