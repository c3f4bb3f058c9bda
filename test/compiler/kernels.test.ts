// The kernel registry (compiler/ops/kernels.ts): every op has a kernel and
// every kernel names an op; the per-element code the schedules inline is the
// registry's own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KERNELS, LOWERINGS, kernelsWithoutOp, opsWithoutKernel } from '../../compiler/ops/kernels.js';
import { OPS } from '../../compiler/ops/index.js';
import type { OpKernel } from '../../compiler/ops/op.js';

test('every op of the registry has a kernel, and every kernel an op', () => {
  assert.equal(opsWithoutKernel(), [], 'ops without a kernel (add one in compiler/ops/<family>.kernel.ts and compiler/ops/kernels.ts)');
  assert.equal(kernelsWithoutOp(), [], 'kernel entries naming no op');
});

test('each kernel has per-element code or a schedule; LOWERINGS is exactly the per-element code', () => {
  for (const [name, k] of Object.entries<OpKernel>(KERNELS)) {
    assert.ok(typeof k.lower === 'function' || typeof k.schedule === 'function', name);
    assert.is(LOWERINGS[name], k.lower, name);
  }
  assert.ok(Object.keys(LOWERINGS).every((n) => n in OPS));
});

test('the test-only max3d_grad op is gone; max3d and its arg-max pair are hand-scheduled', () => {
  assert.not.ok('max3d_grad' in OPS);
  for (const n of ['max3d', 'max3d_argmax', 'max3d_argmax_grad', 'conv2d', 'matmul', 'group_norm', 'nms', 'match']) {
    assert.is(typeof (KERNELS as Readonly<Record<string, OpKernel>>)[n].schedule, 'function', n);
  }
});

test.run();
