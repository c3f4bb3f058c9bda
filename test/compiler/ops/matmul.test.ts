import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor } from '../../../compiler/tensor.js';
import { close, f32, i32, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('matmul: by hand, batch broadcasting, errors', () => {
  const a = f32([2, 3], [1, 2, 3, 4, 5, 6]), b = f32([3, 2], [7, 8, 9, 10, 11, 12]);
  assert.equal(list(run1('matmul', [a, b])), [58, 64, 139, 154]);
  const ab = randomTensor([2, 1, 2, 3], 3), bb = randomTensor([4, 3, 2], 4);
  const y = run1('matmul', [ab, bb]);
  assert.equal([...y.shape], [2, 4, 2, 2]);
  // Slice (1, 3) equals the plain product of ab[1] and bb[3].
  const a1 = f32([2, 3], ab.data.slice(6, 12)), b3 = f32([3, 2], bb.data.slice(18, 24));
  close(list(y).slice((1 * 4 + 3) * 4, (1 * 4 + 3) * 4 + 4), list(run1('matmul', [a1, b3])), 1e-6);
  assert.is(shown(shapeOf('matmul', [ty('f32', [sym('B'), sym('M'), 8]), ty('f32', [8, sym('N')])])[0]), 'f32[B, M, N]');
  shapeError('matmul', [ty('f32', [2, 3]), ty('f32', [4, 2])], {}, 'matmul: a has 3 columns but b has 4 rows');
  shapeError('matmul', [ty('f32', [3]), ty('f32', [3, 2])], {}, 'matmul: a must have rank at least 2');
  shapeError('matmul', [ty('f32', [2, 2, 3]), ty('f32', [3, 3, 2])], {}, 'do not broadcast');
});

test('matmul: identity, i32, f64', () => {
  const a = randomTensor([3, 4], 8);
  const eye = f32([4, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  assert.equal(list(run1('matmul', [a, eye])), list(a));
  const r = run1('matmul', [i32([1, 2], [2, 3]), i32([2, 1], [4, 5])]);
  assert.equal([r.dtype, ...list(r)], ['i32', 23]);
});

test.run();
