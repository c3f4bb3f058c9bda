// Batches of a real dataset (COCO JSON or CrowdHuman .odgt with their images)
// for the training entries that take ground truth (DeFCNTrain/FCOSTrain):
//   image       f32[B, 3, H, W]  normalised, zero-padded to a multiple of data.sizeBucket
//   gt_boxes    f32[B, G, 4]     x1, y1, x2, y2 in the padded image's pixels (resized, flipped)
//   gt_classes  i32[B, G]        0-based; padded slots 0 (they are past gt_count)
//   gt_count    i32[B]
// G is a power of two ≥ data.minBoxes, so shapes repeat: each distinct
// (H, W, G) is one compiled step (models/shape-runner.ts keeps them).
//
// data/loader.ts does the pixels (multi-scale, flip, normalise) and is
// deterministic by (seed, epoch, position); this source only walks the
// positions, so its state is { epoch, index } and --resume continues
// exactly where the checkpoint was written. BatchSource.next() is
// synchronous; the async work (decoding) happens in `prepare()`, which the
// training loop's beforeStep hook awaits, with the next batches prefetched.
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { Tensor } from '../compiler/tensor.js';
import { Batch, Loader, LoaderDataset, fromCoco, imageEntry } from '../data/loader.js';
import { readCocoFile } from '../data/coco.js';
import { BadRecordLog, isIgnoreBox, readOdgtGt } from '../data/odgt.js';
import { FusedetError } from '../io/errors.js';
import type { DataConfig } from './config.js';
import type { BatchSource } from './fixed-batch.js';

export class DatasetError extends FusedetError {
  constructor(message: string) { super(message); this.name = 'DatasetError'; }
}

export interface TrainingData {
  dataset: LoaderDataset;
  classNames: string[];
  imageRoot: string;
  /** Images whose file is missing, skipped under skipBad. */
  skippedFiles: number;
  /** Bad annotation records (or boxes, in .odgt) the reader dropped under skipBad, with up to five messages. */
  skippedRecords: { count: number; examples: readonly string[] };
}

/** Where the image files are: --images, else beside the annotations, else their images/ folder. */
function findRoot(annotations: string, files: readonly string[], given?: string): string {
  const roots = given ? [given] : [dirname(annotations), join(dirname(annotations), 'images'), join(dirname(annotations), 'Images')];
  const probe = files.find((f) => !isAbsolute(f));
  if (probe === undefined) return roots[0]!;
  return roots.find((r) => existsSync(join(r, probe))) ?? roots[0]!;
}

/** CrowdHuman: tag 'mask' and extra.ignore ≠ 0 are ignore regions (dropped for training); other tags are classes by name. */
async function fromOdgt(path: string, given: string | undefined, bad: BadRecordLog | undefined): Promise<{ dataset: LoaderDataset; classNames: string[]; imageRoot: string }> {
  const records: { id: string; width?: number; height?: number; boxes: { box: number[]; tag: string; ignore: boolean }[] }[] = [];
  const tags = new Set<string>();
  for await (const r of readOdgtGt(path, bad ? { skipBad: true, bad } : {})) {
    const boxes = r.gtboxes.map((b) => ({ box: b.fbox, tag: b.tag, ignore: isIgnoreBox(b) || b.tag === 'mask' }));
    for (const b of boxes) if (!b.ignore) tags.add(b.tag);
    records.push({ id: r.id, width: r.width, height: r.height, boxes });
  }
  const classNames = [...tags].sort();
  const classOf = new Map(classNames.map((t, i) => [t, i]));
  const exts = ['', '.jpg', '.png', '.jpeg'];
  const ids = records.map((r) => r.id);
  const root = (() => {
    const roots = given ? [given] : [dirname(path), join(dirname(path), 'images'), join(dirname(path), 'Images')];
    return roots.find((d) => ids.length > 0 && exts.some((e) => existsSync(join(d, ids[0] + e)))) ?? roots[0]!;
  })();
  const images = await Promise.all(records.map((r, i) => {
    const file = join(root, r.id + (exts.find((e) => existsSync(join(root, r.id + e))) ?? '.jpg'));
    // A missing file is openTrainingData's to name (or skip): its size does not matter.
    return existsSync(file) || (r.width && r.height) ? imageEntry(i + 1, file, r.width, r.height) : { id: i + 1, file, width: 1, height: 1 };
  }));
  return {
    classNames, imageRoot: root,
    dataset: {
      images,
      boxesOf(imageId: number) {
        const r = records[imageId - 1]!;
        const n = r.boxes.length;
        const boxes = new Float32Array(4 * n), classes = new Int32Array(n), crowd = new Uint8Array(n);
        r.boxes.forEach((b, k) => {
          const [x, y, w, h] = b.box as [number, number, number, number];
          boxes.set([x, y, x + w, y + h], 4 * k);
          classes[k] = b.ignore ? 0 : classOf.get(b.tag)!;
          crowd[k] = b.ignore ? 1 : 0;
        });
        return { boxes, classes, crowd };
      },
    },
  };
}

/**
 * Reads the annotations (COCO JSON, or .odgt by extension) and finds the
 * images. A missing image file is an error naming it, or (skipBad) is
 * counted and left out.
 */
export async function openTrainingData(annotations: string, opts: { images?: string; skipBad?: boolean } = {}): Promise<TrainingData> {
  if (!existsSync(annotations)) throw new DatasetError(`${annotations}: no such annotation file (give COCO JSON or CrowdHuman .odgt)`);
  if (statSync(annotations).isDirectory()) {
    // A scenes folder (or one laid out like it): its annotations file.
    const inside = ['annotations.json', 'annotations.odgt'].map((f) => join(annotations, f)).find((f) => existsSync(f));
    if (!inside) throw new DatasetError(`${annotations}: a folder without annotations.json or annotations.odgt; give the annotation file itself`);
    return openTrainingData(inside, opts);
  }
  let data: { dataset: LoaderDataset; classNames: string[]; imageRoot: string };
  let skippedRecords: TrainingData['skippedRecords'] = { count: 0, examples: [] };
  if (annotations.toLowerCase().endsWith('.odgt')) {
    const bad = opts.skipBad ? new BadRecordLog() : undefined;
    data = await fromOdgt(annotations, opts.images, bad);
    if (bad) skippedRecords = { count: bad.count, examples: bad.examples };
  } else {
    const ds = await readCocoFile(annotations, { skipBad: opts.skipBad ?? false });
    skippedRecords = { count: ds.skipped, examples: ds.skippedExamples };
    const root = findRoot(annotations, ds.images.map((im) => im.fileName), opts.images);
    const d = await fromCoco(ds, root);
    data = { dataset: d, classNames: d.classNames, imageRoot: root };
  }
  const missing = data.dataset.images.filter((im) => !existsSync(im.file));
  if (missing.length && !opts.skipBad) throw new DatasetError(`${annotations}: image file ${missing[0]!.file} does not exist${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}; give --images DIR, or --skip-bad to leave them out`);
  const dataset: LoaderDataset = missing.length ? { images: data.dataset.images.filter((im) => existsSync(im.file)), boxesOf: (id) => data.dataset.boxesOf(id) } : data.dataset;
  if (dataset.images.length === 0) throw new DatasetError(`${annotations}: no images to train on`);
  return { dataset, classNames: data.classNames, imageRoot: data.imageRoot, skippedFiles: missing.length, skippedRecords };
}

/** The next power of two ≥ max(min, n) (dsl/elab/types.ts bucketOf rounds the same way from 8). */
export function boxBucket(n: number, min: number): number {
  let g = 8;
  while (g < Math.max(n, min)) g *= 2;
  return g;
}

/** A loader batch as the training entry's inputs, G slots per image. */
export function batchTensors(b: Batch, G: number): Record<string, Tensor> {
  const [B, , H, W] = b.shape;
  const gtBoxes = new Float32Array(B * G * 4), gtClasses = new Int32Array(B * G);
  for (let i = 0; i < B; i++) {
    const n = b.gtCount[i]!;
    gtBoxes.set(b.gtBoxes.subarray(i * b.maxBoxes * 4, i * b.maxBoxes * 4 + 4 * n), i * G * 4);
    gtClasses.set(b.gtClasses.subarray(i * b.maxBoxes, i * b.maxBoxes + n), i * G);
  }
  return {
    image: { dtype: 'f32', shape: [B, 3, H, W], data: b.images },
    gt_boxes: { dtype: 'f32', shape: [B, G, 4], data: gtBoxes },
    gt_classes: { dtype: 'i32', shape: [B, G], data: gtClasses },
    gt_count: { dtype: 'i32', shape: [B], data: Int32Array.from(b.gtCount) },
  };
}

interface Position { epoch: number; index: number }

/**
 * Training batches in the loader's deterministic order, epoch after epoch,
 * B images each (an epoch's short last batch is dropped: B is part of the
 * compiled shape).
 */
export class DatasetBatches implements BatchSource {
  readonly loader: Loader;
  private pos: Position = { epoch: 0, index: 0 };
  private readonly pending = new Map<string, Promise<Batch>>();
  private ready: { at: string; batch: Batch } | undefined;
  private plans = new Map<number, number[][]>();

  constructor(data: TrainingData, private readonly cfg: DataConfig, batch: number, private readonly seed: number, private readonly prefetch = 2) {
    this.loader = new Loader(data.dataset, {
      batchSize: batch, shortSides: cfg.shortSides, maxSize: cfg.maxSize, flip: cfg.flip, mean: cfg.mean, std: cfg.std,
      seed, sizeDivisor: cfg.sizeBucket, shuffle: true, dropLast: true, prefetch: 1,
    });
    if (this.loader.samples.length < batch) {
      throw new DatasetError(`${this.loader.samples.length} training image(s) with boxes (${this.loader.skipped} without a usable box skipped), fewer than the batch of ${batch}`);
    }
    const big = this.loader.samples.find((s) => s.boxes.classes.length > cfg.maxBoxes);
    if (big) throw new DatasetError(`${big.path}: ${big.boxes.classes.length} boxes, more than the config's data.maxBoxes ${cfg.maxBoxes}`);
  }

  private plan(epoch: number): number[][] {
    let p = this.plans.get(epoch);
    if (!p) {
      p = this.loader.plan(epoch);
      this.plans.set(epoch, p);
      for (const e of this.plans.keys()) if (e < epoch - 1) this.plans.delete(e);
    }
    return p;
  }

  private advance(p: Position): Position {
    return p.index + 1 < this.plan(p.epoch).length ? { epoch: p.epoch, index: p.index + 1 } : { epoch: p.epoch + 1, index: 0 };
  }

  private start(p: Position): Promise<Batch> {
    const key = `${p.epoch}:${p.index}`;
    let job = this.pending.get(key);
    if (!job) {
      const indices = this.plan(p.epoch)[p.index]!;
      job = this.loader.batch(p.epoch, p.index * indices.length, indices);
      job.catch(() => undefined); // reported when awaited
      this.pending.set(key, job);
    }
    return job;
  }

  /** Decodes the batch at the current position (and starts the next ones); await before next(). */
  async prepare(): Promise<void> {
    const key = `${this.pos.epoch}:${this.pos.index}`;
    if (this.ready?.at === key) return;
    const batch = await this.start(this.pos);
    let q = this.pos;
    for (let k = 0; k < this.prefetch; k++) { q = this.advance(q); this.start(q); }
    this.ready = { at: key, batch };
  }

  /** The prepared batch as tensors; moves to the next position. */
  next(): Record<string, Tensor> {
    const key = `${this.pos.epoch}:${this.pos.index}`;
    if (this.ready?.at !== key) throw new Error(`DatasetBatches: batch ${key} was not prepared (await prepare() before next())`);
    const b = this.ready.batch;
    this.pending.delete(key);
    this.ready = undefined;
    this.pos = this.advance(this.pos);
    return batchTensors(b, boxBucket(Math.max(0, ...b.gtCount), this.cfg.minBoxes));
  }

  state(): unknown {
    return { kind: 'dataset', seed: this.seed, images: this.loader.samples.length, epoch: this.pos.epoch, index: this.pos.index };
  }

  restore(s: unknown): void {
    const st = s as { kind?: string; seed?: number; images?: number; epoch?: number; index?: number } | null;
    if (!st || st.kind !== 'dataset') throw new Error(`checkpoint data state ${JSON.stringify(s)} is not a dataset position`);
    if (st.seed !== this.seed || st.images !== this.loader.samples.length) {
      throw new Error(`the checkpoint's data was seed ${st.seed} over ${st.images} images, this run's is seed ${this.seed} over ${this.loader.samples.length}`);
    }
    this.pending.clear();
    this.ready = undefined;
    this.pos = { epoch: st.epoch ?? 0, index: st.index ?? 0 };
  }
}
