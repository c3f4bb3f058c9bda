import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mul, sym } from '../../../compiler/dims.js';
import { randomTensor } from '../../../compiler/tensor.js';
import { RecordingContext, f32, i32, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

const B = sym('B'), C = sym('C'), H = sym('H'), W = sym('W');

test('concat and stack by hand', () => {
  const a = f32([2, 2], [1, 2, 3, 4]), b = f32([2, 1], [5, 6]);
  assert.equal(list(run1('concat', [a, b], { axis: 1 })), [1, 2, 5, 3, 4, 6]);
  assert.equal(list(run1('concat', [a, f32([1, 2], [7, 8])], { axis: 0 })), [1, 2, 3, 4, 7, 8]);
  assert.equal(list(run1('concat', [a, b], { axis: -1 })), [1, 2, 5, 3, 4, 6]);
  const s = run1('stack', [f32([2], [1, 2]), f32([2], [3, 4])], { axis: 1 });
  assert.equal([...s.shape], [2, 2]);
  assert.equal(list(s), [1, 3, 2, 4]);
  assert.equal(list(run1('stack', [f32([2], [1, 2]), f32([2], [3, 4])], { axis: 0 })), [1, 2, 3, 4]);
});

test('slice: Python semantics with negatives and steps', () => {
  const x = f32([2, 5], [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
  assert.equal(list(run1('slice', [x], { axis: 1, start: 1, end: 4 })), [1, 2, 3, 11, 12, 13]);
  assert.equal(list(run1('slice', [x], { axis: 1, start: -2, end: 100 })), [3, 4, 13, 14]);
  assert.equal(list(run1('slice', [x], { axis: 1, start: 0, end: 5, step: 2 })), [0, 2, 4, 10, 12, 14]);
  assert.equal([...run1('slice', [x], { axis: 1, start: 4, end: 2 }).shape], [2, 0]);
  assert.equal(list(run1('slice', [x], { axis: 0, start: 1, end: 2 })), [10, 11, 12, 13, 14]);
});

test('reshape, flatten, transpose, expand by hand', () => {
  const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
  assert.equal([...run1('reshape', [x], { shape: [3, -1] }).shape], [3, 2]);
  assert.equal(list(run1('transpose', [x], { perm: [1, 0] })), [1, 4, 2, 5, 3, 6]);
  assert.equal(list(run1('expand', [f32([2, 1], [1, 2])], { shape: [2, 2, 3] })), [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]);
  assert.equal(list(run1('expand', [f32([1, 2], [1, 2])], { shape: [3, -1] })), [1, 2, 1, 2, 1, 2]);
  const y = randomTensor([2, 3, 4, 5], 1);
  assert.equal([...run1('flatten', [y], { start: 1 }).shape], [2, 60]);
  assert.equal([...run1('flatten', [y], { start: 1, end: 2 }).shape], [2, 12, 5]);
  assert.equal([...run1('flatten', [y]).shape], [120]);
});

test('invariants: transpose twice is identity; concat of slices rebuilds; stack then index', () => {
  const x = randomTensor([2, 3, 4], 2);
  const t = run1('transpose', [x], { perm: [2, 0, 1] });
  assert.equal([...t.shape], [4, 2, 3]);
  assert.equal(list(run1('transpose', [t], { perm: [1, 2, 0] })), list(x));
  const parts = [run1('slice', [x], { axis: 1, start: 0, end: 1 }), run1('slice', [x], { axis: 1, start: 1, end: 3 })];
  assert.equal(list(run1('concat', parts, { axis: 1 })), list(x));
  const s = run1('stack', [x, x], { axis: -1 });
  assert.equal([...s.shape], [2, 3, 4, 2]);
  assert.equal(list(s).filter((_, i) => i % 2 === 1), list(x));
  const i = run1('reshape', [i32([4], [1, 2, 3, 4])], { shape: [2, 2] });
  assert.is(i.dtype, 'i32');
});

test('symbolic layout shapes', () => {
  assert.is(shown(shapeOf('concat', [ty('f32', [B, C, H, W]), ty('f32', [B, 4, H, W])], { axis: 1 })[0]), 'f32[B, C + 4, H, W]');
  assert.is(shown(shapeOf('reshape', [ty('f32', [B, C, H, W])], { shape: [B, C, -1] })[0]), 'f32[B, C, H*W]');
  assert.is(shown(shapeOf('reshape', [ty('f32', [B, mul(C, 4), H, W])], { shape: [B, 4, -1, H, W] })[0]), 'f32[B, 4, C, H, W]');
  assert.is(shown(shapeOf('reshape', [ty('f32', [B, 80, H, W])], { shape: [B, -1, 8, H, W] })[0]), 'f32[B, 10, 8, H, W]');
  assert.is(shown(shapeOf('flatten', [ty('f32', [B, C, H, W])], { start: 2 })[0]), 'f32[B, C, H*W]');
  assert.is(shown(shapeOf('reshape', [ty('f32', [B, mul(H, W), 80])], { shape: [B, H, -1] })[0]), 'f32[B, H, 80*W]');
  assert.is(shown(shapeOf('reshape', [ty('f32', [mul(6, H), W])], { shape: [mul(3, H), -1] })[0]), 'f32[3*H, 2*W]');
  assert.is(shown(shapeOf('transpose', [ty('f32', [B, C, H, W])], { perm: [0, 2, 3, 1] })[0]), 'f32[B, H, W, C]');
  assert.is(shown(shapeOf('slice', [ty('f32', [B, C, H])], { axis: 2, start: 1, end: -1 })[0]), 'f32[B, C, H - 2]');
  assert.is(shown(shapeOf('slice', [ty('f32', [B, 10])], { axis: 1, start: 0, end: 10, step: 3 })[0]), 'f32[B, 4]');
  assert.is(shown(shapeOf('slice', [ty('f32', [B, W])], { axis: 1, start: 2, end: 2147483647 })[0]), 'f32[B, W - 2]');
  // Past a symbolic size the clamp is undecidable: the rule assumes end <= W, which lowering re-checks.
  const ctx = new RecordingContext();
  assert.is(shown(shapeOf('slice', [ty('f32', [W])], { axis: 0, start: 0, end: 100 }, ctx)[0]), 'f32[100]');
  assert.ok(ctx.assumptions.some((a) => a.startsWith('W - 100 >= 0')), ctx.assumptions.join('; '));
  assert.is(shown(shapeOf('stack', [ty('f32', [H, W]), ty('f32', [H, W])], { axis: 0 })[0]), 'f32[2, H, W]');
  assert.is(shown(shapeOf('expand', [ty('f32', [1, W])], { shape: [H, W] })[0]), 'f32[H, W]');
});

test('layout errors', () => {
  shapeError('concat', [ty('f32', [2, 3]), ty('f32', [4, 3])], { axis: 1 }, 'concat: tensor 2 has shape [4, 3] but tensor 1 has [2, 3] (dim 0 differs)');
  shapeError('concat', [ty('f32', [2, 3]), ty('i32', [2, 3])], { axis: 0 }, 'concat: tensor 2 is i32 but tensor 1 is f32');
  shapeError('concat', [ty('f32', [2, 3]), ty('f32', [2])], { axis: 0 }, 'concat: tensor 2 has rank 1 but tensor 1 has rank 2');
  shapeError('concat', [ty('f32', [2, 3])], { axis: 2 }, 'concat: axis 2 is out of range for a tensor of rank 2');
  shapeError('reshape', [ty('f32', [2, 3])], { shape: [4, 2] }, 'reshape: cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)');
  shapeError('reshape', [ty('f32', [2, 3])], { shape: [-1, -1] }, 'at most one -1');
  shapeError('reshape', [ty('f32', [2, 3])], { shape: [4, -1] }, 'reshape: cannot reshape [2, 3] (6 elements) to [4, -1]');
  shapeError('reshape', [ty('f32', [H, W])], { shape: [C, -1] }, 'reshape: cannot infer -1');
  const ctx = new RecordingContext();
  assert.is(shown(shapeOf('reshape', [ty('f32', [H, W])], { shape: [2, -1] }, ctx)[0]), 'f32[2, (H*W)//2]');
  assert.ok(ctx.assumptions.some((a) => a.includes('2 does not divide it')), 'evenness of H*W is left to lowering');
  shapeError('reshape', [ty('f32', [3, 5])], { shape: [2, -1] }, 'reshape: cannot reshape [3, 5] (15 elements) to [2, -1]: 2 does not divide it');
  shapeError('transpose', [ty('f32', [2, 3])], { perm: [0, 0] }, 'transpose: perm [0, 0] is not a permutation of the 2 axes');
  shapeError('expand', [ty('f32', [2, 3])], { shape: [4, 3] }, 'expand: dim 0 of [2, 3] is 2 and cannot be expanded to 4');
  shapeError('flatten', [ty('f32', [2, 3, 4])], { start: 2, end: 1 }, 'flatten: end 1 comes before start 2');
  shapeError('slice', [ty('f32', [2, 3])], { axis: 0, start: 0, end: 1, step: 0 }, 'slice: step must be at least 1');
  shapeError('stack', [ty('f32', [2, 3]), ty('f32', [2, 4])], { axis: 0 }, 'stack: tensor 2 has shape [2, 4]');
});

test.run();
