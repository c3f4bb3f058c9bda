// Gradients of conv2d, matmul, the norms, max_pool2d, resize and max3d
// against finite differences (f64), over strides, padding, dilation, groups,
// odd sizes and batch > 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gradCheck, rand64 } from '../../helpers/grad-check.js';
import { f32 } from '../../helpers/op-check.js';
import { rng } from '../../../compiler/tensor.js';

const CONVS: { x: number[]; w: number[]; bias: boolean; attrs: Record<string, number[] | number> }[] = [
  { x: [1, 2, 5, 5], w: [3, 2, 3, 3], bias: true, attrs: { padding: [1] } },
  { x: [2, 3, 7, 6], w: [4, 3, 3, 3], bias: true, attrs: { stride: [2], padding: [1] } },
  { x: [2, 4, 6, 7], w: [6, 2, 3, 2], bias: false, attrs: { groups: 2, dilation: [2, 1], padding: [2, 0] } },
  { x: [1, 3, 9, 8], w: [2, 3, 1, 1], bias: true, attrs: { stride: [2, 3] } },
  { x: [2, 4, 5, 5], w: [4, 1, 3, 3], bias: true, attrs: { groups: 4, stride: [2], padding: [1], dilation: [2] } },
];

CONVS.forEach((c, k) => {
  test(`conv2d: input, weight and bias gradients (case ${k}: ${JSON.stringify(c.attrs)})`, () => {
    const x = rand64(c.x, k + 1), w = rand64(c.w, k + 2), b = c.bias ? rand64([c.w[0]], k + 3) : undefined;
    assert.ok(gradCheck('conv2d', [x, w, b], c.attrs) > 40);
  });
});

test('conv2d over randomised geometry: sizes 3..8, stride 1..2, padding 0..2, dilation 1..2, groups 1..2, batch 1..2', () => {
  const next = rng(2024);
  const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  for (let trial = 0; trial < 6; trial++) {
    const groups = pick(1, 2), cg = pick(1, 2), og = pick(1, 2), k = pick(1, 3);
    const attrs = { stride: [pick(1, 2), pick(1, 2)], padding: [pick(0, 2)], dilation: [pick(1, 2)], groups };
    const span = attrs.dilation[0] * (k - 1) + 1;
    const H = Math.max(pick(3, 8), span), W = Math.max(pick(3, 8), span);
    const x = rand64([pick(1, 2), groups * cg, H, W], 100 + trial), w = rand64([groups * og, cg, k, pick(1, 3)], 200 + trial);
    gradCheck('conv2d', [x, w, next() < 0.5 ? rand64([groups * og], 300 + trial) : undefined], attrs, { samples: 24 });
  }
});

test('max_pool2d and resize over randomised sizes', () => {
  const next = rng(77);
  const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  for (let trial = 0; trial < 4; trial++) {
    const k = pick(1, 3);
    gradCheck('max_pool2d', [rand64([pick(1, 2), pick(1, 3), pick(k, 7), pick(k, 7)], 10 + trial)], { kernel: [k], stride: [pick(1, 2)], padding: [pick(0, Math.floor(k / 2))] }, { samples: 24 });
    const mode = trial % 2 ? 'bilinear' : 'nearest';
    gradCheck('resize', [rand64([pick(1, 2), pick(1, 2), pick(1, 6), pick(1, 6)], 20 + trial)], { size: [pick(1, 9), pick(1, 9)], mode }, { samples: 24 });
  }
});

test('matmul: both operands, batch dims broadcast', () => {
  gradCheck('matmul', [rand64([3, 4], 1), rand64([4, 5], 2)]);
  gradCheck('matmul', [rand64([2, 3, 4], 3), rand64([4, 2], 4)]);
  gradCheck('matmul', [rand64([1, 3, 2], 5), rand64([2, 1, 2, 3], 6)]);
});

test('group_norm: input, weight and bias', () => {
  gradCheck('group_norm', [rand64([2, 4, 3, 3], 1), rand64([4], 2, 0.5, 1.5), rand64([4], 3)], { groups: 2 });
  gradCheck('group_norm', [rand64([1, 6, 5], 4), rand64([6], 5, 0.5, 1.5), rand64([6], 6)], { groups: 3, eps: 1e-3 });
  gradCheck('group_norm', [rand64([3, 2, 2, 3], 7), rand64([2], 8), rand64([2], 9)], { groups: 1 });
});

test('frozen_bn: input (and weight/bias when trainable); mean and var are constants', () => {
  const stats = [rand64([3], 1), rand64([3], 2), rand64([3], 3), rand64([3], 4, 0.5, 2)];
  gradCheck('frozen_bn', [rand64([2, 3, 4, 3], 5), ...stats], {}, { wrt: [0] });
  gradCheck('frozen_bn', [rand64([2, 3, 5], 6), ...stats], {}, { wrt: [0, 1, 2] });
});

test('max_pool2d: the gradient goes to each window maximum, overlapping windows sum', () => {
  gradCheck('max_pool2d', [rand64([2, 2, 5, 5], 1)], { kernel: [3], stride: [2], padding: [1] });
  gradCheck('max_pool2d', [rand64([1, 3, 6, 7], 2)], { kernel: [2] });
  gradCheck('max_pool2d', [rand64([1, 1, 7, 5], 3)], { kernel: [3, 2], stride: [1] });
});

test('resize: nearest and bilinear, up and down, odd sizes', () => {
  for (const mode of ['nearest', 'bilinear']) {
    gradCheck('resize', [rand64([2, 3, 4, 5], 1)], { size: [7, 9], mode });
    gradCheck('resize', [rand64([1, 2, 9, 7], 2)], { size: [4, 3], mode });
    gradCheck('resize', [rand64([3, 5], 3)], { size: [5, 5], mode });
    // Whole factors: nearest takes the reshape + sum path.
    gradCheck('resize', [rand64([2, 1, 3, 4], 4)], { size: [6, 12], mode });
  }
});

test('resize_as: gradient to x only', () => {
  const ref = f32([1, 1, 6, 3], new Array(18).fill(0));
  gradCheck('resize_as', [rand64([1, 2, 3, 2], 4), ref], { mode: 'bilinear' }, { wrt: [0] });
});

test('max3d: gradient to each arg-max, through bilinear weights across levels', () => {
  const levels = [rand64([2, 2, 8, 8], 1), rand64([2, 2, 4, 4], 2), rand64([2, 2, 2, 2], 3)];
  assert.ok(gradCheck('max3d', levels, { tau: 2, phi: 3 }, { samples: 60 }) >= 120);
  gradCheck('max3d', [rand64([1, 1, 5, 7], 4), rand64([1, 1, 3, 4], 5)], { tau: 2, phi: 1 });
  gradCheck('max3d', [rand64([1, 2, 4, 4], 6), rand64([1, 2, 2, 2], 7), rand64([1, 2, 1, 1], 8)], { tau: 0, phi: 5 });
});

test.run();
