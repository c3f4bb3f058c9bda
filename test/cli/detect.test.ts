// `fusedet detect`, `fusedet eval --weights` and `fusedet run --weights` as a
// user runs them (the reference runtime keeps them quick), and their bad
// input: a missing or corrupt image (named; --skip-bad counts and skips),
// weights of another config, a --data folder without annotations; and an
// .odgt detections file whose boxes carry an integer tag.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWeights } from '../models/detect-weights.js';

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'fusedet-detect-cli-'));
const scenes = join(dir, 'scenes');
const made = cli('data', 'scenes', '--out', scenes, '--images', '3', '--size', '64', '--crowd', '0.5', '--seed', '4');
if (made.code !== 0) throw new Error(made.err);
const weights = writeWeights('tiny-defcn', dir);
const images = join(scenes, 'images');

test('detect on a folder: a PNG and a JSON per image, boxes inside the image', () => {
  const out = join(dir, 'det');
  const r = cli('detect', '--weights', weights, images, '--out', out, '--runtime', 'reference');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /3 images, \d+ detections \(tiny-defcn, without NMS, reference\)/);
  const files = readdirSync(out).sort();
  assert.equal(files, ['000000.json', '000000.png', '000001.json', '000001.png', '000002.json', '000002.png']);
  const j = JSON.parse(readFileSync(join(out, '000001.json'), 'utf8'));
  assert.is(j.width, 64);
  assert.ok(j.detections.length > 0);
  for (const d of j.detections) assert.ok(d.box[0] >= 0 && d.box[2] <= 64 && d.score > 0.05 && typeof d.name === 'string');
  assert.ok(readFileSync(join(out, '000001.png')).subarray(1, 4).toString() === 'PNG');
});

test('a missing image and a corrupt one are named; --skip-bad counts and skips them', () => {
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  copyFileSync(join(images, '000000.png'), join(bad, 'good.png'));
  writeFileSync(join(bad, 'broken.png'), 'not a png at all');
  let r = cli('detect', '--weights', weights, join(dir, 'nope.png'), '--out', join(dir, 'o1'), '--runtime', 'reference');
  assert.is(r.code, 1);
  assert.match(r.err, /nope\.png: .*no such file/);
  assert.not.match(r.err, /\n\s+at /, 'no stack trace');
  r = cli('detect', '--weights', weights, bad, '--out', join(dir, 'o2'), '--runtime', 'reference');
  assert.is(r.code, 1);
  assert.match(r.err, /broken\.png: cannot (decode image|read image header)/);
  assert.not.match(r.err, /\n\s+at /);
  r = cli('detect', '--weights', weights, bad, '--out', join(dir, 'o3'), '--runtime', 'reference', '--skip-bad');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /1 images, .*skipped 1 unreadable image/);
  assert.ok(existsSync(join(dir, 'o3', 'good.json')));
});

test('weights of another config: exit 1, the first mismatching tensor named', () => {
  const r = cli('detect', '--weights', weights, '--config', 'tiny-fcos', images, '--out', join(dir, 'o4'), '--runtime', 'reference');
  assert.is(r.code, 1);
  assert.match(r.err, /weights of another config: .*tensor 'net\./);
  assert.not.match(r.err, /\n\s+at /);
});

test('eval --weights --data: both NMS settings and both protocols, files and eval.json written', () => {
  const out = join(dir, 'ev');
  const r = cli('eval', '--weights', weights, '--data', scenes, '--nms', 'both', '--runtime', 'reference', '--out', out);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /metric\s+w\/o NMS\s+w\/ NMS\s+Δ/);
  for (const m of ['AP', 'AP50', 'AR100', 'CH AP50', 'CH mMR', 'CH recall']) assert.match(r.out, new RegExp(`\\n${m}\\s`));
  const j = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
  assert.is(j.rows.length, 2);
  assert.equal(j.rows.map((w: { nms: boolean }) => w.nms), [false, true]);
  assert.ok(typeof j.rows[0].coco.AP === 'number' && typeof j.rows[1].crowdhuman.mMR === 'number');
  for (const f of ['detections-no-nms.json', 'detections-no-nms.odgt', 'detections-nms.json', 'detections-nms.odgt']) assert.ok(existsSync(join(out, f)), f);
  // The written files score the same through the --gt/--dets form.
  const again = cli('eval', '--gt', join(scenes, 'annotations.json'), '--dets', join(out, 'detections-nms.json'), '--json');
  assert.is(again.code, 0, again.err);
  assert.ok(Math.abs(JSON.parse(again.out).AP - j.rows[1].coco.AP) < 1e-12);
});

test('eval --data on a folder without annotations, and --weights without --data', () => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  let r = cli('eval', '--weights', weights, '--data', empty, '--runtime', 'reference');
  assert.is(r.code, 1);
  assert.match(r.err, /empty: the folder has no annotations/);
  r = cli('eval', '--weights', weights);
  assert.is(r.code, 2);
  assert.match(r.err, /--weights needs --data/);
});

test('eval --nms-range: not a number, without --nms-per-level, an even range: one message each', () => {
  let r = cli('eval', '--weights', weights, '--data', scenes, '--nms-per-level', '--nms-range', 'wide');
  assert.is(r.code, 2);
  assert.match(r.err, /--nms-range 'wide' is not a whole number/);
  r = cli('eval', '--weights', weights, '--data', scenes, '--nms-range', '3');
  assert.is(r.code, 2);
  assert.match(r.err, /--nms-range needs --nms-per-level/);
  r = cli('eval', '--weights', weights, '--data', scenes, '--nms-per-level', '--nms-range', '4', '--runtime', 'reference', '--out', join(dir, 'even'));
  assert.is(r.code, 1, r.err);
  assert.match(r.err, /NMS spatial range 4 must be an odd number/);
});

test('run --weights IMAGE prints the detections as JSON', () => {
  const r = cli('run', '--weights', weights, join(images, '000002.png'), '--runtime', 'reference');
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.height, 64);
  assert.ok(j.detections.length > 0 && j.detections.every((d: { score: number }) => d.score > 0.05));
});

test('.odgt detections with an integer tag ("tag": 1) or none are read', () => {
  const gt = readFileSync(join(scenes, 'annotations.odgt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const lines = gt.map((g: { ID: string; gtboxes: { fbox: number[] }[] }, k: number) =>
    JSON.stringify({ ID: g.ID, dtboxes: g.gtboxes.map((b, i) => (k === 0 ? { box: b.fbox, score: 0.9 - i * 0.01 } : { box: b.fbox, score: 0.9, tag: 1 })) }));
  const dets = join(dir, 'tagged.odgt');
  writeFileSync(dets, lines.join('\n') + '\n');
  const r = cli('eval', '--gt', join(scenes, 'annotations.odgt'), '--dets', dets, '--json');
  assert.is(r.code, 0, r.err);
  const m = JSON.parse(r.out);
  assert.is(m.recall, 1, 'the GT boxes themselves find every GT box');
});

test.run();
