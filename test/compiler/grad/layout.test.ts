// Gradients of layout ops, reductions and selections against finite
// differences (f64).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gradCheck, rand64 } from '../../helpers/grad-check.js';
import { i32 } from '../../helpers/op-check.js';
import { rng } from '../../../compiler/tensor.js';

test('concat and stack: each input gets its slice back', () => {
  gradCheck('concat', [rand64([2, 3], 1), rand64([2, 1], 2), rand64([2, 4], 3)], { axis: 1 });
  gradCheck('concat', [rand64([1, 2, 3], 4), rand64([2, 2, 3], 5)], { axis: 0 });
  gradCheck('stack', [rand64([3, 2], 6), rand64([3, 2], 7)], { axis: 1 });
  gradCheck('stack', [rand64([4], 8), rand64([4], 9), rand64([4], 10)], { axis: -1 });
});

test('slice: steps, negative bounds, slices to the end, empty parts', () => {
  gradCheck('slice', [rand64([3, 7], 1)], { axis: 1, start: 1, end: 6 });
  gradCheck('slice', [rand64([3, 7], 2)], { axis: 1, start: 0, end: 7, step: 2 });
  gradCheck('slice', [rand64([8, 2], 3)], { axis: 0, start: 1, end: 2147483647, step: 3 });
  gradCheck('slice', [rand64([2, 9, 2], 4)], { axis: -2, start: -5, end: -1, step: 2 });
  gradCheck('slice', [rand64([5], 5)], { axis: 0, start: 0, end: 5 });
});

test('reshape, flatten, transpose, expand', () => {
  gradCheck('reshape', [rand64([2, 3, 4], 1)], { shape: [4, -1] });
  gradCheck('flatten', [rand64([2, 3, 2, 2], 2)], { start: 1, end: 2 });
  gradCheck('transpose', [rand64([2, 3, 4], 3)], { perm: [2, 0, 1] });
  gradCheck('expand', [rand64([3, 1], 4)], { shape: [2, 3, 5] });
  gradCheck('expand', [rand64([1, 4], 5)], { shape: [-1, 4] });
});

test('sum and mean over axes, keepdims or not', () => {
  for (const op of ['sum', 'mean']) {
    gradCheck(op, [rand64([2, 3, 4], 1)], { axes: [1] });
    gradCheck(op, [rand64([2, 3, 4], 2)], { axes: [0, 2], keepdims: true });
    gradCheck(op, [rand64([5, 3], 3)], { axes: [] });
  }
});

test('max and min: the gradient goes to the extreme element', () => {
  for (const op of ['max', 'min']) {
    gradCheck(op, [rand64([3, 5], 4)], { axes: [1] });
    gradCheck(op, [rand64([2, 3, 4], 5)], { axes: [0, 2], keepdims: true });
    gradCheck(op, [rand64([7], 6)], { axes: [] });
  }
});

test('reductions and slices over randomised shapes and axes', () => {
  const next = rng(5);
  const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  for (let trial = 0; trial < 6; trial++) {
    const shape = Array.from({ length: pick(1, 4) }, () => pick(1, 5));
    const axes = shape.map((_, i) => i).filter(() => next() < 0.5);
    for (const op of ['sum', 'mean', 'max', 'min']) gradCheck(op, [rand64(shape, 30 + trial)], { axes, keepdims: next() < 0.5 }, { samples: 16 });
    const axis = pick(0, shape.length - 1), n = shape[axis];
    const start = pick(0, n - 1);
    gradCheck('slice', [rand64(shape, 40 + trial)], { axis, start, end: pick(start + 1, n), step: pick(1, 3) }, { samples: 16 });
  }
});

test('topk and sort values: gradient scattered back to the picked elements', () => {
  gradCheck('topk', [rand64([3, 6], 1)], { k: 2 });
  gradCheck('topk', [rand64([5, 2], 2)], { k: 3, axis: 0, largest: false });
  gradCheck('sort', [rand64([2, 5], 3)], { descending: true });
});

test('gather and index_select: scatter-add adjoint, repeated indices sum', () => {
  gradCheck('gather', [rand64([3, 4], 1), i32([3, 5], [0, 1, 1, 3, 3, 2, 2, 2, 0, 1, 3, 0, 0, 0, 1])], { axis: 1 });
  gradCheck('gather', [rand64([4, 2], 2), i32([2, 2], [3, 0, 3, 1])], { axis: 0 });
  gradCheck('index_select', [rand64([2, 5, 3], 3), i32([4], [4, 0, 4, 2])], { axis: 1 });
  gradCheck('index_select', [rand64([3, 2], 4), i32([2], [2, 2])], { axis: 0 });
});

test('scatter: overwritten elements of x get no gradient', () => {
  const n = gradCheck('scatter', [rand64([3, 4], 1), i32([3, 2], [0, 2, 1, 1, -1, 3]), rand64([3, 2], 2)], { axis: 1 }, { wrt: [0] });
  assert.is(n, 12);
});

test.run();
