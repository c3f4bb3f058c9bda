import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor } from '../../../compiler/tensor.js';
import { neighbourLevels } from '../../../compiler/ops/max3d.js';
import { close, f32, list, run, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('max3d by hand: two levels, tau 2, phi 1', () => {
  const l0 = f32([1, 1, 2, 2], [1, 5, 2, 0]), l1 = f32([1, 1, 1, 1], [3]);
  const [y0, y1] = run('max3d', [l0, l1], { tau: 2, phi: 1 });
  // Level 0 sees level 1 resized to 2x2 (constant 3).
  assert.equal(list(y0), [3, 5, 3, 3]);
  // Level 1 sees level 0 resized bilinearly to 1x1: src 0.5 both ways = mean 2.
  assert.equal(list(y1), [3]);
  const [z1] = run('max3d', [f32([1, 1, 1, 1], [1]), f32([1, 1, 2, 2], [4, 8, 0, 0])], { tau: 2, phi: 1 }).slice(1);
  close(list(z1), [4, 8, 1, 1]); // level 0 (1x1, value 1) is constant 1 at 2x2
});

test('max3d with tau 0, phi 1 is the identity; output >= input', () => {
  const levels = [randomTensor([2, 3, 8, 6], 1), randomTensor([2, 3, 4, 3], 2), randomTensor([2, 3, 2, 2], 3)];
  run('max3d', levels, { tau: 0, phi: 1 }).forEach((y, l) => assert.equal(list(y), list(levels[l])));
  run('max3d', levels, { tau: 2, phi: 3 }).forEach((y, l) => {
    assert.equal([...y.shape], [...levels[l].shape]);
    list(y).forEach((v, i) => assert.ok(v >= levels[l].data[i]));
  });
});

test('max3d equals the unfused composition: resize, elementwise max over frames, 3x3 max pool', () => {
  const levels = [randomTensor([1, 2, 7, 9], 4), randomTensor([1, 2, 4, 5], 5), randomTensor([1, 2, 2, 3], 6), randomTensor([1, 2, 1, 2], 7)];
  for (const tau of [2, 4]) {
    const ys = run('max3d', levels, { tau, phi: 3 });
    levels.forEach((x, l) => {
      const frames = neighbourLevels(l, levels.length, tau).map((k) => (k === l ? x : run1('resize_as', [levels[k], x], { mode: 'bilinear' })));
      const m = frames.reduce((a, b) => run1('maximum', [a, b]));
      const want = run1('max_pool2d', [m], { kernel: [3], stride: [1], padding: [1] });
      close(list(ys[l]), list(want), 0, `tau ${tau} level ${l}`);
    });
  }
  assert.equal(neighbourLevels(0, 5, 2), [0, 1]);
  assert.equal(neighbourLevels(4, 5, 2), [3, 4]);
  assert.equal(neighbourLevels(2, 5, 4), [0, 1, 2, 3, 4]);
});

test('max3d shapes and errors', () => {
  const B = sym('B');
  const outs = shapeOf('max3d', [ty('f32', [B, 256, sym('H3'), sym('W3')]), ty('f32', [B, 256, sym('H4'), sym('W4')])]);
  assert.equal(outs.map(shown), ['f32[B, 256, H3, W3]', 'f32[B, 256, H4, W4]']);
  assert.is(shown(shapeOf('max3d', [ty('f32', [1, 8, 4, 4])], { tau: sym('T'), phi: sym('P') })[0]), 'f32[1, 8, 4, 4]');
  shapeError('max3d', [ty('f32', [1, 256, 8, 8]), ty('f32', [1, 128, 4, 4])], {}, 'max3d: level 1 has 128 channels but level 0 has 256');
  shapeError('max3d', [ty('f32', [1, 8, 8, 8]), ty('f32', [2, 8, 4, 4])], {}, 'max3d: level 1 has batch 2 but level 0 has 1');
  shapeError('max3d', [ty('f32', [1, 8, 8, 8])], { tau: 1 }, 'max3d: tau must be an even number >= 0, got 1');
  shapeError('max3d', [ty('f32', [1, 8, 8, 8])], { phi: 2 }, 'max3d: phi must be an odd number >= 1, got 2');
  shapeError('max3d', [ty('f32', [8, 8, 8])], {}, 'max3d: level 0 must have rank 4');
});

test.run();
