import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor } from '../../../compiler/tensor.js';
import { close, f32, f64, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('group_norm by hand: one group of [1, 2, 1, 2]', () => {
  const x = f32([1, 2, 1, 2], [1, 2, 3, 4]); // mean 2.5, var 1.25
  const inv = 1 / Math.sqrt(1.25 + 1e-5);
  const y = run1('group_norm', [x, f32([2], [1, 2]), f32([2], [0, 10])], { groups: 1 });
  close(list(y), [-1.5 * inv, -0.5 * inv, 0.5 * inv * 2 + 10, 1.5 * inv * 2 + 10], 1e-5);
  // Two groups: each channel normalised on its own.
  const y2 = run1('group_norm', [x, f32([2], [1, 1]), f32([2], [0, 0])], { groups: 2, eps: 0 });
  close(list(y2), [-1, 1, -1, 1], 1e-6);
});

test('group_norm invariants: each group has mean 0, variance 1 with unit affine; f64 kept', () => {
  const x = randomTensor([2, 6, 3, 3], 11, -3, 7);
  const y = run1('group_norm', [x, f32([6], new Array(6).fill(1)), f32([6], new Array(6).fill(0))], { groups: 3, eps: 0 });
  for (let n = 0; n < 2; n++) for (let g = 0; g < 3; g++) {
    const vals = list(y).slice((n * 6 + g * 2) * 9, (n * 6 + g * 2 + 2) * 9);
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    const v = vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length;
    close([m, v], [0, 1], 1e-4);
  }
  const r = run1('group_norm', [f64([1, 2, 1, 1], [1, 3]), f64([2], [1, 1]), f64([2], [0, 0])], { groups: 1 });
  assert.ok(r.data instanceof Float64Array);
});

test('frozen_bn by hand', () => {
  const x = f32([1, 2, 1, 2], [1, 2, 3, 4]);
  const y = run1('frozen_bn', [x, f32([2], [2, 1]), f32([2], [1, 0]), f32([2], [1, 3]), f32([2], [4, 1])], { eps: 0 });
  // channel 0: (x - 1) / 2 * 2 + 1; channel 1: (x - 3) / 1 * 1 + 0
  close(list(y), [1, 2, 0, 1], 1e-6);
});

test('frozen_bn with unit statistics is the identity; random shapes agree with the formula', () => {
  const x = randomTensor([2, 3, 4, 5], 4);
  const ones = f32([3], [1, 1, 1]), zero = f32([3], [0, 0, 0]);
  close(list(run1('frozen_bn', [x, ones, zero, zero, ones], { eps: 0 })), list(x), 1e-7);
  const w = randomTensor([3], 5), b = randomTensor([3], 6), m = randomTensor([3], 7), v = randomTensor([3], 8, 0.5, 2);
  const y = list(run1('frozen_bn', [x, w, b, m, v]));
  y.forEach((val, i) => {
    const c = Math.floor(i / 20) % 3;
    close([val], [(x.data[i] - m.data[c]) / Math.sqrt(v.data[c] + 1e-5) * w.data[c] + b.data[c]], 1e-5);
  });
});

test('norm shapes: symbolic passthrough and errors', () => {
  const C = 256;
  assert.is(shown(shapeOf('group_norm', [ty('f32', [sym('B'), C, sym('H'), sym('W')]), ty('f32', [C]), ty('f32', [C])], { groups: 32 })[0]), 'f32[B, 256, H, W]');
  assert.is(shown(shapeOf('group_norm', [ty('f32', [1, sym('C'), 4, 4]), ty('f32', [sym('C')]), ty('f32', [sym('C')])], { groups: sym('G') })[0]), 'f32[1, C, 4, 4]');
  shapeError('group_norm', [ty('f32', [1, 30, 4, 4]), ty('f32', [30]), ty('f32', [30])], { groups: 32 }, 'group_norm: 30 channels are not divisible by groups = 32');
  shapeError('group_norm', [ty('f32', [1, 64, 4, 4]), ty('f32', [32]), ty('f32', [64])], { groups: 32 }, 'group_norm: weight has 32 values but the input has 64 channels');
  shapeError('group_norm', [ty('f32', [1, 64, 4, 4]), ty('f32', [64]), ty('f32', [64])], {}, "group_norm: missing attribute 'groups'");
  shapeError('frozen_bn', [ty('f32', [1, 8, 4, 4]), ty('f32', [8]), ty('f32', [8]), ty('f32', [8]), ty('f32', [4])], {}, 'frozen_bn: var has 4 values but the input has 8 channels');
  shapeError('frozen_bn', [ty('f32', [8]), ty('f32', [8]), ty('f32', [8]), ty('f32', [8]), ty('f32', [8])], {}, 'rank at least 2');
});

test.run();
