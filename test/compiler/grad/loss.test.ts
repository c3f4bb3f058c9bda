// Gradients of the losses and the box ops losses use, against finite
// differences (f64).
import { test } from 'uvu';
import { gradCheck, rand64 } from '../../helpers/grad-check.js';
import { rng, tensor } from '../../../compiler/tensor.js';
import { Tensor } from '../../../compiler/tensor.js';

/** Targets mixing hard 0/1 labels and soft values (IoU-weighted targets). */
function targets(shape: number[], seed: number): Tensor {
  const next = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor('f32', shape, Array.from({ length: n }, () => { const r = next(); return r < 0.4 ? 0 : r < 0.7 ? 1 : next(); }), true);
}

test('sigmoid_focal_loss: logits gradient for several alpha and gamma, broadcast targets', () => {
  gradCheck('sigmoid_focal_loss', [rand64([2, 3, 4], 1, -4, 4), targets([2, 3, 4], 2)], {}, { wrt: [0] });
  gradCheck('sigmoid_focal_loss', [rand64([3, 5], 3, -4, 4), targets([5], 4)], { alpha: -1, gamma: 1.5 }, { wrt: [0] });
  gradCheck('sigmoid_focal_loss', [rand64([6], 5, -3, 3), targets([6], 6)], { alpha: 0.5, gamma: 0 }, { wrt: [0] });
  gradCheck('sigmoid_focal_loss', [rand64([6], 7, -3, 3), targets([6], 8)], { alpha: 0.25, gamma: 0.5 }, { wrt: [0] });
});

test('bce_with_logits: logits and targets', () => {
  gradCheck('bce_with_logits', [rand64([3, 4], 1, -5, 5), targets([3, 4], 2)]);
  gradCheck('bce_with_logits', [rand64([2, 1, 3], 3, -5, 5), targets([4, 3], 4)]);
});

test('bce on probabilities: probs and targets, including the -100 log clamp', () => {
  gradCheck('bce', [rand64([4, 3], 1, 0.05, 0.95), targets([4, 3], 2)]);
  // p = 1e-50, t = 1: log p is clamped at -100, so the loss is flat in p
  // (unclamped, the derivative would be -1/p = -1e50).
  gradCheck('bce', [tensor('f32', [1], [1e-50], true), tensor('f32', [1], [1], true)], {}, { h: 1e-60, wrt: [0] });
});

/** Well-formed boxes (x1 < x2, y1 < y2) around random centres, so pairs overlap, nest, or sit apart. */
function boxes(shape: number[], seed: number): Tensor {
  const next = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1) / 4;
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    const cx = next() * 10, cy = next() * 10, w = 1 + next() * 6, h = 1 + next() * 6;
    v.push(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
  }
  return tensor('f32', shape, v, true);
}

test('box_iou_aligned and box_giou_aligned: both box sets', () => {
  for (const op of ['box_iou_aligned', 'box_giou_aligned']) {
    gradCheck(op, [boxes([2, 16, 4], 1), boxes([2, 16, 4], 2)], {}, { samples: 128 });
    gradCheck(op, [boxes([5, 4], 3), boxes([5, 4], 4)]);
  }
  gradCheck('box_giou_aligned', [boxes([6, 4], 5), boxes([6, 4], 6)], { eps: 0.5 });
});

test('box_decode: ltrb and points', () => {
  gradCheck('box_decode', [rand64([5, 2], 1, 0, 20), rand64([2, 5, 4], 2, 0, 4)]);
});

test.run();
