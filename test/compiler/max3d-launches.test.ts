// max3d, max3d_argmax and max3d_argmax_grad under a storage-buffer limit
// (compiler/ops/max3d-launches.kernel.ts): one launch over the pyramid binds
// a buffer per level in and out (5 levels: 10, and 15 for the gradient), so
// a WebGPU target allowing fewer splits it into runs of levels, and a level
// whose gradient alone binds more into launches over its sources that add
// on. Every launch binds at most the limit, and the outputs have the same
// bits as the one-launch program's (kernel-IR interpreter), which equals the
// references (codes exactly, gradients within f32 rounding).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph, type Program } from '../../compiler/program.js';
import { runProgram } from '../../compiler/kernel/run-program.js';
import { webgpuTarget } from '../../compiler/target.js';
import { levelRuns } from '../../compiler/ops/max3d-launches.kernel.js';
import { TestGraph, compare, referenceRun } from './kernel/graphs.js';

const SIZES = [[12, 20], [6, 10], [3, 5], [2, 3], [1, 2]] as const;

/** The forward, its arg-max codes and the gradient gather over SIZES, each level's outputs a graph output. */
function pyramidGraph(tau: number, phi: number): TestGraph {
  const t = new TestGraph();
  const levels = SIZES.map(([h, w], i) => t.input(`p${i}`, [1, 2, h, w]));
  const grads = SIZES.map(([h, w], i) => t.input(`g${i}`, [1, 2, h, w]));
  t.ops('max3d', levels, { tau, phi }).forEach((o, i) => t.output(`y${i}`, o));
  const codes = t.ops('max3d_argmax', levels, { tau, phi });
  codes.forEach((o, i) => t.output(`c${i}`, o));
  t.ops('max3d_argmax_grad', [...codes, ...grads], { tau, phi }).forEach((o, i) => t.output(`d${i}`, o));
  return t;
}

function launchesOf(p: Program, op: string): Program['launches'] {
  return p.launches.filter((l) => p.kernels[l.kernel].name.endsWith(`_${op}`));
}

/** '' when every element has the same bits (NaN with NaN). */
function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): string {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `at ${i}: ${a[i]} vs ${b[i]}`;
  return '';
}

test('levelRuns: consecutive runs, each as long as the limit allows; one run when everything fits', () => {
  const binds = (run: readonly number[]): number => 2 * run.length + 1;
  assert.equal(levelRuns(5, Infinity, binds), [[0, 1, 2, 3, 4]]);
  assert.equal(levelRuns(5, 8, binds), [[0, 1, 2], [3, 4]]);
  assert.equal(levelRuns(5, 2, binds), [[0], [1], [2], [3], [4]], 'a level over the limit alone is a run of its own');
});

for (const [tau, phi] of [[2, 3], [2, 5], [4, 3], [0, 1]] as const) {
  // At τ 4 the middle level's forward reads all 5 levels: 6 buffers at least.
  const limits = tau === 4 ? [8, 6] : [8, 6, 4];
  test(`τ ${tau}, φ ${phi}: launches within ${limits.join(', ')} storage buffers, the same bits as one launch`, () => {
    const t = pyramidGraph(tau, phi);
    const whole = compileGraph(t.graph, webgpuTarget({ maxStorageBuffers: Infinity }));
    for (const op of ['max3d', 'max3d_argmax', 'max3d_argmax_grad']) assert.is(launchesOf(whole, op).length, 1, `${op}: one launch without a limit`);
    const want = runProgram(whole, t.graph, t.inputs, t.params);
    const ref = referenceRun(t);
    for (const [name, w] of Object.entries(ref)) {
      const msg = name.startsWith('c') ? sameBits(want[name].data, w.data) : compare(want[name], w, 1e-5, 1e-4);
      assert.is(msg, '', `one launch, ${name} vs the reference: ${msg}`);
    }
    for (const limit of limits) {
      const p = compileGraph(t.graph, webgpuTarget({ maxStorageBuffers: limit }));
      p.launches.forEach((l, i) => assert.ok(l.buffers.length <= limit, `limit ${limit}: launch ${i} (${p.kernels[l.kernel].name}) binds ${l.buffers.length}`));
      if (tau > 0) assert.ok(launchesOf(p, 'max3d_argmax_grad').length > 1, `limit ${limit}: the gradient is split`);
      const got = runProgram(p, t.graph, t.inputs, t.params);
      for (const name of Object.keys(want)) assert.is(sameBits(got[name].data, want[name].data), '', `limit ${limit}: ${name}`);
    }
  });
}

test('τ 4 under 8 buffers: the middle levels\' gradients are split over their sources (the first launch with its own outputs, the later ones adding on)', () => {
  const t = pyramidGraph(4, 3);
  const p = compileGraph(t.graph, webgpuTarget({ maxStorageBuffers: 8 }));
  const grad = launchesOf(p, 'max3d_argmax_grad');
  const written = grad.map((l) => p.kernels[l.kernel].ir.bufs.filter((b) => b.access !== 'r').length);
  const addsOn = grad.filter((l) => p.kernels[l.kernel].ir.bufs.some((b) => b.access === 'rw'));
  assert.ok(addsOn.length > 0, 'some launch reads back and adds to a gradient an earlier one stored');
  assert.ok(written.every((n) => n >= 1), 'every launch writes a gradient');
});

test('a level that alone reads more levels than the limit allows is refused, naming the op, the level and the limit', () => {
  const t = pyramidGraph(4, 3);
  assert.throws(() => compileGraph(t.graph, webgpuTarget({ maxStorageBuffers: 5 })), /max3d(_argmax)?: output level 2 reads every level within τ\/2 = 2 of it, 6 storage buffers with its output; this target allows 5/);
});

test.run();
