import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor } from '../../../compiler/tensor.js';
import { close, f32, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

const L2 = Math.LN2;

test('bce_with_logits and bce by hand, stable at extremes', () => {
  const x = f32([5], [0, 0, 2, -1000, 1000]), t = f32([5], [1, 0, 1, 1, 0]);
  const y = list(run1('bce_with_logits', [x, t]));
  close(y, [L2, L2, Math.log1p(Math.exp(-2)), 1000, 1000], 1e-6);
  const p = f32([4], [0.5, 0, 1, 0.25]), q = f32([4], [1, 1, 0, 0]);
  close(list(run1('bce', [p, q])), [L2, 100, 100, -Math.log(0.75)], 1e-6);
});

test('sigmoid_focal_loss by hand; gamma 0 without alpha is BCE', () => {
  const x = f32([2], [0, 0]), t = f32([2], [1, 0]);
  close(list(run1('sigmoid_focal_loss', [x, t])), [0.25 * 0.25 * L2, 0.75 * 0.25 * L2], 1e-6);
  const r = randomTensor([3, 7], 1, -5, 5), tt = f32([3, 7], list(randomTensor([3, 7], 2)).map((v) => (v > 0 ? 1 : 0)));
  close(list(run1('sigmoid_focal_loss', [r, tt], { alpha: -1, gamma: 0 })), list(run1('bce_with_logits', [r, tt])), 1e-6);
  // Confident and right costs less than BCE; a broadcast target row works.
  const f = list(run1('sigmoid_focal_loss', [r, tt])), b = list(run1('bce_with_logits', [r, tt]));
  f.forEach((v, i) => assert.ok(v <= b[i] + 1e-7));
  assert.equal([...run1('bce_with_logits', [r, f32([7], new Array(7).fill(1))]).shape], [3, 7]);
});

test('bce on sigmoid equals bce_with_logits for moderate logits', () => {
  const r = randomTensor([20], 3, -6, 6), t = randomTensor([20], 4, 0, 1);
  close(list(run1('bce', [run1('sigmoid', [r]), t])), list(run1('bce_with_logits', [r, t])), 1e-4);
});

test('loss shapes and errors', () => {
  assert.is(shown(shapeOf('sigmoid_focal_loss', [ty('f32', [sym('B'), sym('N'), 80]), ty('f32', [sym('B'), sym('N'), 80])])[0]), 'f32[B, N, 80]');
  shapeError('bce', [ty('f32', [2, 3]), ty('f32', [2, 4])], {}, 'bce: shapes [2, 3] and [2, 4] do not broadcast');
  shapeError('bce_with_logits', [ty('i32', [2]), ty('i32', [2])], {}, 'bce_with_logits: logits must be f32 or f16, got i32');
  shapeError('sigmoid_focal_loss', [ty('f32', [2]), ty('f16', [2])], {}, 'different dtypes');
});

test.run();
