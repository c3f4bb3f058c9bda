import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor } from '../../../compiler/tensor.js';
import { f32, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('max_pool2d by hand: 2x2 stride default, floor mode; 3x3 s2 p1 pads with -inf', () => {
  const x = f32([1, 1, 3, 3], [1, 5, 2, 4, 3, 9, -7, -8, -6]);
  assert.equal(list(run1('max_pool2d', [x], { kernel: [2] })), [5]);
  assert.equal(list(run1('max_pool2d', [x], { kernel: [3], stride: [2], padding: [1] })), [5, 9, 4, 9]);
  const neg = f32([1, 1, 2, 2], [-5, -6, -7, -8]);
  assert.equal(list(run1('max_pool2d', [neg], { kernel: [3], stride: [1], padding: [1] })), [-5, -5, -5, -5]);
});

test('max_pool2d invariants: 1x1 kernel is identity; output >= every covered input', () => {
  const x = randomTensor([2, 3, 5, 4], 3);
  assert.equal(list(run1('max_pool2d', [x], { kernel: [1] })), list(x));
  const y = run1('max_pool2d', [x], { kernel: [2], stride: [1] });
  for (let p = 0; p < 6; p++) for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) {
    const m = y.data[(p * 4 + i) * 3 + j];
    for (const [a, b] of [[0, 0], [0, 1], [1, 0], [1, 1]]) assert.ok(m >= x.data[(p * 5 + i + a) * 4 + j + b]);
  }
});

test('max_pool2d shapes and errors', () => {
  assert.is(shown(shapeOf('max_pool2d', [ty('f32', [1, 64, sym('H'), sym('W')])], { kernel: [3], stride: [2], padding: [1] })[0]), 'f32[1, 64, (H + 1)//2, (W + 1)//2]');
  shapeError('max_pool2d', [ty('f32', [1, 1, 1, 1])], { kernel: [2] }, 'max_pool2d: output height 0 is less than 1');
  shapeError('max_pool2d', [ty('f32', [1, 1, 8, 8])], { kernel: [2], padding: [2] }, 'must be between 0 and half the kernel');
  shapeError('max_pool2d', [ty('f32', [1, 8, 8])], { kernel: [2] }, 'max_pool2d: input must have rank 4 (N, C, H, W)');
  shapeError('max_pool2d', [ty('f32', [1, 1, 8, 8])], {}, "max_pool2d: missing attribute 'kernel'");
});

test.run();
