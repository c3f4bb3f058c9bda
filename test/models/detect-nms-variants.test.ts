// Table 2's NMS variants in postprocess.fd (pp_level ×5 then pp_select) against
// a straightforward JS reference on small random inputs: no NMS, NMS across
// scales, NMS per scale (no spatial limit) and per scale within a k×k window
// (k = 1, 3, 5). Each keeps the same boxes, scores and labels in the same
// order, on the reference interpreter and on the CPU runtime. The inputs make
// the variants differ (the test checks that too, so a variant that ignored its
// option would fail). And the configs of Table 2's rows turn into the
// detect entry's arguments; bad ranges are clear errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkFilesOrThrow } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { interpret } from '../../compiler/interpret.js';
import { compileGraph } from '../../compiler/program.js';
import { Tensor, rng } from '../../compiler/tensor.js';
import type { Graph } from '../../compiler/graph.js';
import { ConfigError, loadConfig, parseConfig } from '../../models/config.js';
import { DetectorError, detectArgs, lowerDetect } from '../../models/detector.js';
import { decisiveWeights } from './detect-weights.js';
import { cpuOrSkip } from '../helpers/skip.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-nms-variants-'));
const src = join(dir, 'variants.fd');
// postprocess.fd is found through the include folder (imports stay inside the checked files' folders otherwise).
writeFileSync(src, `import "postprocess.fd"
module T(detections: int = 1000, nms_on: bool = true, nms_iou: float = 0.6, nms_per_level: bool = false, nms_range: int = 0, thresh: float = 0.3, topk: int = 1000) {
  strides = [8, 16, 32, 64, 128]
  fn forward(s3: f32[B, K, H3, W3], s4: f32[B, K, H4, W4], s5: f32[B, K, H5, W5], s6: f32[B, K, H6, W6], s7: f32[B, K, H7, W7],
             d3: f32[B, 4, H3, W3], d4: f32[B, 4, H4, W4], d5: f32[B, 4, H5, W5], d6: f32[B, 4, H6, W6], d7: f32[B, 4, H7, W7], info: f32[B, 4]) {
    let ss = (s3, s4, s5, s6, s7)
    let ds = (d3, d4, d5, d6, d7)
    let cands = [for l in 0..5: pp_level(ss[l], ss[l], ds[l], strides[l], topk, thresh)]
    let (boxes, scores, labels, count) = pp_select(cands, info, detections, nms_on, nms_iou, nms_per_level, nms_range)
    return (boxes, scores, labels, count)
  }
}
`);

const STRIDES = [8, 16, 32, 64, 128];
// A 64×64 image: P3 8×8 … P7 1×1.
const SIDES = [8, 4, 2, 1, 1];
const K = 3, B = 2, THRESH = 0.3, IOU = 0.6;

interface Variant { name: string; args: Record<string, number | boolean>; group: 'none' | 'all' | 'level'; range: number }
const VARIANTS: Variant[] = [
  { name: 'no NMS', args: { nms_on: false }, group: 'none', range: 0 },
  { name: 'NMS across scales (∞×∞)', args: { nms_on: true }, group: 'all', range: 0 },
  { name: 'NMS per scale (∞×∞)', args: { nms_on: true, nms_per_level: true }, group: 'level', range: 0 },
  ...[1, 3, 5].map((k): Variant => ({ name: `NMS per scale (${k}×${k})`, args: { nms_on: true, nms_per_level: true, nms_range: k }, group: 'level', range: k })),
];

/** Random maps: scores uniform, ltrb 16..40 px on every level (boxes of neighbouring locations and levels overlap, many by IoU > 0.6), one info row per image. */
function inputs(seed: number): Record<string, Tensor> {
  const next = rng(seed);
  const out: Record<string, Tensor> = {};
  SIDES.forEach((n, l) => {
    out[`s${l + 3}`] = { dtype: 'f32', shape: [B, K, n, n], data: Float32Array.from({ length: B * K * n * n }, () => next()) };
    out[`d${l + 3}`] = { dtype: 'f32', shape: [B, 4, n, n], data: Float32Array.from({ length: B * 4 * n * n }, () => 16 + 24 * next()) };
  });
  // Image 0 at network size; image 1 scaled by 1.5 and clipped to a smaller original (boxes cut at its border).
  out.info = { dtype: 'f32', shape: [B, 4], data: Float32Array.from([1, 1, 64, 64, 1.5, 1.25, 70, 50]) };
  return out;
}

interface Det { box: number[]; score: number; label: number }
interface Cand { box: number[]; score: number; label: number; level: number; x: number; y: number }

function iou(a: number[], b: number[]): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/** The reference: per level the top candidates by score above the threshold, merged; the variant; the best d; rescale, clip, drop empty. */
function reference(x: Record<string, Tensor>, v: Variant, b: number, d: number): Det[] {
  const merged: Cand[] = [];
  SIDES.forEach((n, l) => {
    const s = x[`s${l + 3}`].data, dd = x[`d${l + 3}`].data, stride = STRIDES[l];
    const level: (Cand & { flat: number })[] = [];
    for (let y = 0; y < n; y++) for (let xx = 0; xx < n; xx++) for (let c = 0; c < K; c++) {
      const score = s[((b * K + c) * n + y) * n + xx];
      if (!(score > THRESH)) continue;
      const at = (k: number): number => dd[((b * 4 + k) * n + y) * n + xx];
      const cx = (xx + 0.5) * stride, cy = (y + 0.5) * stride;
      level.push({ box: [cx - at(0), cy - at(1), cx + at(2), cy + at(3)], score, label: c, level: l, x: xx, y, flat: (y * n + xx) * K + c });
    }
    level.sort((p, q) => q.score - p.score || p.flat - q.flat);
    merged.push(...level.slice(0, Math.min(1000, n * n)));
  });
  const order = merged.map((_, i) => i).sort((i, j) => merged[j].score - merged[i].score || i - j);
  let chosen: number[];
  if (v.group === 'none') chosen = order;
  else if (v.range > 0) {
    const reach = (v.range - 1) / 2;
    const rank = new Map(order.map((i, r) => [i, r]));
    chosen = order.filter((j) => !merged.some((p, i) => {
      const q = merged[j];
      return i !== j && rank.get(i)! < rank.get(j)! && p.level === q.level && p.label === q.label &&
        Math.abs(p.x - q.x) <= reach && Math.abs(p.y - q.y) <= reach && iou(p.box, q.box) > IOU;
    }));
  } else {
    // Greedy NMS, boxes grouped by class (and level, per scale).
    chosen = [];
    const gone = new Set<number>();
    for (const i of order) {
      if (gone.has(i)) continue;
      chosen.push(i);
      for (const j of order) {
        const p = merged[i], q = merged[j];
        if (j !== i && p.label === q.label && (v.group === 'all' || p.level === q.level) && iou(p.box, q.box) > IOU) gone.add(j);
      }
    }
  }
  const info = x.info.data.subarray(4 * b, 4 * b + 4);
  const out: Det[] = [];
  for (const i of chosen.slice(0, d)) {
    const c = merged[i];
    const box = c.box.map((v, k) => Math.min(Math.max(v * info[k % 2], 0), info[2 + (k % 2)]));
    if (box[2] > box[0] && box[3] > box[1]) out.push({ box, score: c.score, label: c.label });
  }
  return out;
}

const program = checkFilesOrThrow([src], { include: [resolve('models')] });
function graph(x: Record<string, Tensor>, args: Record<string, number | boolean>): Graph {
  const shapes = Object.fromEntries(Object.entries(x).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape }]));
  return lower(program, { entry: 'T', inputs: shapes, args });
}

function detections(o: Record<string, Tensor>, b: number): Det[] {
  const D = o.scores.data.length / B;
  return Array.from({ length: o.count.data[b] }, (_, r) => ({
    box: Array.from(o.boxes.data.subarray(4 * (b * D + r), 4 * (b * D + r) + 4)), score: o.scores.data[b * D + r], label: o.labels.data[b * D + r],
  }));
}

function inputsImage(): Tensor {
  const next = rng(21);
  return { dtype: 'f32', shape: [1, 3, 64, 64], data: Float32Array.from({ length: 3 * 64 * 64 }, () => 4 * next() - 2) };
}

/** Image 0's detections of a batch-1 detect entry's outputs. */
function detections1(o: Record<string, Tensor>): Det[] {
  return Array.from({ length: o.count.data[0] }, (_, r) => ({ box: Array.from(o.boxes.data.subarray(4 * r, 4 * r + 4)), score: o.scores.data[r], label: o.labels.data[r] }));
}

function same(got: Det[], want: Det[], what: string): void {
  assert.is(got.length, want.length, `${what}: count`);
  got.forEach((g, i) => {
    const w = want[i];
    assert.is(g.label, w.label, `${what}: label of detection ${i}`);
    assert.ok(Math.abs(g.score - w.score) < 1e-6, `${what}: score of detection ${i}: ${g.score} vs ${w.score}`);
    assert.ok(g.box.every((v, k) => Math.abs(v - w.box[k]) < 1e-3), `${what}: box of detection ${i}: ${g.box} vs ${w.box}`);
  });
}

const SEEDS = [3, 11, 29];

test('each Table 2 variant keeps what the JS reference keeps (reference interpreter; 3 random inputs, 2 images, all kept and 12 kept)', () => {
  for (const seed of SEEDS) {
    const x = inputs(seed);
    for (const v of VARIANTS) for (const d of [1000, 12]) {
      const o = interpret(graph(x, { ...v.args, detections: d }), x, new Map());
      for (let b = 0; b < B; b++) same(detections(o, b), reference(x, v, b, d), `seed ${seed}, ${v.name}, d ${d}, image ${b}`);
    }
  }
});

test('the variants differ as Table 2 orders them: across ⊂ per scale ⊂ 5×5 ⊂ 3×3 ⊂ 1×1 = no NMS (counts)', () => {
  const x = inputs(SEEDS[0]);
  const counts = VARIANTS.map((v) => reference(x, v, 0, 1000).length);
  const [none, across, perScale, k1, k3, k5] = counts;
  assert.ok(across < perScale && perScale <= k5 && k5 < k3 && k3 < none, `counts ${VARIANTS.map((v, i) => `${v.name} ${counts[i]}`).join(', ')}`);
  assert.is(k1, none, '1×1 drops nothing');
});

test("the detectors' detect entries take the spatial range: on tiny-fcos and tiny-defcn, 1×1 keeps what no NMS keeps and 3×3 keeps fewer", () => {
  const image = inputsImage();
  const info: Tensor = { dtype: 'f32', shape: [1, 4], data: Float32Array.from([1, 1, 64, 64]) };
  for (const name of ['tiny-fcos', 'tiny-defcn']) {
    const cfg = loadConfig(name);
    // Every box 40×40 px around its location (ltrb = relu(scale_l · 2.5) · stride_l = 20 with scale_l = 8 / stride_l,
    // as in detect-post.test.ts): the neighbours of a location overlap it by IoU 0.67, two cells away by less.
    const w = decisiveWeights(cfg, 3);
    w.set('head.box.weight', { ...w.get('head.box.weight')!, data: new Float32Array(w.get('head.box.weight')!.data.length) });
    w.set('head.box.bias', { ...w.get('head.box.bias')!, data: Float32Array.from([2.5, 2.5, 2.5, 2.5]) });
    w.set('head.scales', { ...w.get('head.scales')!, data: Float32Array.from([1, 0.5, 0.25, 0.125, 0.0625]) });
    const run = (o: Record<string, number | boolean>): Det[] => {
      const g = lowerDetect(cfg, detectArgs(cfg, { detections: 1000, scoreThreshold: 0.3, ...o }), 1, 64, 64);
      return detections1(interpret(g, { image, info }, w));
    };
    const none = run({ nms: false }), one = run({ nms: true, nmsPerLevel: true, nmsRange: 1 }), three = run({ nms: true, nmsPerLevel: true, nmsRange: 3 });
    assert.equal(one, none, `${name}: 1×1`);
    assert.ok(three.length > 0 && three.length < none.length, `${name}: 3×3 keeps ${three.length} of ${none.length}`);
  }
});

const cpu = await cpuOrSkip();
cpu.test('CPU runtime: each variant keeps what the JS reference keeps', async () => {
  const x = inputs(SEEDS[1]);
  for (const v of VARIANTS) {
    const exe = await cpu.runtime!.load(compileGraph(graph(x, { ...v.args, detections: 12 }), cpu.runtime!.target, {}));
    try {
      const o = await exe.run(x);
      for (let b = 0; b < B; b++) same(detections(o, b), reference(x, v, b, 12), `CPU, ${v.name}, image ${b}`);
    } finally { exe.dispose(); }
  }
});

test("Table 2's configs become the detect entry's arguments", () => {
  const expect: [string, boolean, number][] = [['table2-fcos-across-scales', false, 0], ['table2-fcos-per-scale', true, 0],
    ['table2-fcos-per-scale-1x1', true, 1], ['table2-fcos-per-scale-3x3', true, 3], ['table2-fcos-per-scale-5x5', true, 5]];
  const fcos = loadConfig('table5-fcos');
  for (const [name, perLevel, range] of expect) {
    const c = loadConfig(name);
    assert.is(c.modelHash, fcos.modelHash, `${name}: the weights of table5-fcos load`);
    const a = detectArgs(c, {});
    assert.equal([a.nms_on, a.nms_per_level, a.nms_range], [true, perLevel, range], name);
  }
  // An option overrides the config's.
  assert.is(detectArgs(loadConfig('table2-fcos-per-scale-3x3'), { nmsRange: 5 }).nms_range, 5);
});

test('a bad spatial range is an error naming the file and the field', () => {
  const raw = { ...JSON.parse(JSON.stringify(loadConfig('table2-fcos-per-scale-3x3'))) };
  const file = { description: raw.description, train: raw.train, infer: raw.infer, schedule: raw.schedule, data: raw.data };
  const inf = (o: Record<string, unknown>) => ({ ...file, inference: { detections: 100, nms: true, ...o } });
  assert.throws(() => parseConfig(inf({ nmsPerLevel: true, nmsRange: 4 }), 'x.json'), (e: Error) => e instanceof ConfigError && /x\.json: inference\.nmsRange must be odd/.test(e.message));
  assert.throws(() => parseConfig(inf({ nmsRange: 3 }), 'x.json'), (e: Error) => e instanceof ConfigError && /x\.json: inference\.nmsRange .*needs inference\.nmsPerLevel true/.test(e.message));
  const c = loadConfig('table2-fcos-per-scale');
  assert.throws(() => detectArgs(c, { nmsRange: 2 }), (e: Error) => e instanceof DetectorError && /table2-fcos-per-scale\.json: NMS spatial range 2 must be an odd number/.test(e.message));
  assert.throws(() => detectArgs(loadConfig('table5-fcos'), { nmsRange: 3 }), (e: Error) => e instanceof DetectorError && /needs NMS per level/.test(e.message));
});

test.run();
