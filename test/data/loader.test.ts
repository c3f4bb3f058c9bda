// The loader: box transforms checked by hand and against the pixels,
// padding, G buckets, determinism, the DEFCN.md training-data rules, and a
// run over generated scenes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planResize, transformBoxes, gtBucket, padTo, sizeRange } from '../../data/augment.js';
import { Loader, fromCoco, type LoaderDataset, type LoaderOptions, type Batch } from '../../data/loader.js';
import { writePng } from '../../data/image.js';

process.env['FUSEDET_FASHION_MNIST'] = 'subset';
const dir = mkdtempSync(join(tmpdir(), 'fusedet-loader-'));
const near = (a: ArrayLike<number>, b: number[], eps = 1e-4) => {
  assert.is(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= eps, `[${i}] ${a[i]} vs ${b[i]} (${Array.from(a)})`);
};
const set = (boxes: number[], classes: number[]) => ({ boxes: new Float32Array(boxes), classes: new Int32Array(classes) });

test('planResize: short side, max size, rounding', () => {
  assert.equal(planResize(640, 480, 240, 1000), { width: 320, height: 240, sx: 0.5, sy: 0.5 });
  // Long side would be 500 > 300: the long side sets the scale (0.3).
  assert.equal(planResize(1000, 200, 100, 300), { width: 300, height: 60, sx: 0.3, sy: 0.3 });
  const r = planResize(333, 100, 64, 1333);
  assert.equal([r.width, r.height], [213, 64]); // 333 · 0.64 = 213.12
  assert.is(r.sx, 213 / 333);
  assert.equal(sizeRange(640, 800, 32), [640, 672, 704, 736, 768, 800]);
});

test('box transform under resize and flip, by hand', () => {
  const plan = planResize(640, 480, 240, 1000); // × 0.5 → 320 × 240
  const src = set([10, 20, 110, 220, 600, 0, 640, 40], [3, 7]);
  const a = transformBoxes(src, plan, false);
  near(a.boxes, [5, 10, 55, 110, 300, 0, 320, 20]);
  assert.equal(Array.from(a.classes), [3, 7]);
  const f = transformBoxes(src, plan, true); // x → 320 − x
  near(f.boxes, [265, 10, 315, 110, 0, 0, 20, 20]);
  // Non-uniform integer rounding: 333 × 100 → 213 × 64.
  const r = transformBoxes(set([0, 0, 333, 100, 111, 50, 222, 75], [0, 1]), planResize(333, 100, 64, 1333), true);
  near(r.boxes, [0, 0, 213, 64, 213 - 222 * 213 / 333, 32, 213 - 111 * 213 / 333, 48]);
});

test('clipping to the resized image and dropping empty boxes', () => {
  const plan = planResize(100, 100, 50, 1000); // × 0.5
  const src = set([-20, 10, 40, 300, 120, 10, 150, 20, 30, 30, 30, 60, 10, 10, 20, 20], [1, 2, 3, 4]);
  const t = transformBoxes(src, plan, false);
  near(t.boxes, [0, 5, 20, 50, 5, 5, 10, 10]); // box 2 lies beyond the image, box 3 has no width
  assert.equal(Array.from(t.classes), [1, 4]);
});

test('gt buckets and padding', () => {
  assert.equal([0, 1, 8, 9, 16, 17, 100].map(gtBucket), [8, 8, 8, 16, 16, 32, 128]);
  assert.equal([1, 32, 33, 100].map((n) => padTo(n, 32)), [32, 32, 64, 128]);
});

// Synthetic images: black, with one white rectangle per box, so boxes can be checked against pixels.
interface Fixture { file: string; width: number; height: number; boxes: number[][]; crowd?: number[] }
async function makeDataset(fixtures: Fixture[]): Promise<LoaderDataset> {
  for (const f of fixtures) {
    const data = new Uint8Array(f.width * f.height * 3);
    for (const [x1, y1, x2, y2] of f.boxes) for (let y = y1!; y < y2!; y++) for (let x = x1!; x < x2!; x++) data.fill(255, 3 * (y * f.width + x), 3 * (y * f.width + x) + 3);
    await writePng(join(dir, f.file), { width: f.width, height: f.height, data });
  }
  return {
    images: fixtures.map((f, i) => ({ id: i + 1, file: f.file, width: f.width, height: f.height })),
    boxesOf: (id) => {
      const f = fixtures[id - 1]!;
      return { boxes: new Float32Array(f.boxes.flat()), classes: new Int32Array(f.boxes.map((_, k) => k % 3)), crowd: f.crowd ? new Uint8Array(f.crowd) : undefined };
    },
  };
}

const base: LoaderOptions = { batchSize: 2, shortSides: [48], maxSize: 400, flip: true, mean: [0, 0, 0], std: [1, 1, 1], seed: 1, imageRoot: dir };

async function collect(loader: Loader, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch)) out.push(b);
  return out;
}

test('pixels and boxes move together (resize, flip, padding to 32)', async () => {
  const ds = await makeDataset([
    { file: 'a.png', width: 120, height: 96, boxes: [[10, 20, 50, 60]] },
    { file: 'b.png', width: 96, height: 144, boxes: [[60, 4, 90, 30], [8, 100, 40, 140]] },
    { file: 'c.png', width: 200, height: 100, boxes: [[150, 50, 190, 90]] },
  ]);
  const loader = new Loader(ds, { ...base, shortSides: [48, 64] });
  let flips = 0;
  for (let e = 0; e < 3; e++) for (const b of await collect(loader, e)) {
    const [B, , H, W] = b.shape;
    assert.ok(H % 32 === 0 && W % 32 === 0, `padded ${H}×${W}`);
    assert.is(b.images.length, B * 3 * H * W);
    const hs = Array.from({ length: B }, (_, i) => b.imageSizes[2 * i]!), ws = Array.from({ length: B }, (_, i) => b.imageSizes[2 * i + 1]!);
    assert.equal([H, W], [padTo(Math.max(...hs), 32), padTo(Math.max(...ws), 32)], 'the largest image sets the padded size');
    for (let i = 0; i < B; i++) {
      const [h, w] = [b.imageSizes[2 * i]!, b.imageSizes[2 * i + 1]!];
      assert.ok(h <= H && w <= W, 'each image fits the padded batch');
      if (b.flipped[i]) flips++;
      const at = (x: number, y: number) => b.images[((i * 3) * H + y) * W + x]!;
      for (let k = 0; k < b.gtCount[i]!; k++) {
        const [x1, y1, x2, y2] = Array.from(b.gtBoxes.subarray((i * b.maxBoxes + k) * 4, (i * b.maxBoxes + k) * 4 + 4));
        // Well inside the box: white; just outside it: black (bilinear edges are a pixel wide).
        assert.ok(at(Math.floor((x1! + x2!) / 2), Math.floor((y1! + y2!) / 2)) > 0.9, `centre of box ${[x1, y1, x2, y2]} in image ${b.imageIds[i]} (flipped ${b.flipped[i]})`);
        if (x1! >= 3) assert.ok(at(Math.floor(x1!) - 2, Math.floor((y1! + y2!) / 2)) < 0.1, 'left of the box is background');
        if (x2! <= w - 3) assert.ok(at(Math.ceil(x2!) + 1, Math.floor((y1! + y2!) / 2)) < 0.1, 'right of the box is background');
      }
      // Padding is zero.
      if (w < W) assert.is(at(W - 1, 0), 0);
    }
  }
  assert.ok(flips > 0 && flips < 9, `some but not all samples flipped: ${flips}`);
});

test('crowd boxes dropped, images without boxes skipped, classes kept, G bucketed', async () => {
  const many = Array.from({ length: 9 }, (_, k) => [k * 10, 0, k * 10 + 8, 8]);
  const ds = await makeDataset([
    { file: 'crowd.png', width: 64, height: 64, boxes: [[0, 0, 10, 10], [20, 20, 40, 40]], crowd: [1, 0] },
    { file: 'onlycrowd.png', width: 64, height: 64, boxes: [[0, 0, 10, 10]], crowd: [1] },
    { file: 'none.png', width: 64, height: 64, boxes: [] },
    { file: 'many.png', width: 96, height: 32, boxes: many },
  ]);
  const loader = new Loader(ds, { ...base, flip: false, shuffle: false, shortSides: [32] });
  assert.is(loader.skipped, 2);
  assert.equal(loader.samples.map((s) => s.id), [1, 4]);
  const [b] = await collect(loader, 0);
  assert.equal(b!.imageIds, [1, 4]);
  assert.equal(Array.from(b!.gtCount), [1, 9]);
  assert.is(b!.maxBoxes, 16);
  assert.is(b!.gtBoxes.length, 2 * 16 * 4);
  near(b!.gtBoxes.subarray(0, 4), [10, 10, 20, 20]); // 64 → 32: × 0.5
  assert.is(b!.gtClasses[0], 1, 'the kept box keeps its class');
  assert.is(b!.gtClasses[1], -1, 'unused slots are −1');
  assert.equal(Array.from(b!.gtClasses.subarray(16, 25)), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
  assert.equal(b!.shape, [2, 3, 32, 96]);
  // Evaluation keeps every image.
  const all = new Loader(ds, { ...base, flip: false, shuffle: false, shortSides: [32], batchSize: 4, keepEmpty: true });
  assert.is(all.skipped, 0);
  const [e] = await collect(all, 0);
  assert.equal(e!.imageIds, [1, 2, 3, 4]);
  assert.equal(Array.from(e!.gtCount), [1, 0, 0, 9]);
});

test('deterministic by seed, whatever the prefetch depth; another seed reorders', async () => {
  const fixtures = Array.from({ length: 7 }, (_, i) => ({ file: `d${i}.png`, width: 64 + 8 * i, height: 64, boxes: [[i, i, 30 + i, 40]] }));
  const ds = await makeDataset(fixtures);
  const opts = { ...base, shortSides: [32, 48, 64] };
  const a = await collect(new Loader(ds, { ...opts, prefetch: 1 }), 2);
  const b = await collect(new Loader(ds, { ...opts, prefetch: 4 }), 2);
  assert.is(a.length, 4);
  a.forEach((x, i) => {
    assert.equal(x.imageIds, b[i]!.imageIds);
    assert.equal(x.shape, b[i]!.shape);
    assert.ok(x.images.every((v, k) => v === b[i]!.images[k]));
    assert.equal(Array.from(x.gtBoxes), Array.from(b[i]!.gtBoxes));
  });
  const other = await collect(new Loader(ds, { ...opts, seed: 2 }), 2);
  const epoch3 = await collect(new Loader(ds, opts), 3);
  const order = (bs: Batch[]) => bs.flatMap((x) => x.imageIds).join(',');
  assert.ok(order(other) !== order(a) || order(epoch3) !== order(a), 'order depends on seed and epoch');
  assert.is(new Set(order(a).split(',')).size, 7, 'an epoch visits every image once');
});

test('prefetch: batches are prepared ahead of the consumer, at most `prefetch` of them', async () => {
  const ds = await makeDataset(Array.from({ length: 6 }, (_, i) => ({ file: `p${i}.png`, width: 32, height: 32, boxes: [[0, 0, 8, 8]] })));
  const started: number[] = [];
  class Spy extends Loader {
    override batch(epoch: number, position: number, indices: readonly number[]): Promise<Batch> {
      started.push(position);
      return super.batch(epoch, position, indices);
    }
  }
  const seen: number[][] = [];
  for await (const b of new Spy(ds, { ...base, batchSize: 1, prefetch: 2, shuffle: false }).epoch(0)) {
    seen.push([b.imageIds[0]!, started.length]);
    await new Promise((r) => setTimeout(r, 30)); // the consumer's work
  }
  // While batch k is consumed, batches k+1 and k+2 have been started, and no more.
  assert.equal(seen, [[1, 3], [2, 4], [3, 5], [4, 6], [5, 6], [6, 6]]);
});

test('normalisation uses mean and std per channel', async () => {
  const ds = await makeDataset([{ file: 'n.png', width: 32, height: 32, boxes: [[0, 0, 16, 32]] }]);
  const [b] = await collect(new Loader(ds, { ...base, batchSize: 1, flip: false, shortSides: [32], mean: [0.5, 0.25, 0], std: [0.5, 0.25, 2] }), 0);
  const plane = 32 * 32;
  near([b!.images[0]!, b!.images[plane]!, b!.images[2 * plane]!], [1, 3, 0.5]); // white pixel
  near([b!.images[31]!, b!.images[plane + 31]!, b!.images[2 * plane + 31]!], [-1, -1, 0]); // black pixel
});

test('an unreadable image fails the batch that holds it, with the file named', async () => {
  const ds = await makeDataset([{ file: 'ok.png', width: 32, height: 32, boxes: [[0, 0, 8, 8]] }]);
  writeFileSync(join(dir, 'bad.png'), 'garbage');
  const bad: LoaderDataset = { images: [...ds.images, { id: 2, file: 'bad.png', width: 32, height: 32 }], boxesOf: (id) => ds.boxesOf(1) };
  try {
    await collect(new Loader(bad, { ...base, batchSize: 1, shuffle: false }), 0);
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, 'bad.png');
    assert.is((e as { exitCode?: number }).exitCode, 1);
  }
});

test('over generated scenes: a full epoch with boxes inside the images', async () => {
  const { generateScenes } = await import('../../data/scenes.js');
  const out = join(dir, 'scenes');
  await generateScenes({ out, images: 6, size: 64, crowd: 0.5, seed: 4, force: false });
  const { readCocoFile } = await import('../../data/coco.js');
  const ds = await fromCoco(await readCocoFile(join(out, 'annotations.json')), join(out, 'images'));
  assert.is(ds.classNames[9], 'Ankle boot');
  const coco = JSON.parse(readFileSync(join(out, 'annotations.json'), 'utf8')) as { annotations: { image_id: number; category_id: number; bbox: number[] }[] };
  const first = coco.annotations.filter((a) => a.image_id === 1);
  const got = ds.boxesOf(1);
  assert.equal(Array.from(got.classes), first.map((a) => a.category_id - 1));
  assert.equal(Array.from(got.boxes.subarray(0, 4)), [first[0]!.bbox[0]!, first[0]!.bbox[1]!, first[0]!.bbox[0]! + first[0]!.bbox[2]!, first[0]!.bbox[1]! + first[0]!.bbox[3]!]);
  const loader = new Loader(ds, { ...base, imageRoot: undefined, batchSize: 4, shortSides: sizeRange(64, 128, 32), maxSize: 200 });
  const batches = await collect(loader, 0);
  assert.is(batches.reduce((n, b) => n + b.shape[0], 0), loader.samples.length);
  for (const b of batches) for (let i = 0; i < b.shape[0]; i++) {
    const [h, w] = [b.imageSizes[2 * i]!, b.imageSizes[2 * i + 1]!];
    for (let k = 0; k < b.gtCount[i]!; k++) {
      const [x1, y1, x2, y2] = b.gtBoxes.subarray((i * b.maxBoxes + k) * 4, (i * b.maxBoxes + k) * 4 + 4);
      assert.ok(x1! >= 0 && y1! >= 0 && x2! <= w && y2! <= h && x2! > x1! && y2! > y1!);
      assert.ok(b.gtClasses[i * b.maxBoxes + k]! >= 0 && b.gtClasses[i * b.maxBoxes + k]! < 10);
    }
  }
});

test.run();
