// The Node entry of the library API (api/index.ts): a file path, its bytes,
// decoded pixels and a model input tensor give the detections
// models/detector.ts gives for the file (the CLI's path), exactly, on the
// reference interpreter; a batch equals its images one by one; each kind of
// mistake is its own error class; dispose() ends the detector.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Detector, DisposedError, FusedetError, ImageInputError, WeightsError, ModelError, type Detections } from '../../api/index.js';
import { Detector as ModelDetector } from '../../models/detector.js';
import { readImage, writePng } from '../../data/image.js';
import { writeWeights } from '../models/detect-weights.js';
import { rejects } from '../runtime-webgpu/open.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-api-'));
const weights = writeWeights('tiny-defcn', dir);
const fcosWeights = writeWeights('tiny-fcos', dir);

/** A textured image (80×64 is resized to 64×51: max side 64; 64×64 is not resized). */
async function image(name: string, w: number, h: number, seed: number): Promise<string> {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * seed + (i >> 7) * 13) % 251;
  const path = join(dir, name);
  await writePng(path, { width: w, height: h, data });
  return path;
}
const square = await image('square.png', 64, 64, 37);
const wide = await image('wide.png', 80, 64, 53);

const det = await Detector.create({ weights, runtime: 'reference' });
const model = await ModelDetector.load({ weights, runtime: 'reference' });

function asList(d: Detections): { box: number[]; score: number; label: number }[] {
  return Array.from({ length: d.count }, (_, i) => ({ box: Array.from(d.boxes.subarray(4 * i, 4 * i + 4)), score: d.scores[i]!, label: d.labels[i]! }));
}

test('a file path gives what models/detector.ts gives for the file, in original pixels', async () => {
  for (const path of [square, wide]) {
    const got = await det.detect(path);
    const want = await model.detectFile(path);
    assert.ok(got.count > 0, 'the decisive weights detect something');
    assert.is(got.width, want.width); assert.is(got.height, want.height);
    assert.equal(asList(got), want.detections.map((d) => ({ box: [...d.box], score: d.score, label: d.label })));
    assert.ok(got.timings.totalMs >= got.timings.runMs && got.timings.runMs > 0);
  }
  assert.is(det.runtime, 'reference');
});

test('bytes, RGBA pixels and a batch give the same detections as the path', async () => {
  const want = asList(await det.detect(square));
  assert.equal(asList(await det.detect(readFileSync(square))), want);
  const rgb = await readImage(square);
  const rgba = new Uint8ClampedArray(64 * 64 * 4);
  for (let p = 0; p < 64 * 64; p++) { rgba.set(rgb.data.subarray(3 * p, 3 * p + 3), 4 * p); rgba[4 * p + 3] = 255; }
  assert.equal(asList(await det.detect({ width: 64, height: 64, data: rgba })), want);
  const batch = await det.detect([square, readFileSync(square)]);
  assert.is(batch.length, 2);
  batch.forEach((b) => assert.equal(asList(b), want));
  const one = await det.detect([wide]);
  assert.ok(Array.isArray(one) && one.length === 1, 'a list of one gives a list');
});

test('a model input tensor is used as is: boxes in its pixels', async () => {
  const data = new Float32Array(3 * 64 * 96);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 2;
  const got = await det.detect({ dtype: 'f32', shape: [1, 3, 64, 96], data });
  assert.is(got.width, 96); assert.is(got.height, 64);
  for (let i = 0; i < got.count; i++) assert.ok(got.boxes[4 * i + 2]! <= 96 && got.boxes[4 * i + 3]! <= 64);
  await rejects(() => det.detect({ dtype: 'f32', shape: [4, 64, 64], data: new Float32Array(4 * 64 * 64) }), (e) => e instanceof ImageInputError && /\[3, H, W\]/.test((e as Error).message));
});

test('mistakes are typed errors naming the input', async () => {
  const bad = join(dir, 'bad.png');
  writeFileSync(bad, 'not an image');
  await rejects(() => det.detect(bad), (e) => e instanceof ImageInputError && e instanceof FusedetError && (e as Error).message.includes(bad));
  await rejects(() => det.detect(join(dir, 'missing.png')), (e) => e instanceof ImageInputError && /no such file/.test((e as Error).message));
  await rejects(() => det.detect(Buffer.from('garbage')), (e) => e instanceof ImageInputError && /cannot decode/.test((e as Error).message));
  await rejects(() => det.detect(42 as unknown as string), (e) => e instanceof ImageInputError);
  const corrupt = join(dir, 'corrupt.safetensors');
  writeFileSync(corrupt, readFileSync(weights).subarray(0, 200));
  await rejects(() => Detector.create({ weights: corrupt }), (e) => e instanceof WeightsError && (e as Error).message.includes(corrupt));
  await rejects(() => Detector.create({ weights: readFileSync(weights).subarray(0, 200) }), (e) => e instanceof WeightsError && /truncated|corrupt/.test((e as Error).message));
  await rejects(() => Detector.create({ weights: join(dir, 'none.safetensors') }), (e) => e instanceof WeightsError && /no such file/.test((e as Error).message));
  await rejects(() => Detector.create({ weights: fcosWeights, config: 'tiny-defcn', runtime: 'reference' }), (e) => e instanceof WeightsError && /another config|trained with/.test((e as Error).message));
  await rejects(() => Detector.create({ weights, config: 'no-such-config', runtime: 'reference' }), (e) => e instanceof ModelError && /no-such-config/.test((e as Error).message));
});

test('weights as bytes; dispose() ends the detector', async () => {
  const d = await Detector.create({ weights: readFileSync(weights), runtime: 'reference' });
  assert.equal(asList(await d.detect(square)), asList(await det.detect(square)));
  d.dispose();
  await rejects(() => d.detect(square), (e) => e instanceof DisposedError);
});

test.run();
