// Training on a dataset (models/dataset-batches.ts, models/shape-runner.ts,
// cli/commands/train-data.ts) with a stand-in training entry that takes the
// detectors' ground-truth inputs: batches match the annotations; the order
// is deterministic and restorable; several batch shapes are one run; an
// interrupted run resumed from its checkpoint ends bit-identical on the CPU
// runtime to one that was never interrupted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateScenes } from '../../data/scenes.js';
import { loadConfig } from '../../models/config.js';
import { DatasetBatches, DatasetError, boxBucket, openTrainingData } from '../../models/dataset-batches.js';
import { trainOnData } from '../../cli/commands/train-data.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-dataset-'));
const scenes = join(dir, 'scenes');

// Regresses each image's mean GT box and mean class: uses every input, no assignment.
const TOY = `module ToyTrain(C: int = 8) {
  param w1: f32[C, 3, 3, 3] = normal(0, 0.1)
  param b1: f32[C] = zeros
  param w2: f32[5, C, 3, 3] = normal(0, 0.1)
  param b2: f32[5] = zeros
  fn loss(image: f32[B, 3, H, W], gt_boxes: f32[B, G, 4], gt_classes: i32[B, G], gt_count: i32[B]) where H % 32 == 0, W % 32 == 0, G: bucket {
    let f = conv2d(relu(conv2d(image, w1, b1, stride = 2, padding = 1)), w2, b2, padding = 1)
    let m = mean(f, axes = [2, 3])
    let n = reshape(maximum(cast(gt_count, dtype = "f32"), 1.0), shape = [B, 1])
    let box_t = sum(gt_boxes, axes = [1]) / n / 64.0
    let cls_t = sum(cast(gt_classes, dtype = "f32"), axes = [1], keepdims = true) / n / 10.0
    let loss_box = mean(square(slice(m, axis = 1, start = 0, end = 4) - box_t), axes = [])
    let loss_cls = mean(square(slice(m, axis = 1, start = 4, end = 5) - cls_t), axes = [])
    let loss = loss_box + loss_cls
    return (loss, loss_box, loss_cls)
  }
}
`;

function toyConfig(name: string, data: Record<string, unknown> = {}): string {
  const model = { source: join(dir, 'toy.fd'), module: 'ToyTrain', fn: 'loss', args: { C: 8 } };
  const cfg = {
    train: { ...model, prefix: '' }, infer: model,
    schedule: { lr: 0.01, warmup: 2, steps: 8, milestones: [6], batch: 4, checkpointEvery: 4, seed: 3 },
    // Two short sides that pad to different sizes, and G from 8: several compiled shapes.
    data: { shortSides: [48, 64, 96], maxSize: 96, testShortSide: 64, testMaxSize: 64, flip: true, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], sizeBucket: 32, minBoxes: 8, maxBoxes: 64, ...data },
    inference: { detections: 100, nms: false },
  };
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(cfg));
  return path;
}

test.before(async () => {
  writeFileSync(join(dir, 'toy.fd'), TOY);
  await generateScenes({ out: scenes, images: 12, size: 64, crowd: 0.8, seed: 5, force: false });
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('batches carry the annotations: counts, boxes inside the image, classes 0-based, G a bucket', async () => {
  const cfg = loadConfig(toyConfig('plain', { shortSides: [64], flip: false }));
  const data = await openTrainingData(join(scenes, 'annotations.json'));
  assert.is(data.classNames.length, 10);
  const src = new DatasetBatches(data, cfg.data, 4, 0);
  const ann = JSON.parse(readFileSync(join(scenes, 'annotations.json'), 'utf8'));
  const perImage = new Map<number, number>();
  for (const a of ann.annotations) if (!a.iscrowd && !a.ignore) perImage.set(a.image_id, (perImage.get(a.image_id) ?? 0) + 1);
  const loader = src.loader;
  for (let k = 0; k < 3; k++) {
    const ids = loader.plan(0)[k]!.map((i) => loader.samples[i]!.id);
    await src.prepare();
    const t = src.next();
    const [B, , H, W] = t.image.shape;
    const G = t.gt_boxes.shape[1]!;
    assert.equal([B, H, W], [4, 64, 64]);
    assert.is(G, boxBucket(Math.max(...t.gt_count.data), 8));
    assert.equal(t.gt_classes.shape, [4, G]);
    for (let b = 0; b < B; b++) {
      assert.is(t.gt_count.data[b], perImage.get(ids[b]!), `image ${ids[b]}`);
      for (let g = 0; g < G; g++) {
        const x1 = t.gt_boxes.data[(b * G + g) * 4]!, y1 = t.gt_boxes.data[(b * G + g) * 4 + 1]!, x2 = t.gt_boxes.data[(b * G + g) * 4 + 2]!, y2 = t.gt_boxes.data[(b * G + g) * 4 + 3]!;
        const c = t.gt_classes.data[b * G + g]!;
        if (g < t.gt_count.data[b]!) {
          assert.ok(x1 >= 0 && y1 >= 0 && x2 <= 64 && y2 <= 64 && x2 > x1 && y2 > y1, `box ${x1},${y1},${x2},${y2}`);
          assert.ok(c >= 0 && c < 10);
        } else assert.equal([x1, y1, x2, y2, c], [0, 0, 0, 0, 0], 'padding is zero');
      }
    }
  }
});

// The scenes' COCO file has no ignore marks; the .odgt marks heavily occluded
// items ignore (dropped for training): same boxes, fewer of them usable.
test('.odgt: the same images and boxes as the COCO file beside it, its ignore boxes left out', async () => {
  const coco = await openTrainingData(join(scenes, 'annotations.json'));
  const odgt = await openTrainingData(join(scenes, 'annotations.odgt'));
  assert.is(odgt.dataset.images.length, coco.dataset.images.length);
  assert.equal([...odgt.classNames].sort(), [...coco.classNames].sort());
  const ann = readFileSync(join(scenes, 'annotations.odgt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  let ignored = 0;
  coco.dataset.images.forEach((im, i) => {
    assert.ok(odgt.dataset.images[i]!.file.endsWith(im.file.slice(-10)), `${odgt.dataset.images[i]!.file} vs ${im.file}`);
    const o = odgt.dataset.boxesOf(odgt.dataset.images[i]!.id), c = coco.dataset.boxesOf(im.id);
    assert.is(o.classes.length, c.classes.length, im.file);
    const marked = ann[i].gtboxes.filter((b: { extra: { ignore: number } }) => b.extra.ignore).length;
    assert.is([...o.crowd!].filter(Boolean).length, marked, im.file);
    ignored += marked;
  });
  assert.ok(ignored > 0, 'crowd 0.8 scenes have occluded items');
});

test('the order is deterministic and a saved position restores it', async () => {
  const cfg = loadConfig(toyConfig('order'));
  const data = await openTrainingData(join(scenes, 'annotations.json'));
  const a = new DatasetBatches(data, cfg.data, 4, 7), b = new DatasetBatches(data, cfg.data, 4, 7);
  const take = async (s: DatasetBatches) => { await s.prepare(); return s.next(); };
  // 3 batches per epoch (12 images / 4): step 4 is in the second epoch.
  for (let i = 0; i < 4; i++) await take(a);
  const saved = JSON.parse(JSON.stringify(a.state()));
  const next = await take(a);
  b.restore(saved);
  const again = await take(b);
  assert.equal(again.image.shape, next.image.shape);
  assert.ok(Buffer.from(again.image.data.buffer).equals(Buffer.from(next.image.data.buffer)), 'same pixels');
  assert.equal([...again.gt_boxes.data], [...next.gt_boxes.data]);
  assert.throws(() => new DatasetBatches(data, cfg.data, 4, 8).restore(saved), /seed 7 over 12 images, this run's is seed 8/);
  const other = new DatasetBatches(data, cfg.data, 4, 7);
  assert.throws(() => other.next(), /was not prepared/);
});

test('too many boxes, too few images, a missing image: errors naming what', async () => {
  const data = await openTrainingData(join(scenes, 'annotations.json'));
  const cfg = loadConfig(toyConfig('small-g', { minBoxes: 2, maxBoxes: 3 }));
  assert.throws(() => new DatasetBatches(data, cfg.data, 4, 0), (e: Error) => e instanceof DatasetError && /images\/\d+\.png: \d+ boxes, more than the config's data\.maxBoxes 3/.test(e.message));
  assert.throws(() => new DatasetBatches(data, loadConfig(toyConfig('b')).data, 64, 0), /12 training image\(s\) with boxes .* fewer than the batch of 64/);
  const ann = JSON.parse(readFileSync(join(scenes, 'annotations.json'), 'utf8'));
  ann.images[2].file_name = 'gone.png';
  writeFileSync(join(scenes, 'missing.json'), JSON.stringify(ann));
  try { await openTrainingData(join(scenes, 'missing.json')); assert.unreachable(); } catch (e) {
    assert.instance(e, DatasetError);
    assert.match((e as Error).message, /gone\.png does not exist.*--skip-bad/);
  }
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'empty'));
  await openTrainingData(join(dir, 'empty')).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /empty: a folder without annotations\.json or annotations\.odgt/));
  assert.is((await openTrainingData(scenes)).dataset.images.length, 12, 'a scenes folder means its annotations.json');
  const skipped = await openTrainingData(join(scenes, 'missing.json'), { skipBad: true });
  assert.is(skipped.skippedFiles, 1);
  assert.is(skipped.dataset.images.length, 11);
});

test('several batch shapes are one run; resumed from a checkpoint it ends bit-identical (CPU runtime)', async () => {
  const cfg = toyConfig('resume');
  const common = { config: cfg, data: join(scenes, 'annotations.json'), skipBad: false, runtime: 'cpu', progress: false };
  const full = await trainOnData({ ...common, out: join(dir, 'full'), resume: false, force: false });
  assert.ok(full.compiles >= 2, `${full.compiles} compiled shapes`);
  assert.is(full.log.length, 8);
  assert.ok(full.log.every((e) => Number.isFinite(e.scalars.loss)));
  await trainOnData({ ...common, out: join(dir, 'split'), steps: 4, resume: false, force: false });
  const resumed = await trainOnData({ ...common, out: join(dir, 'split'), resume: true, force: false });
  assert.is(resumed.startStep, 4);
  // The log continues the interrupted one: all 8 steps, the same losses.
  assert.equal(resumed.log.map((e) => e.scalars.loss), full.log.map((e) => e.scalars.loss));
  const a = readFileSync(full.checkpoint!), b = readFileSync(resumed.checkpoint!);
  assert.ok(a.equals(b), 'the final checkpoints are the same bytes');
  // The checkpoint names its config.
  const header = JSON.parse(a.subarray(8, 8 + Number(a.readBigUInt64LE(0))).toString());
  const recorded = JSON.parse(header.__metadata__.config).experiment;
  assert.is(recorded.name, 'resume');
  assert.is(recorded.modelHash, loadConfig(cfg).modelHash);
});

// An .odgt image whose header does not read is kept as `unreadable` for the
// screen (data/loader.ts screenDataset) to name as undecodable, the same as a
// COCO image: not given a made-up size its boxes would then fall outside.
test('.odgt: an image whose header does not read is marked unreadable, not sized', async () => {
  writeFileSync(join(scenes, 'images', 'not-an-image.png'), 'this is not a PNG');
  const odgt = join(scenes, 'unreadable.odgt');
  writeFileSync(odgt, JSON.stringify({ ID: 'not-an-image', gtboxes: [{ tag: 'person', fbox: [1, 1, 5, 5], extra: { ignore: 0 } }] }) + '\n');
  const data = await openTrainingData(odgt);
  const im = data.dataset.images[0]!;
  assert.ok(im.file.endsWith('not-an-image.png'), im.file);
  assert.is(im.width, 0);
  assert.match(im.unreadable ?? '', /not-an-image\.png/);
});

test.run();
