// Gradients of the elementwise family against finite differences (f64).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gradCheck, rand64 } from '../../helpers/grad-check.js';
import { bool } from '../../helpers/op-check.js';
import { rng } from '../../../compiler/tensor.js';

/** Odd, random shapes: rank 1..4, sizes 1..5. */
function shapeOf(seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: 1 + Math.floor(next() * 4) }, () => 1 + Math.floor(next() * 5));
}

const UNARY_DOMAINS: [string, number, number][] = [
  ['neg', -2, 2], ['abs', -2, 2], ['relu', -2, 2], ['sigmoid', -4, 4], ['tanh', -2, 2], ['exp', -2, 2],
  ['log', 0.2, 3], ['sqrt', 0.2, 3], ['rsqrt', 0.2, 3], ['square', -2, 2], ['softplus', -4, 4],
];

for (const [op, lo, hi] of UNARY_DOMAINS) {
  test(`${op}: gradient over random shapes`, () => {
    for (let s = 0; s < 3; s++) assert.ok(gradCheck(op, [rand64(shapeOf(s + op.length * 7), s + 1, lo, hi)]) > 0);
  });
}

/** Shape pairs that broadcast both ways, with leading dims missing on either side. */
const BROADCASTS: [number[], number[]][] = [
  [[3, 4], [3, 4]], [[2, 3, 4], [4]], [[3, 1], [1, 5]], [[1], [2, 3]], [[2, 1, 3], [4, 1]], [[], [3, 2]],
];

for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow']) {
  test(`${op}: gradient of both operands under broadcasting`, () => {
    BROADCASTS.forEach(([sa, sb], k) => {
      // pow needs a positive base; div a divisor away from 0.
      const a = op === 'pow' ? rand64(sa, 10 + k, 0.5, 2) : rand64(sa, 10 + k);
      const b = op === 'div' ? rand64(sb, 20 + k, 0.5, 2) : rand64(sb, 20 + k);
      gradCheck(op, [a, b]);
    });
  });
}

test('where: gradients to both branches, none to the condition', () => {
  const cond = bool([2, 3], [1, 0, 1, 0, 0, 1]);
  gradCheck('where', [cond, rand64([2, 3], 1), rand64([3], 2)]);
  gradCheck('where', [bool([3], [0, 1, 1]), rand64([2, 1], 3), rand64([2, 3], 4)]);
});

test('clamp: passes inside the bounds, zero outside', () => {
  gradCheck('clamp', [rand64([4, 5], 3, -2, 2)], { lo: -0.5, hi: 0.7 });
  gradCheck('clamp', [rand64([7], 4, -2, 2)], { lo: 0.1 });
});

test('cast f32 -> f32 passes the gradient', () => {
  gradCheck('cast', [rand64([3, 2], 5)], { dtype: 'f32' });
});

test.run();
