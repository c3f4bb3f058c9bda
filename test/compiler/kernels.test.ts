// The kernel registry (compiler/ops/kernels.ts): every op has a kernel and
// every kernel names an op; the per-element code the schedules inline is the
// registry's own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KERNELS, LOWERINGS, kernelsWithoutOp, opsWithoutKernel } from '../../compiler/ops/kernels.js';
import { OPS } from '../../compiler/ops/index.js';
import type { EveryOpNameIsLiteral } from '../../compiler/ops/index.js';
import type { OpKernel } from '../../compiler/ops/op.js';

/** `table` without the entry `name` (whether or not its type has one). */
function without<T extends object, K extends string>(table: T, name: K): Omit<T, K> {
  const { [name]: _dropped, ...rest } = table as Record<string, unknown>;
  return rest as Omit<T, K>;
}

// Type-level checks, run by `npx tsc --noEmit -p .`: KERNELS's type must
// require the kernel of every op, so the registry without one op of each
// family is not a value of that type. Each @ts-expect-error is itself an
// error once its line compiles, i.e. once KERNELS stops requiring that op's
// kernel; and EveryOpNameIsLiteral (index.ts) is `true` only while every
// family declares its ops' names as literal types. So losing the guarantee
// fails the type check.
const lacking: Record<string, typeof KERNELS> = {
  // @ts-expect-error elementwise (elementwise.ts) without relu
  relu: without(KERNELS, 'relu'),
  // @ts-expect-error layout (layout.ts) without concat
  concat: without(KERNELS, 'concat'),
  // @ts-expect-error select (select.ts) without scatter_add
  scatter_add: without(KERNELS, 'scatter_add'),
  // @ts-expect-error create (create.ts) without locations
  locations: without(KERNELS, 'locations'),
  // @ts-expect-error resize (resize.ts) without resize_grad
  resize_grad: without(KERNELS, 'resize_grad'),
  // @ts-expect-error boxes (boxes.ts) without box_iou
  box_iou: without(KERNELS, 'box_iou'),
  // @ts-expect-error loss (loss.ts) without bce
  bce: without(KERNELS, 'bce'),
  // @ts-expect-error conv (conv.ts) without conv2d_grad_weight
  conv2d_grad_weight: without(KERNELS, 'conv2d_grad_weight'),
  // @ts-expect-error matmul (matmul.ts) without matmul
  matmul: without(KERNELS, 'matmul'),
  // @ts-expect-error norm (norm.ts) without frozen_bn
  frozen_bn: without(KERNELS, 'frozen_bn'),
  // @ts-expect-error pool (pool.ts) without max_pool2d_grad
  max_pool2d_grad: without(KERNELS, 'max_pool2d_grad'),
  // @ts-expect-error reduce (reduce.ts) without argmax
  argmax: without(KERNELS, 'argmax'),
  // @ts-expect-error max3d (max3d.ts) without max3d
  max3d: without(KERNELS, 'max3d'),
  // @ts-expect-error max3d-argmax (max3d-argmax.ts) without max3d_argmax_grad
  max3d_argmax_grad: without(KERNELS, 'max3d_argmax_grad'),
  // @ts-expect-error match (match.ts) without match
  match: without(KERNELS, 'match'),
  // @ts-expect-error nms (nms.ts) without nms
  nms: without(KERNELS, 'nms'),
};
const everyOpNameIsLiteral: EveryOpNameIsLiteral = true;

test('every op of the registry has a kernel, and every kernel an op', () => {
  assert.equal(opsWithoutKernel(), [], 'ops without a kernel (add one in compiler/ops/<family>.kernel.ts and compiler/ops/kernels.ts)');
  assert.equal(kernelsWithoutOp(), [], 'kernel entries naming no op');
});

test('the registry minus one kernel lacks exactly that op (the values the type-level checks above build)', () => {
  assert.ok(everyOpNameIsLiteral);
  for (const [name, table] of Object.entries(lacking)) {
    assert.ok(name in OPS, name);
    assert.equal(Object.keys(KERNELS).filter((n) => !(n in table)), [name], name);
  }
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
