// `nms` against torchvision.ops.batched_nms (test/fixtures/nms/cases.json,
// made by tools/fixtures/nms_fixtures.py): the kept indices and their order,
// exactly, on 208 cases with score ties, duplicated boxes, IoU exactly at the
// threshold and up to 80 classes. Cases with the same threshold run as one
// batch (each image padded to the batch's N with score -inf boxes at 0, which
// neither get kept nor move the max coordinate of the class offset): on the
// op's reference, on the kernel-IR interpreter (small cases), on the CPU
// runtime (all) and on WebGPU (N ≤ 64; SwiftShader is slow).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { compileGraph } from '../../../compiler/program.js';
import { CPU } from '../../../compiler/target.js';
import { Tensor, tensor } from '../../../compiler/tensor.js';
import { NO_SPAN } from '../../../compiler/types.js';
import type { Runtime } from '../../../runtime/interface.js';
import { TestGraph, compileAndRun, referenceRun } from '../kernel/graphs.js';
import { cpuOrSkip } from '../../helpers/skip.js';
import { openOrSkip } from '../../runtime-webgpu/open.js';

interface Case { iou: number; boxes: number[]; scores: number[]; classes: number[]; keep: number[] }
const fixture = JSON.parse(readFileSync('test/fixtures/nms/cases.json', 'utf8')) as { cases: Case[] };
const cases = fixture.cases;

/** One batch: the cases of one threshold whose N is within [lo, hi]. */
function batch(iou: number, lo: number, hi: number): { t: TestGraph; group: Case[] } | undefined {
  const group = cases.filter((c) => c.iou === iou && c.scores.length >= lo && c.scores.length <= hi);
  if (group.length === 0) return undefined;
  const B = group.length, N = Math.max(...group.map((c) => c.scores.length));
  const boxes = new Array<number>(B * N * 4).fill(0), scores = new Array<number>(B * N).fill(-Infinity), classes = new Array<number>(B * N).fill(0);
  group.forEach((c, b) => {
    c.boxes.forEach((v, i) => { boxes[b * N * 4 + i] = v; });
    c.scores.forEach((v, i) => { scores[b * N + i] = v; classes[b * N + i] = c.classes[i]; });
  });
  const t = new TestGraph();
  const add = (name: string, x: Tensor): number => { t.inputs[name] = x; return t.b.input(name, { dtype: x.dtype, shape: x.shape }, NO_SPAN); };
  const [keep, count] = t.ops('nms', [add('boxes', tensor('f32', [B, N, 4], boxes)), add('scores', tensor('f32', [B, N], scores)), add('classes', tensor('i32', [B, N], classes))],
    { iou_threshold: iou, max_out: N });
  t.output('keep', keep); t.output('count', count);
  return { t, group };
}

function check(outs: Record<string, Tensor>, group: readonly Case[], where: string): void {
  const N = outs.keep.shape[1];
  group.forEach((c, b) => {
    const n = outs.count.data[b];
    const got = Array.from(outs.keep.data.subarray(b * N, b * N + n));
    assert.equal(got, c.keep, `${where}: case ${cases.indexOf(c)} (N ${c.scores.length}, IoU ${c.iou}, ${new Set(c.classes).size} classes)`);
    for (let r = n; r < N; r++) assert.is(outs.keep.data[b * N + r], -1, `${where}: padding after the count`);
  });
}

const THRESHOLDS = [...new Set(cases.map((c) => c.iou))];

test('the fixtures are what the brief asks: >= 200 cases with ties, exact-threshold pairs and many classes', () => {
  assert.ok(cases.length >= 200);
  assert.ok(cases.some((c) => new Set(c.scores).size < c.scores.length), 'score ties');
  assert.ok(cases.some((c) => new Set(c.classes).size >= 10), 'many classes');
  assert.ok(cases.some((c) => c.scores.length === 1) && cases.some((c) => c.scores.length >= 1000));
});

test('reference equals torchvision batched_nms on every case', () => {
  for (const iou of THRESHOLDS) {
    const b = batch(iou, 0, Infinity)!;
    check(referenceRun(b.t), b.group, `reference, IoU ${iou}`);
  }
});

test('kernel on the kernel-IR interpreter equals torchvision (N <= 64)', () => {
  for (const iou of THRESHOLDS) {
    const b = batch(iou, 0, 64)!;
    check(compileAndRun(b.t, CPU).outputs, b.group, `kernel IR, IoU ${iou}`);
  }
});

/** Checks the fixtures whose N lies in [lo, hi] at this threshold; returns how many cases it checked (0 when none fall there). */
async function onRuntime(rt: Runtime, iou: number, lo: number, hi: number, where: string): Promise<number> {
  const b = batch(iou, lo, hi);
  if (!b) return 0;
  const exe = await rt.load(compileGraph(b.t.graph, rt.target, {}));
  try {
    check(await exe.run(b.t.inputs), b.group, `${where}, IoU ${iou}`);
  } finally { exe.dispose(); }
  return b.group.length;
}

const cpu = await cpuOrSkip();
cpu.test('CPU runtime equals torchvision on every case', async () => {
  let small = 0, large = 0;
  for (const iou of THRESHOLDS) {
    small += await onRuntime(cpu.runtime!, iou, 0, 64, 'cpu small');
    large += await onRuntime(cpu.runtime!, iou, 65, Infinity, 'cpu large');
  }
  // A size range with no fixture would check nothing and still pass.
  assert.ok(small > 0 && large > 0, `fixtures checked: ${small} with N <= 64, ${large} with N > 64`);
});

const gpu = await openOrSkip('test/compiler/ops/nms-torchvision.test.ts');
(gpu ? test : test.skip)('WebGPU runtime equals torchvision (N <= 64)', async () => {
  let checked = 0;
  for (const iou of THRESHOLDS) checked += await onRuntime(gpu!, iou, 0, 64, 'webgpu');
  assert.ok(checked > 0, 'no fixture with N <= 64 was checked');
});

test.run();
