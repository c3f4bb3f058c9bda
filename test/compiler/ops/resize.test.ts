import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor } from '../../../compiler/tensor.js';
import { close, f32, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('nearest: src = floor(dst * in / out)', () => {
  const x = f32([1, 1, 2, 2], [1, 2, 3, 4]);
  assert.equal(list(run1('resize', [x], { size: [4, 4] })), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  const r = f32([1, 1, 1, 3], [1, 2, 3]);
  // 3 -> 2: floor(0 * 1.5) = 0, floor(1.5) = 1
  assert.equal(list(run1('resize', [r], { size: [1, 2] })), [1, 2]);
  // 3 -> 5: 0, 0, 1, 1, 2
  assert.equal(list(run1('resize', [r], { size: [1, 5] })), [1, 1, 2, 2, 3]);
});

test('bilinear, align_corners false, by hand', () => {
  // 2 -> 4 along width: src = 0.5*(d + 0.5) - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (i1 clamped)
  const r = f32([1, 1, 1, 2], [0, 4]);
  close(list(run1('resize', [r], { size: [1, 4], mode: 'bilinear' })), [0, 1, 3, 4]);
  // 4 -> 2: src = 2*(d + 0.5) - 0.5 = 0.5, 2.5
  const s = f32([1, 1, 1, 4], [0, 2, 4, 6]);
  close(list(run1('resize', [s], { size: [1, 2], mode: 'bilinear' })), [1, 5]);
  // 2x2 -> 3x3 (torch: [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]])
  const x = f32([1, 1, 2, 2], [1, 2, 3, 4]);
  close(list(run1('resize', [x], { size: [3, 3], mode: 'bilinear' })), [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
});

test('resize invariants: constant stays constant; same size is a copy', () => {
  const c = f32([1, 2, 3, 5], new Array(30).fill(2.5));
  close(list(run1('resize', [c], { size: [7, 4], mode: 'bilinear' })), new Array(56).fill(2.5), 1e-6);
  const x = randomTensor([2, 3, 4, 5], 9);
  assert.equal(list(run1('resize', [x], { size: [4, 5], mode: 'bilinear' })), list(x));
  assert.equal(list(run1('resize', [x], { size: [4, 5] })), list(x));
  const y = run1('resize_as', [x, randomTensor([1, 1, 8, 10], 1)], { mode: 'bilinear' });
  assert.equal([...y.shape], [2, 3, 8, 10]);
  const mn = Math.min(...list(x)), mx = Math.max(...list(x));
  assert.ok(list(y).every((v) => v >= mn - 1e-6 && v <= mx + 1e-6), 'bilinear stays within the input range');
});

test('resize shapes and errors', () => {
  assert.is(shown(shapeOf('resize', [ty('f32', [sym('B'), 8, sym('H'), sym('W')])], { size: [sym('H2'), 16] })[0]), 'f32[B, 8, H2, 16]');
  assert.is(shown(shapeOf('resize_as', [ty('f32', [1, 8, 4, 4]), ty('f32', [1, 3, sym('H'), sym('W')])], { mode: 'bilinear' })[0]), 'f32[1, 8, H, W]');
  shapeError('resize', [ty('f32', [1, 1, 4, 4])], { size: [2, 2], mode: 'bicubic' }, "resize: attribute 'mode' must be one of \"nearest\", \"bilinear\", got \"bicubic\"");
  shapeError('resize', [ty('f32', [1, 1, 4, 4])], { size: [0, 2] }, 'resize: output height 0 must be at least 1');
  shapeError('resize', [ty('i32', [1, 1, 4, 4])], { size: [2, 2] }, 'resize: input must be f32 or f16, got i32');
  shapeError('resize_as', [ty('f32', [1, 1, 4, 4]), ty('f32', [4])], {}, 'resize_as: ref must have rank at least 2');
});

test.run();
