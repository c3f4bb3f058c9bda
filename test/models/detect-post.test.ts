// 3DMF as post-processing on FCOS (Table 5, `max_filter`): with a 1×1×1
// window (tau 0, phi 1) it changes nothing; with the default window it only
// removes candidates (scores that are not their neighbourhood's maximum), so
// where no level's cap binds it detects fewer, and what it keeps is what the
// unfiltered run scores at the same place. NMS per level (Table 2) sits
// between NMS over all levels and no NMS. On the reference interpreter.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { interpret } from '../../compiler/interpret.js';
import { Tensor, randomTensor } from '../../compiler/tensor.js';
import { loadConfig } from '../../models/config.js';
import { lowerDetect } from '../../models/detector.js';
import { decisiveWeights } from './detect-weights.js';
import { checkFilesOrThrow } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';

const cfg = loadConfig('tiny-fcos');
const weights = decisiveWeights(cfg, 3);
const image = randomTensor([1, 3, 64, 64], 21, -2, 2);
const info: Tensor = { dtype: 'f32', shape: [1, 4], data: Float32Array.from([1, 1, 64, 64]) };

function run(extra: Record<string, number | boolean>, w: Map<string, Tensor> = weights): { boxes: number[][]; scores: number[]; labels: number[] } {
  const g = lowerDetect(cfg, { ...cfg.infer.args, nms_on: false, detections: 1000, ...extra }, 1, 64, 64);
  const o = interpret(g, { image, info }, w);
  const n = o.count.data[0];
  return {
    boxes: Array.from({ length: n }, (_, i) => Array.from(o.boxes.data.subarray(4 * i, 4 * i + 4))),
    scores: Array.from(o.scores.data.subarray(0, n)), labels: Array.from(o.labels.data.subarray(0, n)),
  };
}

test('a 1×1×1 max filter is the identity', () => {
  assert.equal(run({ max_filter: true, tau: 0, phi: 1 }), run({ max_filter: false }));
});

test('the default max filter (tau 2, phi 3) only removes candidates', () => {
  // A threshold high enough that no level has more candidates than its cap (H·W): both runs keep every candidate.
  const all = run({ max_filter: false, score_thresh: 0.97 }), kept = run({ max_filter: true, score_thresh: 0.97 });
  assert.ok(kept.scores.length > 0 && kept.scores.length < all.scores.length, `${kept.scores.length} of ${all.scores.length}`);
  const key = (b: number[], l: number): string => `${l}:${b.map((v) => v.toFixed(3)).join(',')}`;
  const seen = new Map(all.boxes.map((b, i) => [key(b, all.labels[i]), all.scores[i]]));
  kept.boxes.forEach((b, i) => assert.is(seen.get(key(b, kept.labels[i])), kept.scores[i], `kept detection ${i} is one of the unfiltered ones`));
});

test('NMS per level (Table 2) suppresses only within a level: it keeps at least what NMS over all levels keeps', () => {
  // Every box 40×40 px around its location on every level (ltrb = relu(scale_l · 2.5) · stride_l = 20 with
  // scale_l = 8 / stride_l): neighbours overlap by IoU 0.67 within a level and 0.68..0.82 across levels.
  const w = new Map(weights);
  w.set('head.box.weight', { ...weights.get('head.box.weight')!, data: new Float32Array(weights.get('head.box.weight')!.data.length) });
  w.set('head.box.bias', { ...weights.get('head.box.bias')!, data: Float32Array.from([2.5, 2.5, 2.5, 2.5]) });
  w.set('head.scales', { ...weights.get('head.scales')!, data: Float32Array.from([1, 0.5, 0.25, 0.125, 0.0625]) });
  const global = run({ nms_on: true, score_thresh: 0.5 }, w), perLevel = run({ nms_on: true, nms_per_level: true, score_thresh: 0.5 }, w);
  const none = run({ score_thresh: 0.5 }, w);
  assert.ok(global.scores.length < perLevel.scores.length && perLevel.scores.length < none.scores.length,
    `${global.scores.length} <= ${perLevel.scores.length} <= ${none.scores.length}`);
});

test('FCOS with centerness: candidates by σ(cls) > threshold, scored sqrt(σ(cls)·σ(ctr)), boxes location ∓ ltrb', () => {
  const cc = { ...cfg, infer: { ...cfg.infer, args: { ...cfg.infer.args, centerness: true } } };
  const w = decisiveWeights(cc, 5);
  const g = lowerDetect(cc, { ...cc.infer.args, nms_on: false, detections: 1000 }, 1, 64, 64);
  const o = interpret(g, { image, info }, w);
  const f = interpret(lower(checkFilesOrThrow([cc.infer.source]), { entry: cc.infer.module, args: cc.infer.args, inputs: { image: { dtype: 'f32', shape: [1, 3, 64, 64] } } }), { image }, w);
  const sig = (x: number): number => 1 / (1 + Math.exp(-x));
  // Every (location, class) with σ(cls) > 0.05: its score and clipped box.
  const cands: { s: number; label: number; box: number[] }[] = [];
  [8, 16, 32, 64, 128].forEach((stride, l) => {
    const cls = f[`cls.${l}`], box = f[`box.${l}`], ctr = f[`ctr.${l}`];
    const [, K, H, W] = cls.shape;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < K; c++) {
      const p = sig(cls.data[(c * H + y) * W + x]);
      if (!(p > 0.05)) continue;
      const d = [0, 1, 2, 3].map((k) => box.data[(k * H + y) * W + x]);
      const cx = (x + 0.5) * stride, cy = (y + 0.5) * stride;
      const clip = (v: number): number => Math.min(64, Math.max(0, v));
      cands.push({ s: Math.sqrt(p * sig(ctr.data[y * W + x])), label: c, box: [clip(cx - d[0]), clip(cy - d[1]), clip(cx + d[2]), clip(cy + d[3])] });
    }
  });
  const n = o.count.data[0];
  assert.ok(n > 10);
  for (let i = 0; i < n; i++) {
    const s = o.scores.data[i], label = o.labels.data[i], b = Array.from(o.boxes.data.subarray(4 * i, 4 * i + 4));
    const hit = cands.some((c) => c.label === label && Math.abs(c.s - s) < 1e-5 && c.box.every((v, k) => Math.abs(v - b[k]) < 1e-3));
    assert.ok(hit, `detection ${i} (${label}, ${s}) is a candidate's score and box`);
    if (i > 0) assert.ok(s <= o.scores.data[i - 1]);
  }
});

test.run();
