// The buffer planner: liveness-based reuse, peak memory asserted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planBuffers, PlanValue } from '../../compiler/plan.js';
import { TestGraph, checkBoth } from './kernel/graphs.js';

test('a chain of 10 unfused elementwise ops needs 2 temporaries, not 9', () => {
  const t = new TestGraph();
  const x = t.input('x', [4, 8, 8]);
  let y = x;
  for (let i = 0; i < 10; i++) y = t.op(i % 2 ? 'relu' : 'sigmoid', [y]);
  t.output('y', y);
  const { unfused, fused } = checkBoth(t);
  const temps = unfused.buffers.filter((b) => b.role === 'temp');
  assert.is(temps.length, 2);
  const bytes = 4 * 8 * 8 * 4;
  // input + output + 2 temporaries
  assert.is(unfused.peakBytes, 4 * bytes);
  assert.is(unfused.report!.unsharedTempBytes, 9 * bytes);
  assert.is(fused.peakBytes, 2 * bytes);
});

test('a value read later stays live (residual): no reuse across its lifetime', () => {
  const t = new TestGraph();
  const x = t.input('x', [2, 16]);
  const a = t.op('exp', [x]);
  let y = a;
  for (let i = 0; i < 4; i++) y = t.op('neg', [y]);
  t.output('y', t.op('add', [y, a]));
  const { unfused } = checkBoth(t); // a wrong reuse would corrupt `a` and fail here
  assert.is(unfused.buffers.filter((b) => b.role === 'temp').length, 3);
});

test('best fit, dtype-separated slots, growth', () => {
  const v = (value: number, bytes: number, def: number, lastUse: number, dtype: PlanValue['dtype'] = 'f32'): PlanValue =>
    ({ value, bytes, dtype, role: 'temp', def, lastUse });
  const plan = planBuffers([
    v(0, 100, 0, 1), v(1, 400, 1, 2), v(2, 50, 2, 3), v(3, 300, 3, 4), v(4, 64, 0, 5, 'i32'), v(5, 8, 6, 7, 'i32'),
    { value: 9, bytes: 10, dtype: 'f32', role: 'input', name: 'x', def: -1, lastUse: 0 },
  ]);
  // 0 dies at 1 → 2 (50 B) takes it; 1 dies at 2 → 3 takes 1's 400 B slot; i32 separate.
  assert.is(plan.bufferOf.get(2), plan.bufferOf.get(0));
  assert.is(plan.bufferOf.get(3), plan.bufferOf.get(1));
  assert.is(plan.bufferOf.get(5), plan.bufferOf.get(4));
  assert.is.not(plan.bufferOf.get(4), plan.bufferOf.get(0));
  assert.is(plan.peakBytes, 10 + 100 + 400 + 64);
  const none = planBuffers([v(0, 100, 0, 1), v(1, 100, 2, 3)], false);
  assert.is(none.peakBytes, 200);
});

test.run();
