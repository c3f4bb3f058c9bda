// The `nms` kernel's shortcuts (compiler/ops/nms.kernel.ts): the scan stops a
// class once max_out kept boxes rank before its next candidate, the mask is
// computed only between kept boxes and the candidates the scan reaches, every
// phase works on the candidates rather than the padded capacity, and one
// class skips the output sort. Results must stay the
// reference's: max_out below the kept count (one class and many), images
// with no candidate at all next to full ones, one class, many classes; on the
// kernel-IR interpreter for each target's schedule (the CPU's one-thread sort
// and the GPUs' whole-workgroup sort), the CPU runtime and WebGPU. The work
// itself is counted on the interpreter: loads from the kernel's workspace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../../compiler/program.js';
import { runKernel } from '../../../compiler/kernel/interpret.js';
import { CPU, cudaTarget, webgpuTarget, type Target } from '../../../compiler/target.js';
import { allocData, rng, tensor, type Tensor, type TensorData } from '../../../compiler/tensor.js';
import { bytesOf, NO_SPAN } from '../../../compiler/types.js';
import { TestGraph, compileAndRun, referenceRun } from '../kernel/graphs.js';
import { nmsLayout } from '../../../compiler/ops/nms.kernel.js';
import { cpuOrSkip } from '../../helpers/skip.js';
import { openOrSkip } from '../../runtime-webgpu/open.js';

interface Spec { what: string; B: number; N: number; classes: number; maxOut: number; spread?: number; valid?: (b: number, i: number) => boolean; seed: number }

/**
 * Boxes on a grid of cells `spread` apart (spread 0: clustered near-duplicates, most
 * suppressed; 40: disjoint, all kept), scores on a 1/16 grid (ties), classes
 * 0..classes-1; an entry that is not `valid` gets score -1 (below the threshold 0).
 */
function graph(s: Spec): TestGraph {
  const next = rng(s.seed);
  const boxes: number[] = [], scores: number[] = [], classes: number[] = [];
  for (let b = 0; b < s.B; b++) {
    for (let i = 0; i < s.N; i++) {
      const cell = s.spread ? i : Math.floor(next() * Math.max(1, s.N / 6));
      const x = (cell % 16) * (s.spread ?? 40) + next() * 6, y = Math.floor(cell / 16) * (s.spread ?? 40) + next() * 6;
      boxes.push(x, y, x + 20 + next() * 10, y + 20 + next() * 10);
      scores.push(s.valid && !s.valid(b, i) ? -1 : Math.round(next() * 16) / 16);
      classes.push(Math.floor(next() * s.classes));
    }
  }
  const t = new TestGraph();
  const input = (name: string, x: Tensor): number => { t.inputs[name] = x; return t.b.input(name, { dtype: x.dtype, shape: x.shape }, NO_SPAN); };
  const [keep, count] = t.ops('nms', [
    input('boxes', tensor('f32', [s.B, s.N, 4], boxes)), input('scores', tensor('f32', [s.B, s.N], scores)), input('classes', tensor('i32', [s.B, s.N], classes)),
  ], { iou_threshold: 0.5, max_out: s.maxOut, score_threshold: 0 });
  t.output('keep', keep); t.output('count', count);
  return t;
}

const CASES: Spec[] = [
  { what: 'one class, max_out far below the kept count (disjoint boxes)', B: 2, N: 100, classes: 1, maxOut: 7, spread: 40, seed: 1 },
  { what: 'many classes, max_out below the kept count, some classes reach it', B: 2, N: 120, classes: 3, maxOut: 9, spread: 40, seed: 2 },
  { what: 'many classes, crowded, max_out 1', B: 1, N: 70, classes: 12, maxOut: 1, seed: 3 },
  { what: 'an image with no candidate next to a full one and a sparse one', B: 3, N: 64, classes: 4, maxOut: 20, valid: (b, i) => b === 1 || (b === 2 && i % 9 === 0), seed: 4 },
  { what: 'one class, crowded, max_out above the kept count', B: 2, N: 90, classes: 1, maxOut: 90, seed: 5 },
  { what: 'more classes than boxes, all kept', B: 1, N: 40, classes: 1000, maxOut: 40, spread: 0, seed: 6 },
];

function same(got: Record<string, Tensor>, want: Record<string, Tensor>, what: string): void {
  assert.equal(Array.from(got.count.data), Array.from(want.count.data), `${what}: counts`);
  assert.equal(Array.from(got.keep.data), Array.from(want.keep.data), `${what}: kept indices and padding`);
}

test('the cases reach what they are for', () => {
  const counts = (s: Spec): number[] => Array.from(referenceRun(graph({ ...s, maxOut: s.N })).count.data);
  // Without the max_out cut, more boxes would be kept than max_out: the early stop has work to skip.
  for (const s of CASES.slice(0, 3)) assert.ok(counts(s).every((c) => c > s.maxOut), `${s.what}: ${counts(s)}`);
  assert.equal(counts(CASES[3])[0], 0, 'image 0 has no candidate');
  assert.ok(counts(CASES[4])[0] < CASES[4].N / 2, 'the crowded single class suppresses most boxes');
});

// The CPU's schedule sorts with one thread; CUDA's and a hardware WebGPU's with the whole workgroup.
const targets: [string, Target][] = [['cpu', CPU], ['cuda', cudaTarget()], ['webgpu', webgpuTarget()]];
test('kernel-IR interpreter equals the reference on each target\'s schedule', () => {
  for (const [name, target] of targets) {
    for (const s of CASES) {
      const t = graph(s);
      same(compileAndRun(t, target).outputs, referenceRun(t), `${name}, ${s.what}`);
    }
  }
});

/** Loads the kernel makes from its workspace (the scratch buffers; f32 elements `at` picks, where given) on the interpreter. */
function workspaceLoads(t: TestGraph, target: Target = CPU, at?: (i: number) => boolean): number {
  const program = compileGraph(t.graph, target);
  let loads = 0;
  const mem: TensorData[] = program.buffers.map((b) => {
    const data = allocData(b.dtype, b.bytes / bytesOf(b.dtype));
    if (b.role !== 'temp') return data;
    const f32 = b.dtype === 'f32';
    return new Proxy(data, {
      get(target, key) {
        if (typeof key === 'string' && /^\d+$/.test(key) && (!at || (f32 && at(Number(key))))) loads++;
        return Reflect.get(target, key);
      },
      set(target, key, value) { return Reflect.set(target, key, value); },
    });
  });
  for (const [name, id] of Object.entries(program.inputs)) mem[id].set(t.inputs[name].data);
  for (const l of program.launches) runKernel(program.kernels[l.kernel].ir, l.buffers.map((b) => mem[b]), l.args, l.grid);
  return loads;
}

test('early stop: with max_out 3 of 256 disjoint boxes of one class, the scan does a small part of the work', () => {
  const s: Spec = { what: '', B: 1, N: 256, classes: 1, maxOut: 256, spread: 40, seed: 7 };
  const all = workspaceLoads(graph(s)), three = workspaceLoads(graph({ ...s, maxOut: 3 }));
  // All 256 kept: each row's IoUs against the later boxes (~N²/2); stopped at 3 kept: ~3N.
  assert.ok(three < all / 4, `workspace loads with max_out 3: ${three}, with max_out 256: ${all}`);
});

test('after the early stop, candidates the scan never reaches cost no IoU: the work does not grow with N', () => {
  // One crowded class, max_out 40: the scan stops after a few words. Pushing each kept box's
  // row onto every later candidate would cost about 40 N IoUs.
  const boxLoads = (N: number): number => {
    const s: Spec = { what: '', B: 1, N, classes: 1, maxOut: 40, seed: 11 };
    const L = nmsLayout(N, s.maxOut);
    return workspaceLoads(graph(s), CPU, (i) => i >= L.boxes && i < L.outKeys);
  };
  const small = boxLoads(256), large = boxLoads(1024);
  assert.ok(large < small * 1.5, `box loads with N 1024: ${large}, with N 256: ${small}`);
});

test('early stop across classes: once max_out kept boxes rank before a candidate, its class stops', () => {
  // 4 classes of 64 disjoint boxes, class 0 scoring highest: with max_out 64, class 0's boxes
  // rank before every box of the others, which the scan then skips; no class has more than
  // 64 kept, so a per-class count alone would stop nothing.
  const t = (maxOut: number): TestGraph => {
    const g = new TestGraph();
    const boxes: number[] = [], scores: number[] = [], classes: number[] = [];
    for (let i = 0; i < 256; i++) {
      const x = (i % 16) * 40, y = Math.floor(i / 16) * 40;
      boxes.push(x, y, x + 25, y + 25);
      scores.push(1 - Math.floor(i / 64) / 4 - (i % 64) / 1024);
      classes.push(Math.floor(i / 64));
    }
    const input = (name: string, x: Tensor): number => { g.inputs[name] = x; return g.b.input(name, { dtype: x.dtype, shape: x.shape }, NO_SPAN); };
    const [keep, count] = g.ops('nms', [input('boxes', tensor('f32', [1, 256, 4], boxes)), input('scores', tensor('f32', [1, 256], scores)), input('classes', tensor('i32', [1, 256], classes))],
      { iou_threshold: 0.5, max_out: maxOut });
    g.output('keep', keep); g.output('count', count);
    return g;
  };
  same(compileAndRun(t(64), CPU).outputs, referenceRun(t(64)), 'max_out 64');
  // Loads of the sorted boxes: the IoUs (the sort is the same work either way).
  const boxLoads = (maxOut: number): number => { const L = nmsLayout(256, maxOut); return workspaceLoads(t(maxOut), CPU, (i) => i >= L.boxes && i < L.outKeys); };
  const all = boxLoads(256), top = boxLoads(64);
  assert.ok(top < all / 3, `box loads with max_out 64: ${top}, with max_out 256: ${all}`);
});

test('the work follows the candidates, not the capacity: 16 candidates among 256 entries cost what 16 entries do', () => {
  // The same 16 candidates (entries 0..15), alone or followed by 240 entries below the threshold.
  const few: Spec = { what: '', B: 1, N: 16, classes: 3, maxOut: 16, spread: 40, seed: 8 };
  const padded: Spec = { ...few, N: 256, valid: (_b, i) => i < 16 };
  const a = graph(few), b = graph(padded);
  same(compileAndRun(b, CPU).outputs, referenceRun(b), 'padded');
  for (const [name, target] of targets) {
    const lf = workspaceLoads(a, target), lp = workspaceLoads(b, target);
    assert.ok(lp <= lf * 1.1, `${name}: workspace loads ${lp} for 16 of 256 entries, ${lf} for 16 of 16`);
  }
});

test('one class skips the output sort: its kept list is only checked for order', () => {
  // Disjoint boxes: all 128 kept. One class: the class-major list is the output order,
  // read once by the order check (2 loads a pair). 8 classes interleave: sorted again.
  const one: Spec = { what: '', B: 1, N: 128, classes: 1, maxOut: 128, spread: 40, seed: 9 };
  const L = nmsLayout(one.N, one.maxOut);
  const inOutputKeys = (i: number): boolean => i >= L.outKeys && i < L.heap.keys;
  const single = workspaceLoads(graph(one), CPU, inOutputKeys), eight = workspaceLoads(graph({ ...one, classes: 8 }), CPU, inOutputKeys);
  assert.ok(single <= 2 * one.N, `one class: ${single} loads of the output keys`);
  assert.ok(eight > 4 * one.N, `8 classes: ${eight} loads of the output keys`);
});

/** Random specs: N 1..160, 1..20 classes, max_out 1..N+3, crowded or disjoint, some entries below the threshold. */
function randomSpecs(count: number, seed: number): Spec[] {
  const next = rng(seed);
  return Array.from({ length: count }, (_, k) => {
    const N = 1 + Math.floor(next() * 160), drop = next() < 0.3 ? 2 + Math.floor(next() * 5) : 0;
    return {
      what: `random ${k}`, B: 2, N, classes: 1 + Math.floor(next() * 20), maxOut: 1 + Math.floor(next() * (N + 3)),
      spread: next() < 0.5 ? 40 : undefined, valid: drop ? (_b: number, i: number) => i % drop !== 1 : undefined, seed: 100 + k,
    };
  });
}

test('random cases on the interpreter, the GPUs\' schedule (heap, dead runs and whole-workgroup merges together)', () => {
  for (const s of randomSpecs(8, 41)) {
    const t = graph(s);
    same(compileAndRun(t, cudaTarget()).outputs, referenceRun(t), `cuda schedule, ${s.what} (N ${s.N}, ${s.classes} classes, max_out ${s.maxOut})`);
  }
});

const cpu = await cpuOrSkip();
cpu.test('random cases on the CPU runtime', async () => {
  for (const s of randomSpecs(16, 42)) {
    const t = graph(s);
    const exe = await cpu.runtime!.load(compileGraph(t.graph, cpu.runtime!.target));
    try { same(await exe.run(t.inputs), referenceRun(t), `cpu, ${s.what} (N ${s.N}, ${s.classes} classes, max_out ${s.maxOut})`); } finally { exe.dispose(); }
  }
});

cpu.test('CPU runtime equals the reference', async () => {
  for (const s of CASES) {
    const t = graph(s);
    const exe = await cpu.runtime!.load(compileGraph(t.graph, cpu.runtime!.target));
    try { same(await exe.run(t.inputs), referenceRun(t), `cpu, ${s.what}`); } finally { exe.dispose(); }
  }
});

const gpu = await openOrSkip('test/compiler/ops/nms-early-stop.test.ts');
(gpu ? test : test.skip)('WebGPU runtime equals the reference, with the adapter\'s schedule and with a hardware GPU\'s (whole-workgroup sort)', async () => {
  for (const target of [gpu!.target, { ...gpu!.target, software: false }]) {
    for (const s of CASES) {
      const t = graph(s);
      const exe = await gpu!.load(compileGraph(t.graph, target));
      try { same(await exe.run(t.inputs), referenceRun(t), `webgpu${target.software ? ' (software schedule)' : ''}, ${s.what}`); } finally { exe.dispose(); }
    }
  }
});

test.run();
