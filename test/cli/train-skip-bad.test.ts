// `fusedet train --config C --data ANNOTATIONS` on a tiny dataset with a
// truncated PNG, a truncated JPEG and a box outside its image (fixtures made
// here, at run time): without --skip-bad each is one error naming the file
// and the record, exit 1, no stack; with --skip-bad one warning line each,
// then the count, and training runs on the rest. A stand-in training entry
// (two convs on the ground-truth inputs) on the reference interpreter keeps
// it fast.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { generateScenes } from '../../data/scenes.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-skip-bad-'));
const scenes = join(dir, 'scenes');
test.after(() => rmSync(dir, { recursive: true, force: true }));

const TOY = `module ToyTrain(C: int = 4) {
  param w1: f32[C, 3, 3, 3] = normal(0, 0.1)
  param w2: f32[1, C, 3, 3] = normal(0, 0.1)
  fn loss(image: f32[B, 3, H, W], gt_boxes: f32[B, G, 4], gt_classes: i32[B, G], gt_count: i32[B]) where H % 32 == 0, W % 32 == 0, G: bucket {
    let f = mean(conv2d(relu(conv2d(image, w1, stride = 2, padding = 1)), w2, padding = 1), axes = [1, 2, 3])
    let t = sum(gt_boxes, axes = [1, 2]) / 1000.0 + sum(cast(gt_classes, dtype = "f32"), axes = [1]) / 100.0 + cast(gt_count, dtype = "f32") / 10.0
    let loss = mean(square(f - t), axes = [])
    return (loss, loss)
  }
}
`;

function config(): string {
  writeFileSync(join(dir, 'toy.fd'), TOY);
  const model = { source: join(dir, 'toy.fd'), module: 'ToyTrain', fn: 'loss', args: { C: 4 } };
  const cfg = {
    train: { ...model, prefix: '' }, infer: model,
    schedule: { lr: 0.01, warmup: 0, steps: 2, batch: 2, checkpointEvery: 0, seed: 1 },
    data: { shortSides: [64], maxSize: 64, testShortSide: 64, testMaxSize: 64, flip: false, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], sizeBucket: 32, minBoxes: 8, maxBoxes: 64 },
    inference: { detections: 100, nms: false },
  };
  writeFileSync(join(dir, 'toy.json'), JSON.stringify(cfg));
  return join(dir, 'toy.json');
}

interface Coco { images: { id: number; file_name: string; width: number; height: number }[]; annotations: { id: number; image_id: number; bbox: number[]; category_id: number }[] }

/** Annotation files: the clean scenes, and copies with one bad thing each, and one with all three. */
async function datasets(): Promise<Record<string, string>> {
  await generateScenes({ out: scenes, images: 6, size: 64, crowd: 0.5, seed: 4, force: false });
  const clean = JSON.parse(readFileSync(join(scenes, 'annotations.json'), 'utf8')) as Coco;
  const images = join(scenes, 'images');
  const file = (i: number): string => join(images, clean.images[i]!.file_name.replace(/^images\//, ''));
  // Image 1: its PNG cut short. Image 2: a JPEG of it, cut short. Image 3: its first box pushed out of the picture.
  const png = readFileSync(file(1));
  writeFileSync(join(images, 'cut.png'), png.subarray(0, Math.floor(png.length * 0.6)));
  const jpeg = await sharp(readFileSync(file(2))).jpeg({ quality: 95 }).toBuffer();
  writeFileSync(join(images, 'cut.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
  const variant = (name: string, change: (c: Coco) => void): string => {
    const c = JSON.parse(JSON.stringify(clean)) as Coco;
    change(c);
    const path = join(scenes, `${name}.json`);
    writeFileSync(path, JSON.stringify(c));
    return path;
  };
  const cutPng = (c: Coco): void => { c.images[1]!.file_name = c.images[1]!.file_name.replace(/[^/]+$/, 'cut.png'); };
  const cutJpeg = (c: Coco): void => { c.images[2]!.file_name = c.images[2]!.file_name.replace(/[^/]+$/, 'cut.jpg'); };
  const outside = (c: Coco): void => { c.annotations.find((a) => a.image_id === c.images[3]!.id)!.bbox = [50, 10, 30, 20]; };
  return {
    cutPng: variant('cut-png', cutPng), cutJpeg: variant('cut-jpeg', cutJpeg), outside: variant('outside', outside),
    all: variant('all-bad', (c) => { cutPng(c); cutJpeg(c); outside(c); }),
    // Records the COCO reader itself rejects: a negative width, a category the file does not list.
    records: variant('bad-records', (c) => {
      c.annotations.find((a) => a.image_id === c.images[4]!.id)!.bbox = [10, 10, -5, 4];
      c.annotations.find((a) => a.image_id === c.images[5]!.id)!.category_id = 999;
    }),
  };
}

function train(data: string, out: string, ...extra: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'train', '--config', join(dir, 'toy.json'), '--data', data, '--out', join(dir, out), '--runtime', 'reference', '--no-progress', ...extra], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let sets: Record<string, string>;
test.before(async () => { config(); sets = await datasets(); });

test('without --skip-bad: a truncated PNG, a truncated JPEG, a box outside the image are each one error naming the file and the record', () => {
  const cases: [string, RegExp][] = [
    [sets.cutPng!, /cut\.png: the image: cannot decode image \(corrupt, truncated or not PNG\/JPEG\)/],
    [sets.cutJpeg!, /cut\.jpg: the image: cannot decode image \(corrupt, truncated or not PNG\/JPEG\)/],
    [sets.outside!, /\.png: annotations\[\d+\] \(id \d+\): box \[50, 10, 80, 30\] \(x1, y1, x2, y2\) lies outside the 64×64 image/],
  ];
  for (const [data, re] of cases) {
    const r = train(data, 'strict');
    const out = r.stdout + r.stderr;
    assert.is(r.status, 1, out);
    assert.match(out, re);
    assert.match(out, /--skip-bad/, 'the hint names the flag');
    assert.not.match(out, /\n\s+at /, 'no stack trace');
  }
});

test('with --skip-bad: one warning line each, the count, and training on the rest', () => {
  const r = train(sets.all!, 'lenient', '--skip-bad');
  assert.is(r.status, 0, r.stdout + r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: --skip-bad: skipping '));
  assert.is(warnings.length, 3, r.stderr);
  assert.match(warnings[0]!, /cut\.png: the image: cannot decode image/);
  assert.match(warnings[1]!, /cut\.jpg: the image: cannot decode image/);
  assert.match(warnings[2]!, /annotations\[\d+\] \(id \d+\): box \[50, 10, 80, 30\].* lies outside the 64×64 image/);
  assert.match(r.stderr, /--skip-bad: skipped 3 of 6 images \(0 missing, 2 undecodable, 1 with inconsistent annotations\); training on 3/);
  assert.match(r.stdout, /trained steps 0\.\.1/);
});

test('bad annotation records (negative width, unknown category): one error naming the file and record, or under --skip-bad a warning each and the count', () => {
  const strict = train(sets.records!, 'records-strict');
  assert.is(strict.status, 1, strict.stdout + strict.stderr);
  assert.match(strict.stderr, /bad-records\.json/);
  assert.match(strict.stderr, /annotations\[\d+\]/);
  assert.not.match(strict.stderr, /\n\s+at /, 'no stack trace');
  const r = train(sets.records!, 'records-lenient', '--skip-bad');
  assert.is(r.status, 0, r.stdout + r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('warning: --skip-bad: skipping a record of '));
  assert.is(lines.length, 2, r.stderr);
  assert.match(r.stderr, /and 2 bad annotation records; training on 6/);
  assert.match(r.stdout, /trained steps 0\.\.1/);
});

test('a clean dataset trains without a word about skipping', () => {
  const r = train(join(scenes, 'annotations.json'), 'clean', '--skip-bad');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.not.match(r.stderr, /skip/);
});

test.run();
