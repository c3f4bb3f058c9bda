// The bitmask `nms` kernel (compiler/ops/nms.kernel.ts) on what the
// torchvision fixtures leave out: max_out cutting the scan inside a word and
// before the candidates run out, score thresholds and NaN scores (fewer
// candidates than boxes), images of one batch with different candidate
// counts, N around the 32-bit word and power-of-two sort sizes, and more mask
// words per row than threads (N = 5000). Each against the op's reference
// (equal to torchvision on the fixtures, nms-torchvision.test.ts): the
// kernel-IR interpreter and WebGPU on small N, the CPU runtime on all; the
// CUDA rendering compiled by nvcc. Also the kernel's limits as clear errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph, renderCuda } from '../../../compiler/program.js';
import { CPU, cudaTarget, webgpuTarget } from '../../../compiler/target.js';
import { rng, tensor, Tensor } from '../../../compiler/tensor.js';
import { NO_SPAN } from '../../../compiler/types.js';
import { TestGraph, compileAndRun, referenceRun } from '../kernel/graphs.js';
import { hasTool, nvccCompile } from '../kernel/toolchain.js';
import { nmsLayout } from '../../../compiler/ops/nms.kernel.js';
import { cpuOrSkip } from '../../helpers/skip.js';
import { openOrSkip } from '../../runtime-webgpu/open.js';

interface Spec { B: number; N: number; classes: number; maxOut: number; iou?: number; minScore?: number; nanEvery?: number; seed: number }

/** Crowded boxes (clusters of near-duplicates), scores on a 1/16 grid (ties), classes 0..classes-1. */
function graph(s: Spec): TestGraph {
  const next = rng(s.seed);
  const boxes: number[] = [], scores: number[] = [], classes: number[] = [];
  for (let b = 0; b < s.B; b++) {
    const centres = Array.from({ length: Math.max(1, Math.ceil(s.N / 6)) }, () => [next() * 200, next() * 200]);
    for (let i = 0; i < s.N; i++) {
      const [cx, cy] = centres[Math.floor(next() * centres.length)];
      const x = cx + next() * 8, y = cy + next() * 8, w = 10 + next() * 30, h = 10 + next() * 30;
      boxes.push(x, y, x + w, y + h);
      // Image b keeps fewer candidates than b - 1 under a score threshold: the images' counts differ.
      const sc = Math.round(next() * 16) / 16 - 0.1 * b;
      scores.push(s.nanEvery && i % s.nanEvery === 3 ? NaN : sc);
      classes.push(Math.floor(next() * s.classes));
    }
  }
  const t = new TestGraph();
  const input = (name: string, x: Tensor): number => { t.inputs[name] = x; return t.b.input(name, { dtype: x.dtype, shape: x.shape }, NO_SPAN); };
  const [keep, count] = t.ops('nms', [
    input('boxes', tensor('f32', [s.B, s.N, 4], boxes)), input('scores', tensor('f32', [s.B, s.N], scores)), input('classes', tensor('i32', [s.B, s.N], classes)),
  ], { iou_threshold: s.iou ?? 0.6, max_out: s.maxOut, ...(s.minScore !== undefined ? { score_threshold: s.minScore } : {}) });
  t.output('keep', keep); t.output('count', count);
  return t;
}

function same(got: Record<string, Tensor>, want: Record<string, Tensor>, what: string): void {
  assert.equal(Array.from(got.count.data), Array.from(want.count.data), `${what}: counts`);
  assert.equal(Array.from(got.keep.data), Array.from(want.keep.data), `${what}: kept indices and padding`);
}

const SMALL: Spec[] = [
  // max_out cuts inside the first word, with more candidates left.
  { B: 2, N: 40, classes: 2, maxOut: 5, seed: 1 },
  // One class, many overlaps; max_out beyond N (padding past the count).
  { B: 3, N: 33, classes: 1, maxOut: 50, iou: 0.5, seed: 2 },
  // A score threshold and NaN scores: fewer candidates than boxes, a different number per image.
  { B: 3, N: 64, classes: 5, maxOut: 64, minScore: 0.3, nanEvery: 7, seed: 3 },
  // Word and sort-size edges: N = 1, 31, 32.
  { B: 2, N: 1, classes: 1, maxOut: 3, seed: 4 },
  { B: 1, N: 31, classes: 3, maxOut: 31, iou: 0.3, seed: 5 },
  { B: 2, N: 32, classes: 2, maxOut: 10, iou: 0.7, seed: 6 },
];
const LARGE: Spec[] = [
  { B: 2, N: 300, classes: 4, maxOut: 100, seed: 7 },
  { B: 1, N: 1000, classes: 80, maxOut: 1000, minScore: 0.05, seed: 8 },
  // 157 mask words per row: threads own several words in the scan; max_out 100 stops it early.
  { B: 1, N: 5000, classes: 3, maxOut: 100, seed: 9 },
  { B: 1, N: 5000, classes: 1, maxOut: 5000, iou: 0.5, seed: 10 },
];
const name = (s: Spec): string => `B ${s.B}, N ${s.N}, ${s.classes} classes, max_out ${s.maxOut}${s.minScore !== undefined ? `, score > ${s.minScore}` : ''}${s.nanEvery ? ', NaN scores' : ''}`;

test('the cases reach what they are for: truncation by max_out, and per-image candidate counts that differ', () => {
  const out = referenceRun(graph(SMALL[0]));
  assert.is(out.count.data[0], 5, 'max_out reached');
  const thr = referenceRun(graph(SMALL[2]));
  const counts = Array.from(thr.count.data);
  assert.ok(new Set(counts).size > 1, `counts differ by image: ${counts}`);
});

/** Boxes with a NaN coordinate: torch's max() is NaN, so batched_nms's class offset, every IoU, is NaN and nothing is suppressed. */
function nanCoordinate(): TestGraph {
  const t = new TestGraph();
  const input = (name: string, x: Tensor): number => { t.inputs[name] = x; return t.b.input(name, { dtype: x.dtype, shape: x.shape }, NO_SPAN); };
  const boxes = [0, 0, 10, 10, 1, 1, 11, 11, NaN, 0, 5, 5, 0, 0, 10, 10.5, /* image 1, no NaN */ 0, 0, 10, 10, 1, 1, 11, 11, 2, 0, 5, 5, 0, 0, 10, 10.5];
  const [keep, count] = t.ops('nms', [
    input('boxes', tensor('f32', [2, 4, 4], boxes)), input('scores', tensor('f32', [2, 4], [0.9, 0.8, 0.7, 0.6, 0.9, 0.8, 0.7, 0.6])), input('classes', tensor('i32', [2, 4], [1, 1, 1, 1, 0, 0, 0, 0])),
  ], { iou_threshold: 0.5, max_out: 4 });
  t.output('keep', keep); t.output('count', count);
  return t;
}

test('a NaN coordinate: nothing of its image is suppressed, as in torchvision (the max coordinate is NaN, not the largest number)', () => {
  const t = nanCoordinate();
  const want = referenceRun(t);
  assert.equal(Array.from(want.count.data), [4, 2], 'reference: all four kept in image 0; image 1 suppresses two');
  same(compileAndRun(t, CPU).outputs, want, 'interpreter, NaN coordinate');
});

test('kernel-IR interpreter equals the reference (small N)', () => {
  for (const s of SMALL) {
    const t = graph(s);
    same(compileAndRun(t, CPU).outputs, referenceRun(t), `interpreter, ${name(s)}`);
  }
});

test('workspace: two scratch buffers of the layout size, linear in N and max_out (no N² mask: rows are computed as the scan needs them)', () => {
  const s = SMALL[0];
  const program = compileGraph(graph(s).graph, CPU);
  const L = nmsLayout(s.N, s.maxOut);
  assert.is(L.P, 64);
  assert.is(L.words, 2);
  // Rows (keys, boxes, output keys: 9N; index, class, run end, output index, kept list: 8N) and the heap of the max_out best kept boxes.
  assert.equal([L.floats, L.ints], [9 * s.N + s.maxOut, 8 * s.N + s.maxOut]);
  const temps = program.buffers.filter((b) => b.role === 'temp').map((b) => [b.dtype, b.bytes]);
  assert.ok(temps.some(([d, n]) => d === 'i32' && n === 4 * s.B * L.ints), `i32 workspace among ${JSON.stringify(temps)}`);
  assert.ok(temps.some(([d, n]) => d === 'f32' && n === 4 * s.B * L.floats), `f32 workspace among ${JSON.stringify(temps)}`);
});

test('limits are clear errors: removed-set beyond workgroup memory, workspace beyond one buffer', () => {
  const big = (B: number, N: number): TestGraph => {
    const t = new TestGraph();
    const [keep, count] = t.ops('nms', [
      t.b.input('boxes', { dtype: 'f32', shape: [B, N, 4] }, NO_SPAN), t.b.input('scores', { dtype: 'f32', shape: [B, N] }, NO_SPAN),
      t.b.input('classes', { dtype: 'i32', shape: [B, N] }, NO_SPAN),
    ], {});
    t.output('keep', keep); t.output('count', count);
    return t;
  };
  assert.throws(() => compileGraph(big(1, 200000).graph, webgpuTarget()), /nms: 200000 boxes per image is more than this kernel's \d+ on webgpu .*select fewer candidates first \(topk\)/);
  assert.throws(() => compileGraph(big(1200, 70000).graph, CPU), /nms: the workspace of 1200 images of 70000 boxes needs \d+ MiB, more than one buffer may hold/);
});

(hasTool('nvcc') ? test : test.skip)('CUDA rendering of the kernel compiles with nvcc for sm_90 and sm_75', () => {
  nvccCompile(renderCuda(compileGraph(graph(SMALL[2]).graph, cudaTarget())));
});

const cpu = await cpuOrSkip();
cpu.test('CPU runtime equals the reference (N up to 5000)', async () => {
  for (const s of [...SMALL, ...LARGE]) {
    const t = graph(s);
    const exe = await cpu.runtime!.load(compileGraph(t.graph, cpu.runtime!.target));
    try { same(await exe.run(t.inputs), referenceRun(t), `cpu, ${name(s)}`); } finally { exe.dispose(); }
  }
  const t = nanCoordinate();
  const exe = await cpu.runtime!.load(compileGraph(t.graph, cpu.runtime!.target));
  try { same(await exe.run(t.inputs), referenceRun(t), 'cpu, NaN coordinate'); } finally { exe.dispose(); }
});

const gpu = await openOrSkip('test/compiler/ops/nms-bitmask.test.ts');
(gpu ? test : test.skip)('WebGPU runtime equals the reference (small N)', async () => {
  for (const [what, t] of [...SMALL.map((s) => [name(s), graph(s)] as const), ['NaN coordinate', nanCoordinate()] as const]) {
    const exe = await gpu!.load(compileGraph(t.graph, gpu!.target));
    try { same(await exe.run(t.inputs), referenceRun(t), `webgpu, ${what}`); } finally { exe.dispose(); }
  }
});

test.run();
