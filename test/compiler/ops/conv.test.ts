import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dimEquals, mul, quotientSym, showDim, sym } from '../../../compiler/dims.js';
import { randomTensor, rng, zeros } from '../../../compiler/tensor.js';
import { RecordingContext, close, f32, f64, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('conv2d by hand: 3x3 input, 2x2 kernel, bias', () => {
  const x = f32([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const w = f32([1, 1, 2, 2], [1, 0, 0, -1]);
  // y[i][j] = x[i][j] - x[i+1][j+1] + 10
  assert.equal(list(run1('conv2d', [x, w, f32([1], [10])])), [6, 6, 6, 6]);
  // padding 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1)
  assert.equal(list(run1('conv2d', [x, w, undefined], { padding: [1], stride: [2] })), [-1, -3, -7, -4]);
});

test('conv2d: identity kernel returns the input; dilation and groups by hand', () => {
  const x = randomTensor([2, 3, 5, 4], 1);
  const w = zeros('f32', [3, 3, 3, 3]);
  for (let c = 0; c < 3; c++) w.data[((c * 3 + c) * 3 + 1) * 3 + 1] = 1;
  close(list(run1('conv2d', [x, w, undefined], { padding: [1] })), list(x), 0);
  // Depthwise identity via groups = C.
  const wd = zeros('f32', [3, 1, 1, 1]); wd.data.fill(2);
  close(list(run1('conv2d', [x, wd, undefined], { groups: 3 })), list(x).map((v) => 2 * v), 1e-6);
  // Dilation 2 on a 1x5 row: taps at j and j+2.
  const r = f32([1, 1, 1, 5], [1, 2, 3, 4, 5]);
  assert.equal(list(run1('conv2d', [r, f32([1, 1, 1, 2], [1, 1]), undefined], { dilation: [2] })), [4, 6, 8]);
  // Two groups: each output sees only its own half of the channels.
  const x2 = f32([1, 2, 1, 1], [3, 5]);
  assert.equal(list(run1('conv2d', [x2, f32([2, 1, 1, 1], [10, 100]), undefined], { groups: 2 })), [30, 500]);
});

test('conv2d: random shapes agree with a naive sum; f64 stays f64', () => {
  const next = rng(5);
  for (let t = 0; t < 6; t++) {
    const C = 1 + Math.floor(next() * 3), O = 1 + Math.floor(next() * 3), K = 1 + Math.floor(next() * 3);
    const H = K + Math.floor(next() * 4), W = K + Math.floor(next() * 4), s = 1 + Math.floor(next() * 2), p = Math.floor(next() * 2);
    const x = randomTensor([1, C, H, W], t), w = randomTensor([O, C, K, K], t + 50);
    const y = run1('conv2d', [x, w, undefined], { stride: [s], padding: [p] });
    const [, , OH, OW] = y.shape;
    assert.is(OH, Math.floor((H + 2 * p - K) / s) + 1);
    for (let o = 0; o < O; o++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
      let acc = 0;
      for (let c = 0; c < C; c++) for (let a = 0; a < K; a++) for (let b = 0; b < K; b++) {
        const yy = i * s - p + a, xx = j * s - p + b;
        if (yy >= 0 && yy < H && xx >= 0 && xx < W) acc += x.data[(c * H + yy) * W + xx] * w.data[((o * C + c) * K + a) * K + b];
      }
      close([y.data[(o * OH + i) * OW + j]], [acc], 1e-5);
    }
  }
  const y64 = run1('conv2d', [f64([1, 1, 2, 2], [1, 2, 3, 4]), f64([1, 1, 1, 1], [0.1]), undefined]);
  assert.ok(y64.data instanceof Float64Array);
});

test('conv2d symbolic: stride-2 k3 p1 gives (H + 1)//2; with H = 32q five of them give H/32', () => {
  const H = sym('H'), W = sym('W');
  const [y] = shapeOf('conv2d', [ty('f32', [sym('B'), 64, H, W]), ty('f32', [128, 64, 3, 3])], { stride: [2], padding: [1] });
  assert.is(shown(y), 'f32[B, 128, (H + 1)//2, (W + 1)//2]');
  // `where H % 32 == 0`: H = 32 * [H/32]; five stride-2 convs must give exactly [H/32].
  let t = ty('f32', [1, 8, mul(32, quotientSym('H', 32)), 64]);
  for (let i = 0; i < 5; i++) t = shapeOf('conv2d', [t, ty('f32', [8, 8, 3, 3])], { stride: [2], padding: [1] })[0];
  assert.is(dimEquals(t.shape[2], quotientSym('H', 32)), true, showDim(t.shape[2]));
  assert.equal(t.shape[3], 2);
});

test('conv2d with symbolic groups: channels checked as C/G * G', () => {
  const G = sym('G');
  assert.is(shown(shapeOf('conv2d', [ty('f32', [1, sym('C'), 8, 8]), ty('f32', [sym('C'), 1, 3, 3])], { groups: sym('C'), padding: [1] })[0]), 'f32[1, C, 8, 8]');
  const ctx = new RecordingContext();
  shapeOf('conv2d', [ty('f32', [1, 64, 8, 8]), ty('f32', [64, 16, 3, 3])], { groups: G }, ctx);
  assert.ok(ctx.assumptions.some((a) => a.includes('expects 16*G (groups = G)')), ctx.assumptions.join('; '));
});

test('conv2d errors: channels, rank, dtype, too small', () => {
  shapeError('conv2d', [ty('f32', [1, 64, 8, 8]), ty('f32', [16, 128, 3, 3])], {}, 'conv2d: input has 64 channels but the weight expects 128 (groups = 1)');
  shapeError('conv2d', [ty('f32', [1, 64, 8, 8]), ty('f32', [16, 16, 3, 3])], { groups: 2 }, 'input has 64 channels but the weight expects 32 (groups = 2)');
  shapeError('conv2d', [ty('f32', [64, 8, 8]), ty('f32', [16, 64, 3, 3])], {}, 'conv2d: input must have rank 4 (N, C, H, W), got f32[64, 8, 8]');
  shapeError('conv2d', [ty('f32', [1, 4, 8, 8]), ty('f32', [16, 4, 3])], {}, 'weight must have rank 4');
  shapeError('conv2d', [ty('i32', [1, 4, 8, 8]), ty('i32', [16, 4, 3, 3])], {}, 'conv2d: input must be f32 or f16, got i32');
  shapeError('conv2d', [ty('f32', [1, 4, 8, 8]), ty('f16', [16, 4, 3, 3])], {}, 'different dtypes');
  shapeError('conv2d', [ty('f32', [1, 4, 2, 2]), ty('f32', [16, 4, 3, 3])], {}, 'conv2d: output height 0 is less than 1');
  shapeError('conv2d', [ty('f32', [1, 4, 8, 8]), ty('f32', [16, 4, 3, 3]), ty('f32', [8])], {}, 'bias has 8 values but the weight has 16 output channels');
  shapeError('conv2d', [ty('f32', [1, 4, 8, 8]), ty('f32', [6, 1, 3, 3])], { groups: 4 }, 'not divisible by groups = 4');
  shapeError('conv2d', [ty('f32', [1, 4, 8, 8]), ty('f32', [6, 4, 3, 3])], { stride: [1, 2, 3] }, "attribute 'stride' needs 1 or 2 values, got 3");
  shapeError('conv2d', [ty('f32', [1, 4, 8, 8]), ty('f32', [6, 4, 3, 3])], { stride: [sym('S')] }, "attribute 'stride' must be a known integer");
  shapeError('conv2d', [ty('f32', [1, 4, 8, 8]), ty('f32', [6, 4, 3, 3])], { groups: 0 }, 'conv2d: groups must be at least 1, got 0');
  assert.is(showDim(sym('H')), 'H');
});

test.run();
