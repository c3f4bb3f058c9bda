// The detect entries (models/postprocess.fd) through models/detector.ts:
// the same checkpoint gives the same detections on the reference
// interpreter, the CPU runtime and WebGPU, within the tolerances below;
// rescaling to the original image; weights of another config; an image of
// an odd size; an image without detections.
//
// Tolerances (runtimes sum convolutions in other orders, ~1e-6 relative):
// each detection of one list matches one of the other with the same label,
// |Δscore| ≤ 1e-4 and every |Δcoordinate| ≤ 1e-2 px; counts equal; order
// may differ only between scores within 1e-4 (near ties), and a detection
// may be missing only at the cut (its score within 1e-4 of the lowest kept).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, randomTensor } from '../../compiler/tensor.js';
import { Detector, ImageDetections, DetectorError } from '../../models/detector.js';
import { writePng } from '../../data/image.js';
import { writeWeights } from './detect-weights.js';
import { cpuOrSkip } from '../helpers/skip.js';
import { openOrSkip } from '../runtime-webgpu/open.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-detect-test-'));
const defcnW = writeWeights('tiny-defcn', dir);
const fcosW = writeWeights('tiny-fcos', dir);

function input(B: number, H: number, W: number, sizes: [number, number][]): { image: Tensor; info: Tensor } {
  const info = new Float32Array(B * 4);
  sizes.forEach(([w, h], b) => info.set([w / W, h / H, w, h], 4 * b));
  return { image: randomTensor([B, 3, H, W], 11, -2, 2), info: { dtype: 'f32', shape: [B, 4], data: info } };
}

function sameDetections(got: ImageDetections[], want: ImageDetections[], where: string): void {
  assert.is(got.length, want.length);
  want.forEach((w, b) => {
    const g = got[b];
    assert.is(g.detections.length, w.detections.length, `${where} image ${b}: count`);
    const cut = Math.min(...w.detections.map((d) => d.score));
    const used = new Set<number>();
    for (const d of w.detections) {
      const k = g.detections.findIndex((e, i) => !used.has(i) && e.label === d.label && Math.abs(e.score - d.score) <= 1e-4 &&
        e.box.every((v, c) => Math.abs(v - d.box[c]) <= 1e-2));
      if (k < 0) { assert.ok(d.score - cut <= 1e-4, `${where} image ${b}: no match for ${JSON.stringify(d)}`); continue; }
      used.add(k);
    }
    for (let i = 1; i < g.detections.length; i++) assert.ok(g.detections[i].score <= g.detections[i - 1].score + 1e-4, `${where}: order`);
  });
}

const batch = input(2, 64, 96, [[96, 64], [150, 90]]);

async function detections(weights: string, runtime: string, opts: { nms?: boolean } = {}): Promise<ImageDetections[]> {
  const d = await Detector.load({ weights, runtime, ...opts });
  try { return await d.runBatch(batch.image, batch.info); } finally { d.dispose(); }
}

const reference = { defcn: await detections(defcnW, 'reference'), fcos: await detections(fcosW, 'reference') };

test('reference: detections exist, are sorted, inside the original image, with labels of the model', () => {
  for (const res of [reference.defcn, reference.fcos]) {
    res.forEach((r, b) => {
      assert.ok(r.detections.length > 5, `image ${b} has detections`);
      assert.ok(r.detections.length <= 100);
      for (const d of r.detections) {
        assert.ok(d.score > 0.05 && d.label >= 0 && d.label < 10);
        assert.ok(d.box[0] >= 0 && d.box[1] >= 0 && d.box[2] <= r.width && d.box[3] <= r.height && d.box[2] > d.box[0] && d.box[3] > d.box[1]);
      }
      for (let i = 1; i < r.detections.length; i++) assert.ok(r.detections[i].score <= r.detections[i - 1].score);
    });
  }
});

test('boxes are rescaled by info: the second image (150×90 from 96×64) is the first scaled by 1.5625×1.40625, clipped', async () => {
  const d = await Detector.load({ weights: defcnW, runtime: 'reference' });
  const same = input(2, 64, 96, [[96, 64], [150, 90]]);
  // Both rows see the same pixels.
  same.image.data.copyWithin(3 * 64 * 96, 0, 3 * 64 * 96);
  const [a, b] = await d.runBatch(same.image, same.info);
  assert.is(a.detections.length, b.detections.length);
  a.detections.forEach((x, i) => {
    const y = b.detections[i];
    assert.is(y.label, x.label);
    assert.ok(Math.abs(y.score - x.score) < 1e-6);
    const want = [x.box[0] * 150 / 96, x.box[1] * 90 / 64, x.box[2] * 150 / 96, x.box[3] * 90 / 64];
    y.box.forEach((v, c) => assert.ok(Math.abs(v - want[c]) < 1e-3, `box ${i} coordinate ${c}: ${v} vs ${want[c]}`));
  });
});

test('NMS on: DeFCN with NMS keeps a subset of its NMS-free detections, no same-class pair above IoU 0.6', async () => {
  const withNms = await detections(defcnW, 'reference', { nms: true });
  withNms.forEach((r, b) => {
    assert.ok(r.detections.length > 0 && r.detections.length <= reference.defcn[b].detections.length + 0);
    const iou = (p: number[], q: number[]): number => {
      const w = Math.max(0, Math.min(p[2], q[2]) - Math.max(p[0], q[0])), h = Math.max(0, Math.min(p[3], q[3]) - Math.max(p[1], q[1]));
      return (w * h) / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h);
    };
    for (let i = 0; i < r.detections.length; i++) for (let j = i + 1; j < r.detections.length; j++) {
      const p = r.detections[i], q = r.detections[j];
      // IoU in original pixels; NMS ran before the rescale, so allow a little slack.
      if (p.label === q.label) assert.ok(iou(p.box, q.box) <= 0.6 + 1e-3, `pair ${i}, ${j}`);
    }
  });
});

test('weights of another config: a clear error naming the first mismatching tensor', async () => {
  let err: unknown;
  try { await Detector.load({ weights: defcnW, config: 'tiny-fcos', runtime: 'reference' }); } catch (e) { err = e; }
  assert.ok(err instanceof DetectorError, String(err));
  assert.match((err as Error).message, /weights of another config: .*tensor 'net\.[a-z_.0-9]+'/);
  assert.ok((err as Error).message.includes(defcnW));
});

test('an image of odd size (padded to 32, boxes mapped back) and an image without detections', async () => {
  const path = join(dir, 'odd.png');
  const w = 101, h = 45, data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
  await writePng(path, { width: w, height: h, data });
  const d = await Detector.load({ weights: defcnW, runtime: 'reference' });
  const { image, info } = await d.prepare(path);
  assert.equal(image.shape.slice(2).map((s) => s % 32), [0, 0]);
  const r = await d.detectFile(path);
  assert.is(r.width, w); assert.is(r.height, h);
  assert.ok(r.detections.length > 0);
  for (const x of r.detections) assert.ok(x.box[2] <= w && x.box[3] <= h && x.box[0] >= 0 && x.box[1] >= 0);
  // Test size 64, max 64: 101×45 → 64×29, padded to 64×32; info maps back by 101/64, 45/29.
  assert.equal([...image.shape], [1, 3, 32, 64]);
  assert.ok(Math.abs(info.data[0] - 101 / 64) < 1e-6 && Math.abs(info.data[1] - 45 / 29) < 1e-6 && info.data[2] === w);
  // With the score threshold above every score, nothing is detected: count 0, an empty list.
  const none = await Detector.load({ weights: defcnW, runtime: 'reference', scoreThreshold: 0.999 });
  assert.equal((await none.detectFile(path)).detections, []);
});

const cpu = await cpuOrSkip();
cpu.test('CPU runtime gives the reference detections (DeFCN without NMS, FCOS with NMS)', async () => {
  sameDetections(await detections(defcnW, 'cpu'), reference.defcn, 'cpu defcn');
  sameDetections(await detections(fcosW, 'cpu'), reference.fcos, 'cpu fcos');
});

const gpu = await openOrSkip('test/models/detect.test.ts');
(gpu ? test : test.skip)('WebGPU gives the reference detections (DeFCN without NMS, FCOS with NMS)', async () => {
  sameDetections(await detections(defcnW, 'webgpu'), reference.defcn, 'webgpu defcn');
  sameDetections(await detections(fcosW, 'webgpu'), reference.fcos, 'webgpu fcos');
});

test.run();
