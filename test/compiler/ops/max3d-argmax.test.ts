// max3d_argmax (where each max3d output's maximum came from) and
// max3d_argmax_grad (the gradient routed by those codes): by hand, the tie
// and NaN rule, agreement with the forward's own arg-max search, shapes and errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor, tensor } from '../../../compiler/tensor.js';
import { forEachArgmax, gradientRouter } from '../../../compiler/ops/max3d.js';
import { close, f32, list, run, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

const i32 = (shape: number[], data: number[]): ReturnType<typeof tensor> => tensor('i32', shape, data);

test('codes by hand: own level, a resized neighbour, frame * H * W + y * W + x', () => {
  // Level 0 (2x2) sees level 1 (1x1, value 3) resized: constant 3 beats 1, 2 and 0 but not 5.
  const [c0, c1] = run('max3d_argmax', [f32([1, 1, 2, 2], [1, 5, 2, 0]), f32([1, 1, 1, 1], [3])], { tau: 2, phi: 1 });
  assert.equal(list(c0), [4 + 0, 1, 4 + 2, 4 + 3]);
  // Level 1 sees level 0 resized to 1x1 (mean 2) below its own 3: itself.
  assert.equal(list(c1), [1 * 1 + 0]);
  // phi 3 on one level: every output names the position of its window's maximum.
  const [c] = run('max3d_argmax', [f32([1, 1, 2, 3], [1, 9, 2, 4, 0, 8])], { tau: 0, phi: 3 });
  assert.equal(list(c), [1, 1, 1, 1, 1, 1]);
});

test('ties go to the first maximum in scan order (frames, then h, then w); the first NaN wins; only -inf: -1', () => {
  // All equal: the window's top-left in range.
  const [t] = run('max3d_argmax', [f32([1, 1, 3, 3], Array(9).fill(7))], { tau: 0, phi: 3 });
  assert.equal(list(t), [0, 0, 1, 0, 0, 1, 3, 3, 4]);
  // Equal across frames: the lower frame, even at a later position in the window.
  const [u0] = run('max3d_argmax', [f32([1, 1, 1, 2], [0, 4]), f32([1, 1, 1, 1], [4])], { tau: 2, phi: 3 });
  assert.equal(list(u0), [1, 1]);
  // NaNs: the first in order, not a later one.
  const [n] = run('max3d_argmax', [f32([1, 1, 1, 3], [NaN, 1, NaN])], { tau: 0, phi: 3 });
  assert.equal(list(n), [0, 0, 1 + 1]);
  const [m] = run('max3d_argmax', [f32([1, 1, 1, 4], [-Infinity, -Infinity, -Infinity, 2])], { tau: 0, phi: 3 });
  assert.equal(list(m), [-1, -1, 3, 3]);
});

test('gradient by hand: to the own level, and through the bilinear weights into a neighbour', () => {
  // Level 0 is 1x2, level 1 is 1x1. Output (0,0) of level 0 names itself, output (0,1) names level 1's
  // sample at (0,1) of level 0's frame (taps of a 1 -> 2 resize: all weight on the single pixel).
  const codes = [i32([1, 1, 1, 2], [0, 2 + 1]), i32([1, 1, 1, 1], [1 + 0])];
  const grads = [f32([1, 1, 1, 2], [2, 3]), f32([1, 1, 1, 1], [5])];
  const [d0, d1] = run('max3d_argmax_grad', [...codes, ...grads], { tau: 2, phi: 1 });
  assert.equal(list(d0), [2, 0]);
  assert.equal(list(d1), [3 + 5]);
  // Level 1 (1x1) naming level 0 (1x2) resized to 1x1: half to each pixel.
  const [e0, e1] = run('max3d_argmax_grad', [i32([1, 1, 1, 2], [-1, -1]), i32([1, 1, 1, 1], [0]), f32([1, 1, 1, 2], [1, 1]), f32([1, 1, 1, 1], [4])], { tau: 2, phi: 1 });
  close(list(e0), [2, 2]);
  assert.equal(list(e1), [0]);
});

test('argmax then argmax_grad routes each gradient as the forward\'s arg-max search does (random pyramids, tau 2 and 4, phi 1..5)', () => {
  for (const [tau, phi] of [[2, 3], [4, 5], [2, 1], [0, 3]]) {
    const levels = [randomTensor([2, 2, 9, 7], 1), randomTensor([2, 2, 5, 4], 2), randomTensor([2, 2, 3, 2], 3)];
    const grads = levels.map((x, i) => randomTensor([...x.shape], 10 + i));
    const codes = run('max3d_argmax', levels, { tau, phi });
    const two = run('max3d_argmax_grad', [...codes, ...grads], { tau, phi });
    // The routing straight from the forward's search (what the removed one-op max3d_grad computed).
    const acc = levels.map((x) => new Float64Array(x.data.length));
    const route = gradientRouter(acc, levels.map((x) => x.shape));
    forEachArgmax(levels, tau, phi, (l, o, k, at) => {
      const [, , H, W] = levels[l].shape;
      route(l, k, Math.floor(at / (H * W)), Math.floor(at / W) % H, at % W, grads[l].data[o]);
    });
    const one = acc.map((a, l) => tensor('f32', [...levels[l].shape], Array.from(a)));
    two.forEach((d, l) => close(list(d), list(one[l]), 1e-5, `tau ${tau} phi ${phi} level ${l}`));
  }
});

test('shapes and errors', () => {
  const B = sym('B');
  const cs = shapeOf('max3d_argmax', [ty('f32', [B, 8, sym('H'), sym('W')]), ty('f32', [B, 8, 4, 4])]);
  assert.equal(cs.map(shown), ['i32[B, 8, H, W]', 'i32[B, 8, 4, 4]']);
  const gs = shapeOf('max3d_argmax_grad', [ty('i32', [B, 8, 8, 8]), ty('i32', [B, 8, 4, 4]), ty('f32', [B, 8, 8, 8]), ty('f32', [B, 8, 4, 4])]);
  assert.equal(gs.map(shown), ['f32[B, 8, 8, 8]', 'f32[B, 8, 4, 4]']);
  shapeError('max3d_argmax', [ty('f32', [1, 8, 8, 8]), ty('f32', [1, 4, 4, 4])], {}, 'max3d_argmax: level 1 has 4 channels but level 0 has 8');
  shapeError('max3d_argmax', [ty('f32', [1, 8, 8, 8])], { phi: 2 }, 'max3d: phi must be an odd number >= 1, got 2');
  shapeError('max3d_argmax_grad', [ty('i32', [1, 8, 8, 8]), ty('f32', [1, 8, 8, 8]), ty('f32', [1, 8, 8, 8])], {}, /needs the L arg-max codes then the L output gradients, got 3/);
  shapeError('max3d_argmax_grad', [ty('f32', [1, 8, 8, 8]), ty('f32', [1, 8, 8, 8])], {}, /max3d_argmax_grad: level 0 must be i32/);
  shapeError('max3d_argmax_grad', [ty('i32', [1, 8, 8, 8]), ty('f32', [1, 8, 8, 7])], {}, 'max3d_argmax_grad: gradient 0 dim 3 is 7 but code 0 has 8');
  shapeError('max3d_argmax_grad', [ty('i32', [1, 8, 8, 8]), ty('i32', [1, 8, 8, 8])], {}, /gradient 0 must be f32 or f16|gradient 0 .*f32/);
});

test.run();
