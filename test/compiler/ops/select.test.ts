import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor, rng } from '../../../compiler/tensor.js';
import { f32, i32, list, run, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('topk by hand: ties keep the lower index first; smallest', () => {
  const x = f32([1, 6], [3, 1, 4, 1, 5, 4]);
  const [v, i] = run('topk', [x], { k: 3 });
  assert.equal(list(v), [5, 4, 4]);
  assert.equal(list(i), [4, 2, 5]);
  assert.is(i.dtype, 'i32');
  const [vs, is] = run('topk', [x], { k: 2, largest: false });
  assert.equal(list(vs), [1, 1]);
  assert.equal(list(is), [1, 3]);
  const [v0, i0] = run('topk', [f32([3, 2], [1, 9, 8, 2, 5, 5])], { k: 1, axis: 0 });
  assert.equal(list(v0), [8, 9]);
  assert.equal(list(i0), [1, 0]);
});

test('sort is stable; indices gather the values back', () => {
  const x = f32([7], [2, 1, 2, 0, 1, 2, -1]);
  const [v, i] = run('sort', [x]);
  assert.equal(list(v), [-1, 0, 1, 1, 2, 2, 2]);
  assert.equal(list(i), [6, 3, 1, 4, 0, 2, 5]);
  const [vd, id] = run('sort', [x], { descending: true });
  assert.equal(list(vd), [2, 2, 2, 1, 1, 0, -1]);
  assert.equal(list(id), [0, 2, 5, 1, 4, 3, 6]);
});

test('topk invariants on random data: sorted values, values = x[indices], k largest', () => {
  const next = rng(3);
  for (let t = 0; t < 10; t++) {
    const n = 1 + Math.floor(next() * 20), k = 1 + Math.floor(next() * n);
    const x = randomTensor([2, n], t);
    const [v, i] = run('topk', [x], { k });
    for (let r = 0; r < 2; r++) {
      const row = list(x).slice(r * n, (r + 1) * n);
      const vals = list(v).slice(r * k, (r + 1) * k), idx = list(i).slice(r * k, (r + 1) * k);
      for (let j = 1; j < k; j++) assert.ok(vals[j - 1] >= vals[j]);
      idx.forEach((ix, j) => assert.is(row[ix], vals[j]));
      assert.equal(vals, [...row].sort((a, b) => b - a).slice(0, k));
    }
    const g = run1('gather', [x, i], { axis: 1 });
    assert.equal(list(g), list(v));
  }
});

test('gather and index_select by hand', () => {
  const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
  assert.equal(list(run1('gather', [x, i32([2, 2], [2, 0, 1, 1])], { axis: 1 })), [3, 1, 5, 5]);
  assert.equal(list(run1('gather', [x, i32([1, 3], [1, 0, 1])], { axis: 0 })), [4, 2, 6]);
  assert.equal(list(run1('index_select', [x, i32([3], [2, 2, 0])], { axis: 1 })), [3, 3, 1, 6, 6, 4]);
  assert.equal(list(run1('index_select', [x, i32([1], [1])], { axis: 0 })), [4, 5, 6]);
  assert.throws(() => run1('index_select', [x, i32([1], [5])], { axis: 0 }), /index 5 at position 0 is out of range for a dim of size 2/);
  assert.throws(() => run1('gather', [x, i32([1, 1], [-1])], { axis: 1 }), /index -1 at position 0 is out of range/);
});

test('scatter by hand: negative indices skipped, last duplicate wins; inverts gather of a permutation', () => {
  const x = f32([2, 4], new Array(8).fill(0));
  assert.equal(list(run1('scatter', [x, i32([2, 2], [1, -1, 3, 0]), f32([2, 2], [5, 6, 7, 8])], { axis: 1 })), [0, 5, 0, 0, 8, 0, 0, 7]);
  assert.equal(list(run1('scatter', [x, i32([1, 2], [1, 1]), f32([1, 2], [5, 6])], { axis: 1 })), [0, 6, 0, 0, 0, 0, 0, 0]);
  assert.equal(list(run1('scatter', [x, i32([1, 4], [1, 0, 1, 0]), f32([1, 4], [1, 2, 3, 4])], { axis: 0 })), [0, 2, 0, 4, 1, 0, 3, 0]);
  const src = randomTensor([3, 5], 9), perm = i32([3, 5], [4, 0, 3, 1, 2, 1, 2, 0, 4, 3, 0, 1, 2, 3, 4]);
  const s = run1('scatter', [randomTensor([3, 5], 10), perm, src], { axis: 1 });
  assert.equal(list(run1('gather', [s, perm], { axis: 1 })), list(src));
  assert.throws(() => run1('scatter', [x, i32([1, 1], [4]), f32([1, 1], [1])], { axis: 1 }), /index 4 at position 0 is out of range/);
  assert.is(shown(shapeOf('scatter', [ty('i32', [sym('B'), sym('N')]), ty('i32', [sym('B'), sym('G')]), ty('i32', [sym('B'), sym('G')])], { axis: 1 })[0]), 'i32[B, N]');
  shapeError('scatter', [ty('f32', [2, 4]), ty('i32', [2, 2]), ty('f32', [2, 3])], { axis: 1 }, 'scatter: src dim 1 is 3 but index dim 1 is 2');
  shapeError('scatter', [ty('f32', [2, 4]), ty('i32', [2, 2]), ty('i32', [2, 2])], { axis: 1 }, 'scatter: src is i32 but x is f32');
  shapeError('scatter', [ty('f32', [2, 4]), ty('i32', [3, 2]), ty('f32', [3, 2])], { axis: 1 }, 'scatter: index dim 0 is 3 but x has only 2');
});

test('select shapes and errors', () => {
  const [v, i] = shapeOf('topk', [ty('f32', [sym('B'), sym('N')])], { k: sym('K') });
  assert.is(shown(v), 'f32[B, K]');
  assert.is(shown(i), 'i32[B, K]');
  assert.is(shown(shapeOf('gather', [ty('f32', [sym('B'), sym('N'), 4]), ty('i32', [sym('B'), 100, 4])], { axis: 1 })[0]), 'f32[B, 100, 4]');
  assert.is(shown(shapeOf('index_select', [ty('f32', [sym('N'), 4]), ty('i32', [sym('M')])], { axis: 0 })[0]), 'f32[M, 4]');
  shapeError('topk', [ty('f32', [2, 5])], { k: 6 }, 'topk: k = 6 is larger than the 5 elements along axis 1');
  shapeError('topk', [ty('f32', [2, 5])], { k: 0 }, 'topk: k = 0 must be at least 1');
  shapeError('gather', [ty('f32', [2, 5])], { axis: 0 }, "gather: input 'index' is required");
  shapeError('gather', [ty('f32', [2, 5]), ty('i32', [2])], { axis: 0 }, 'gather: index must have rank 2');
  shapeError('gather', [ty('f32', [2, 5]), ty('f32', [2, 5])], { axis: 0 }, 'gather: index must be i32, got f32');
  shapeError('gather', [ty('f32', [2, 5]), ty('i32', [3, 5])], { axis: 1 }, 'gather: index dim 0 is 3 but x has only 2');
  shapeError('index_select', [ty('f32', [2, 5]), ty('i32', [2, 2])], { axis: 0 }, 'index_select: index must have rank 1');
  shapeError('sort', [ty('bool', [3])], {}, 'sort: x must be');
});

test.run();
