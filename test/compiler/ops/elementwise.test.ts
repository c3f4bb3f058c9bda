import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor, rng } from '../../../compiler/tensor.js';
import { RecordingContext, bool, close, f32, f64, i32, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('binary ops broadcast numpy-style (hand-computed)', () => {
  const a = f32([2, 1], [1, 2]), b = f32([3], [10, 20, 30]);
  assert.equal(list(run1('add', [a, b])), [11, 21, 31, 12, 22, 32]);
  assert.equal(list(run1('sub', [a, b])), [-9, -19, -29, -8, -18, -28]);
  assert.equal(list(run1('mul', [a, b])), [10, 20, 30, 20, 40, 60]);
  close(list(run1('div', [b, a])), [10, 20, 30, 5, 10, 15]);
  assert.equal(list(run1('maximum', [f32([3], [1, 5, 3]), f32([3], [4, 2, 3])])), [4, 5, 3]);
  assert.equal(list(run1('minimum', [f32([3], [1, 5, 3]), f32([3], [4, 2, 3])])), [1, 2, 3]);
  close(list(run1('pow', [f32([3], [2, 3, 4]), f32([1], [2])])), [4, 9, 16]);
});

test('unary ops (hand-computed)', () => {
  const x = f32([5], [-2, -0.5, 0, 0.5, 2]);
  assert.equal(list(run1('neg', [x])), [2, 0.5, -0, -0.5, -2]);
  assert.equal(list(run1('abs', [x])), [2, 0.5, 0, 0.5, 2]);
  assert.equal(list(run1('relu', [x])), [0, 0, 0, 0.5, 2]);
  assert.equal(list(run1('square', [x])), [4, 0.25, 0, 0.25, 4]);
  assert.equal(list(run1('floor', [x])), [-2, -1, 0, 0, 2]);
  assert.equal(list(run1('ceil', [x])), [-2, -0, 0, 1, 2]);
  close(list(run1('sigmoid', [x])), [1 / (1 + Math.exp(2)), 1 / (1 + Math.exp(0.5)), 0.5, 1 / (1 + Math.exp(-0.5)), 1 / (1 + Math.exp(-2))]);
  close(list(run1('tanh', [x])), [Math.tanh(-2), Math.tanh(-0.5), 0, Math.tanh(0.5), Math.tanh(2)]);
  const p = f32([3], [0.25, 1, 4]);
  close(list(run1('sqrt', [p])), [0.5, 1, 2]);
  close(list(run1('rsqrt', [p])), [2, 1, 0.5]);
  close(list(run1('log', [p])), [Math.log(0.25), 0, Math.log(4)]);
  close(list(run1('exp', [f32([2], [0, 1])])), [1, Math.E]);
});

test('softplus and sigmoid are stable at extremes', () => {
  const x = f32([4], [-1000, -30, 30, 1000]);
  const sp = list(run1('softplus', [x]));
  close(sp, [0, Math.log1p(Math.exp(-30)), 30, 1000], 1e-6);
  assert.ok(sp.every(Number.isFinite));
  const sg = list(run1('sigmoid', [x]));
  close(sg, [0, 1 / (1 + Math.exp(30)), 1, 1], 1e-6);
  close(list(run1('softplus', [f32([1], [0])])), [Math.LN2]);
});

test('comparisons and logic give bool', () => {
  const a = f32([3], [1, 2, 3]), b = f32([3], [2, 2, 2]);
  const cases: [string, number[]][] = [['lt', [1, 0, 0]], ['le', [1, 1, 0]], ['gt', [0, 0, 1]], ['ge', [0, 1, 1]], ['eq', [0, 1, 0]], ['ne', [1, 0, 1]]];
  for (const [op, want] of cases) {
    const r = run1(op, [a, b]);
    assert.is(r.dtype, 'bool', op);
    assert.equal(list(r), want, op);
  }
  const p = bool([4], [0, 0, 1, 1]), q = bool([4], [0, 1, 0, 1]);
  assert.equal(list(run1('logical_and', [p, q])), [0, 0, 0, 1]);
  assert.equal(list(run1('logical_or', [p, q])), [0, 1, 1, 1]);
  assert.equal(list(run1('logical_not', [p])), [1, 1, 0, 0]);
  assert.equal(list(run1('eq', [p, q])), [1, 0, 0, 1]);
});

test('where, clamp and cast', () => {
  const c = bool([2, 1], [1, 0]);
  assert.equal(list(run1('where', [c, f32([3], [1, 2, 3]), f32([1], [-1])])), [1, 2, 3, -1, -1, -1]);
  const x = f32([5], [-3, -1, 0, 1, 3]);
  assert.equal(list(run1('clamp', [x], { lo: -1, hi: 2 })), [-1, -1, 0, 1, 2]);
  assert.equal(list(run1('clamp', [x], { lo: 0 })), [0, 0, 0, 1, 3]);
  assert.equal(list(run1('clamp', [x], { hi: 0 })), [-3, -1, 0, 0, 0]);
  const y = f32([4], [-1.7, -0.2, 0.9, 2.5]);
  const ci = run1('cast', [y], { dtype: 'i32' });
  assert.is(ci.dtype, 'i32');
  assert.equal(list(ci), [-1, 0, 0, 2]);
  assert.equal(list(run1('cast', [y], { dtype: 'bool' })), [1, 1, 1, 1]);
  assert.equal(list(run1('cast', [f32([3], [0, 3, NaN])], { dtype: 'bool' })), [0, 1, 1]);
  assert.equal(list(run1('cast', [f32([2], [NaN, -Infinity])], { dtype: 'i32' })), [0, 0]);
  assert.equal(list(run1('cast', [bool([2], [0, 1])], { dtype: 'f32' })), [0, 1]);
});

test('integer arithmetic stays i32', () => {
  const r = run1('add', [i32([2], [1, 2]), i32([1], [5])]);
  assert.is(r.dtype, 'i32');
  assert.ok(r.data instanceof Int32Array);
  assert.equal(list(r), [6, 7]);
});

test('f64 inputs give f64 outputs', () => {
  const r = run1('mul', [f64([2], [0.1, 0.2]), f64([2], [3, 3])]);
  assert.ok(r.data instanceof Float64Array);
  assert.is(r.data[0], 0.1 * 3);
  assert.ok(run1('sigmoid', [f64([1], [0.3])]).data instanceof Float64Array);
});

test('invariants: exp(log x) = x, sigmoid(-x) = 1 - sigmoid(x), broadcast add = explicit loop', () => {
  const x = randomTensor([3, 4], 7, 0.1, 5);
  close(list(run1('exp', [run1('log', [x])])), list(x), 1e-5);
  const z = randomTensor([10], 8, -6, 6);
  const s = list(run1('sigmoid', [z])), sn = list(run1('sigmoid', [run1('neg', [z])]));
  close(s.map((v, i) => v + sn[i]), new Array(10).fill(1), 1e-6);
  const next = rng(42);
  for (let trial = 0; trial < 20; trial++) {
    const rank = 1 + Math.floor(next() * 4);
    const shape = Array.from({ length: rank }, () => 1 + Math.floor(next() * 3));
    const bShape = shape.map((d) => (next() < 0.4 ? 1 : d)).slice(Math.floor(next() * rank));
    const a = randomTensor(shape, trial), b = randomTensor(bShape, trial + 100);
    const r = run1('add', [a, b]);
    assert.equal([...r.shape], shape);
    // Explicit index arithmetic as the second opinion.
    const off = rank - bShape.length;
    for (let o = 0; o < r.data.length; o++) {
      let rem = o, bi = 0, stride = 1;
      const pos: number[] = [];
      for (let d = rank - 1; d >= 0; d--) { pos[d] = rem % shape[d]; rem = Math.floor(rem / shape[d]); }
      for (let d = bShape.length - 1; d >= 0; d--) { bi += (bShape[d] === 1 ? 0 : pos[d + off]) * stride; stride *= bShape[d]; }
      close([r.data[o]], [a.data[o] + b.data[bi]], 1e-6, `trial ${trial}`);
    }
  }
});

test('symbolic shapes: broadcasting keeps symbols, 1 stretches', () => {
  const B = sym('B'), C = sym('C'), H = sym('H'), W = sym('W');
  assert.is(shown(shapeOf('add', [ty('f32', [B, C, H, W]), ty('f32', [C, 1, 1])])[0]), 'f32[B, C, H, W]');
  assert.is(shown(shapeOf('mul', [ty('f32', [1, H]), ty('f32', [W, 1])])[0]), 'f32[W, H]');
  const ctx = new RecordingContext();
  assert.is(shown(shapeOf('lt', [ty('f32', [H]), ty('f32', [W])], {}, ctx)[0]), 'bool[H]');
  assert.is(ctx.assumptions.length, 1, 'H == W is recorded as an assumption');
  assert.is(shown(shapeOf('where', [ty('bool', [H, 1]), ty('f32', [1, W]), ty('f32', [1])])[0]), 'f32[H, W]');
  assert.is(shown(shapeOf('cast', [ty('f32', [H])], { dtype: 'i32' })[0]), 'i32[H]');
});

test('shape errors name the problem', () => {
  shapeError('add', [ty('f32', [2]), ty('i32', [2])], {}, 'add: operands have different dtypes (f32 and i32)');
  shapeError('add', [ty('f32', [2, 3]), ty('f32', [4])], {}, 'add: shapes [2, 3] and [4] do not broadcast');
  shapeError('sigmoid', [ty('i32', [2])], {}, 'sigmoid: x must be f32 or f16, got i32');
  shapeError('div', [ty('i32', [2]), ty('i32', [2])], {}, 'div: a must be f32 or f16, got i32');
  shapeError('logical_and', [ty('f32', [2]), ty('f32', [2])], {}, 'logical_and: a must be bool, got f32');
  shapeError('where', [ty('f32', [2]), ty('f32', [2]), ty('f32', [2])], {}, 'where: cond must be bool, got f32');
  shapeError('where', [ty('bool', [2]), ty('f32', [2]), ty('i32', [2])], {}, 'different dtypes');
  shapeError('cast', [ty('f32', [2])], { dtype: 'f64' }, "attribute 'dtype' must be one of");
  shapeError('add', [ty('f32', [sym('H'), 5]), ty('f32', [3])], {}, 'do not broadcast');
});

test.run();
