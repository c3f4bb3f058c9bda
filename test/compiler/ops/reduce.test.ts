import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor } from '../../../compiler/tensor.js';
import { close, f32, i32, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

const x = f32([2, 3], [1, 5, 3, 4, 2, 6]);

test('sum, mean, max, min by hand', () => {
  assert.equal(list(run1('sum', [x], { axes: [1] })), [9, 12]);
  assert.equal(list(run1('sum', [x], { axes: [0] })), [5, 7, 9]);
  assert.equal(list(run1('sum', [x], { axes: [] })), [21]);
  close(list(run1('mean', [x], { axes: [-1] })), [3, 4]);
  assert.equal(list(run1('max', [x], { axes: [1] })), [5, 6]);
  assert.equal(list(run1('min', [x], { axes: [0] })), [1, 2, 3]);
  const k = run1('max', [x], { axes: [1], keepdims: true });
  assert.equal([...k.shape], [2, 1]);
  assert.equal(list(run1('sum', [i32([3], [1, 2, 3])], { axes: [0] })), [6]);
});

test('argmax: first index on ties, i32', () => {
  const t = f32([2, 4], [1, 7, 7, 0, -1, -1, -3, -1]);
  const a = run1('argmax', [t], { axis: 1 });
  assert.is(a.dtype, 'i32');
  assert.equal(list(a), [1, 0]);
  assert.equal(list(run1('argmax', [t], { axis: 0 })), [0, 0, 0, 0]);
  assert.equal(list(run1('argmax', [f32([2, 2], [1, 2, 1, 3])], { axis: 0 })), [0, 1]);
  assert.equal([...run1('argmax', [t], { axis: 1, keepdims: true }).shape], [2, 1]);
});

test('invariants: sum over two axes = sum of sums; mean * n = sum; max >= every element', () => {
  const r = randomTensor([3, 4, 5], 12);
  const both = list(run1('sum', [r], { axes: [0, 2] }));
  const step = list(run1('sum', [run1('sum', [r], { axes: [2] })], { axes: [0] }));
  close(both, step, 1e-5);
  close(list(run1('mean', [r], { axes: [1] })).map((v) => v * 4), list(run1('sum', [r], { axes: [1] })), 1e-5);
  const m = list(run1('max', [r], { axes: [0, 1, 2] }))[0];
  assert.ok(list(r).every((v) => v <= m) && list(r).includes(m));
  const am = list(run1('argmax', [r], { axis: 2 }));
  const mx = list(run1('max', [r], { axes: [2] }));
  am.forEach((j, i) => assert.is(r.data[i * 5 + j], mx[i]));
});

test('reduce shapes and errors', () => {
  assert.is(shown(shapeOf('sum', [ty('f32', [sym('B'), sym('N'), 80])], { axes: [1] })[0]), 'f32[B, 80]');
  assert.is(shown(shapeOf('mean', [ty('f32', [sym('B'), sym('N')])], { axes: [1], keepdims: true })[0]), 'f32[B, 1]');
  assert.is(shown(shapeOf('argmax', [ty('f32', [sym('B'), sym('N'), 80])], { axis: -1 })[0]), 'i32[B, N]');
  shapeError('sum', [ty('f32', [2, 3])], { axes: [2] }, 'sum: axis 2 is out of range for a tensor of rank 2');
  shapeError('sum', [ty('f32', [2, 3])], { axes: [1, -1] }, 'sum: axes [1, -1] repeat an axis');
  shapeError('mean', [ty('i32', [2, 3])], { axes: [1] }, 'mean: x must be f32 or f16, got i32');
  shapeError('max', [ty('bool', [2, 3])], { axes: [1] }, 'max: x must be f32 or f16 or i32, got bool');
});

test.run();
