// Mutation tests of the suite's comparators: each is fed the wrong answer
// that used to pass (NaN for every value, an infinity where a finite value
// or the other infinity is expected) and must now fail, and fed the right
// answer and must pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, type Tensor } from '../../compiler/tensor.js';
import type { Executable } from '../../runtime/interface.js';
import { matchesReference, type TinyStep } from '../compiler/grad/tiny-step.js';
import { compare } from '../compiler/kernel/graphs.js';
import { close } from '../helpers/op-check.js';
import { errorOf, worstError, within } from '../helpers/compare.js';
import { compareStep, overfit, smallStep, worstStateDifference } from '../train/tiny.js';
import type { Runtime } from '../../runtime/interface.js';
import { CPU } from '../../compiler/target.js';
import { tmpdir } from 'node:os';
import { relError } from '../runtime-webgpu/tiny-defcn.js';

const f32 = (v: number[]): Tensor => tensor('f32', [v.length], v);

/** A step with a loss and two gradients, and an executable answering `answer(name, want)`. */
function fakeStep(): TinyStep {
  const want = { loss: f32([2.5]), 'grad/w': f32([0.1, -0.2, 0.3]), 'grad/b': f32([1e-4, 0]) };
  return { compiled: { launches: [] } as unknown as TinyStep['compiled'], names: Object.keys(want), params: new Map(), inputs: {}, want };
}
function fakeExecutable(answer: (name: string, want: Tensor) => number[]): Executable {
  const s = fakeStep();
  return {
    async setParams() {},
    async run() { return Object.fromEntries(s.names.map((n) => [n, f32(answer(n, s.want[n]))])); },
  } as unknown as Executable;
}
async function verdict(p: Promise<void>): Promise<string> {
  try { await p; return 'passed'; } catch (e) { return (e as Error).message; }
}

test('matchesReference (tiny-step.ts): the exact answer passes; NaN for the loss and every gradient fails', async () => {
  assert.is(await verdict(matchesReference(fakeStep(), fakeExecutable((_, w) => Array.from(w.data)), 1e-6, 'fake')), 'passed');
  const nan = await verdict(matchesReference(fakeStep(), fakeExecutable((_, w) => Array.from(w.data, () => NaN)), 1e-6, 'fake'));
  assert.match(nan, /fake: worst Infinity at loss\[0\]/);
  // One NaN among right values, and a wrong infinity, each fail too.
  assert.match(await verdict(matchesReference(fakeStep(), fakeExecutable((n, w) => Array.from(w.data, (v, i) => (n === 'grad/b' && i === 1 ? NaN : v))), 1e-6, 'fake')), /worst Infinity at grad\/b\[1\]/);
  assert.match(await verdict(matchesReference(fakeStep(), fakeExecutable((n, w) => Array.from(w.data, (v, i) => (n === 'grad/w' && i === 2 ? Infinity : v))), 1e-6, 'fake')), /worst Infinity at grad\/w\[2\]/);
  // An output the executable did not return fails (it used to throw a TypeError).
  assert.match(await verdict(matchesReference(fakeStep(), { async setParams() {}, async run() { return { loss: f32([2.5]) }; } } as unknown as Executable, 1e-6, 'fake')), /worst Infinity/);
});

test('worstStateDifference (train/tiny.ts): NaN weights or momentum, a missing tensor, fail', () => {
  const want = new Map([['w', f32([1, 2, 3])], ['opt.momentum.w', f32([0, 0.5, -0.5])]]);
  assert.is(worstStateDifference(new Map(want), want).worst, 0);
  const nan = new Map([['w', f32([NaN, NaN, NaN])], ['opt.momentum.w', f32([NaN, NaN, NaN])]]);
  const r = worstStateDifference(nan, want);
  assert.is(r.worst, Infinity);
  assert.not.ok(within(r.worst, 1e-4));
  assert.is(worstStateDifference(new Map([['w', f32([1, 2, 3])]]), want).worst, Infinity);
});

test('compare (kernel/graphs.ts): an infinity must be matched exactly', () => {
  assert.is(compare(f32([0]), f32([Infinity])), 'non-finite mismatch at 0: got 0, want Infinity');
  // A ×495,000 error beside an infinity used to be hidden by the NaN the infinity gave.
  assert.match(compare(f32([100, 0, 1]), f32([1, Infinity, 1])), /non-finite mismatch at 1/);
  assert.match(compare(f32([100, Infinity, 1]), f32([1, Infinity, 1])), /at 0: got 100, want 1/);
  assert.match(compare(f32([-Infinity]), f32([Infinity])), /non-finite mismatch/);
  assert.match(compare(f32([NaN]), f32([1])), /non-finite mismatch/);
  assert.is(compare(f32([Infinity, -Infinity, NaN, 1]), f32([Infinity, -Infinity, NaN, 1.00001])), '');
});

test('close (op-check.ts): 0 vs Inf and -Inf vs Inf fail; equal infinities and NaNs pass', () => {
  // uvu's assert.throws rethrows assertion errors, so catch them here.
  const failure = (fn: () => void): string => { try { fn(); return 'passed'; } catch (e) { return (e as Error).message; } };
  assert.match(failure(() => close([0], [Infinity])), /got 0, expected Infinity/);
  assert.match(failure(() => close([-Infinity], [Infinity])), /got -Infinity, expected Infinity/);
  assert.match(failure(() => close([Infinity], [5])), /got Infinity/);
  assert.match(failure(() => close([NaN], [0])), /got NaN/);
  close([Infinity, -Infinity, NaN, 1], [Infinity, -Infinity, NaN, 1 + 1e-7]);
});

test('the shared measure: NaN and mismatched infinities are an error of Infinity, never of NaN', () => {
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
  assert.is(errorOf(NaN, 1, rel), Infinity);
  assert.is(errorOf(0, Infinity, rel), Infinity);
  assert.is(errorOf(Infinity, Infinity, rel), 0);
  // A measure that itself gives NaN (0/0) is an error, not a pass.
  assert.is(errorOf(0, 0, rel), Infinity);
  assert.equal(worstError([1, NaN, 3], [1, 2, 3], rel), { worst: Infinity, at: 1 });
  assert.equal(worstError([1, 2], [1, 2, 3], rel), { worst: Infinity, at: -1 });
  assert.not.ok(within(NaN, 1));
  // relError (runtime-webgpu/tiny-defcn.ts, the `run --compare` measure) propagates NaN, which `within` refuses.
  assert.not.ok(within(relError([NaN, 1], [1, 1]), 2e-3));
  assert.not.ok(within(relError([0, 1], [Infinity, 1]), 2e-3));
});

test('compareStep and overfit (train/tiny.ts): a runtime error fails; no SKIP, no fallback to the reference', async () => {
  // Before: compareStep printed SKIP and passed on any error with a string
  // `reason`; overfit fell back to the reference interpreter on any error.
  const broken = { name: 'cpu', target: CPU, load: async () => { throw Object.assign(new Error('kernel k3 failed to load'), { reason: 'looks like an absence' }); } } as unknown as Runtime;
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try {
    assert.match(await verdict(compareStep(smallStep(), broken, 'small')), /kernel k3 failed to load/);
    assert.match(await verdict(overfit(smallStep(), 'small', 0.5, tmpdir(), broken)), /kernel k3 failed to load/);
  } finally { console.log = log; }
  assert.not.ok(lines.some((l) => /SKIP|reference interpreter/.test(l)), lines.join('\n'));
});

test.run();
