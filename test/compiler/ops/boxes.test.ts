import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { randomTensor } from '../../../compiler/tensor.js';
import { close, f32, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('box_decode by hand', () => {
  const p = f32([2, 2], [10, 20, 30, 40]);
  const d = f32([1, 2, 4], [1, 2, 3, 4, 0, 0, 5, 5]);
  assert.equal(list(run1('box_decode', [p, d])), [9, 18, 13, 24, 30, 40, 35, 45]);
});

test('box_iou by hand: overlap, touching, disjoint, identical', () => {
  const a = f32([1, 2, 4], [0, 0, 2, 2, 0, 0, 1, 1]);
  const b = f32([1, 3, 4], [1, 1, 3, 3, 2, 0, 4, 2, 0, 0, 2, 2]);
  close(list(run1('box_iou', [a, b])), [1 / 7, 0, 1, 0, 0, 0.25]);
  close(list(run1('box_iou_aligned', [f32([2, 4], [0, 0, 2, 2, 0, 0, 1, 1]), f32([2, 4], [1, 1, 3, 3, 0, 0, 1, 1])])), [1 / 7, 1]);
});

test('box_iou invariants: symmetric, in [0, 1], aligned = diagonal of pairwise', () => {
  const mk = (seed: number): number[] => {
    const r = list(randomTensor([5, 4], seed, 0, 50));
    const out: number[] = [];
    for (let i = 0; i < 5; i++) out.push(r[i * 4], r[i * 4 + 1], r[i * 4] + 1 + r[i * 4 + 2], r[i * 4 + 1] + 1 + r[i * 4 + 3]);
    return out;
  };
  const a = f32([1, 5, 4], mk(1)), b = f32([1, 5, 4], mk(2));
  const ab = list(run1('box_iou', [a, b])), ba = list(run1('box_iou', [b, a]));
  for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) {
    close([ab[i * 5 + j]], [ba[j * 5 + i]], 1e-6);
    assert.ok(ab[i * 5 + j] >= 0 && ab[i * 5 + j] <= 1);
  }
  const al = list(run1('box_iou_aligned', [a, b]));
  close(al, [0, 1, 2, 3, 4].map((i) => ab[i * 5 + i]), 1e-6);
  close(list(run1('box_iou_aligned', [a, a])), [1, 1, 1, 1, 1], 1e-6);
});

test('box_giou_aligned by hand and bounded by IoU', () => {
  const a = f32([3, 4], [0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 1, 1]), b = f32([3, 4], [0, 0, 2, 2, 1, 1, 3, 3, 2, 2, 3, 3]);
  close(list(run1('box_giou_aligned', [a, b])), [1, 1 / 7 - 2 / 9, 0 - 7 / 9], 1e-6);
  const r = (seed: number): number[] => list(randomTensor([30, 4], seed, 0, 20)).map((v, i, all) => (i % 4 < 2 ? v : all[i - 2] + 0.5 + v));
  const p = f32([30, 4], r(1)), q = f32([30, 4], r(2));
  const g = list(run1('box_giou_aligned', [p, q])), iou = list(run1('box_iou_aligned', [p, q]));
  g.forEach((v, i) => assert.ok(v <= iou[i] + 1e-6 && v >= -1 - 1e-6, `${v} vs ${iou[i]}`));
  // Degenerate boxes stay finite thanks to the eps clamp.
  assert.ok(Number.isFinite(list(run1('box_giou_aligned', [f32([4], [1, 1, 1, 1]), f32([4], [1, 1, 1, 1])]))[0]));
});

test('inside_box is strict; center_prior clips the centre region to the box', () => {
  const pts = f32([4, 2], [40, 40, 37, 50, 62, 50, 0, 50]);
  const box = f32([1, 1, 4], [0, 0, 100, 100]);
  assert.equal(list(run1('inside_box', [pts, box])), [1, 1, 1, 0]);
  const strides = f32([4], [8, 8, 8, 8]);
  // Centre (50, 50), r = 1.5 * 8 = 12: strictly inside (38, 62).
  assert.equal(list(run1('center_prior', [pts, strides, box], { radius: 1.5 })), [1, 0, 0, 0]);
  assert.equal(list(run1('center_prior', [pts, strides, box], { radius: 0 })), [1, 1, 1, 0]);
  // A thin box: the region is clipped to x in (0, 10).
  const thin = f32([1, 1, 4], [0, 0, 10, 100]);
  const p2 = f32([3, 2], [1, 50, 9.5, 50, 10, 50]);
  assert.equal(list(run1('center_prior', [p2, f32([3], [64, 64, 64]), thin], { radius: 1.5 })), [1, 1, 0]);
  // Strides per point: the larger stride widens the region.
  const p3 = f32([2, 2], [30, 50, 30, 50]);
  assert.equal(list(run1('center_prior', [p3, f32([2], [8, 16]), box], { radius: 1.5 })), [0, 1]);
});

test('box shapes and errors', () => {
  const B = sym('B'), N = sym('N'), G = sym('G');
  assert.is(shown(shapeOf('box_decode', [ty('f32', [N, 2]), ty('f32', [B, N, 4])])[0]), 'f32[B, N, 4]');
  assert.is(shown(shapeOf('box_iou', [ty('f32', [B, G, 4]), ty('f32', [B, N, 4])])[0]), 'f32[B, G, N]');
  assert.is(shown(shapeOf('inside_box', [ty('f32', [N, 2]), ty('f32', [B, G, 4])])[0]), 'bool[B, G, N]');
  assert.is(shown(shapeOf('center_prior', [ty('f32', [N, 2]), ty('f32', [N]), ty('f32', [B, G, 4])], { radius: 1.5 })[0]), 'bool[B, G, N]');
  assert.is(shown(shapeOf('box_iou_aligned', [ty('f32', [B, N, 4]), ty('f32', [B, N, 4])])[0]), 'f32[B, N]');
  shapeError('box_decode', [ty('f32', [10, 2]), ty('f32', [1, 12, 4])], {}, 'box_decode: ltrb has 12 locations but there are 10 points');
  shapeError('box_iou', [ty('f32', [1, 3, 5]), ty('f32', [1, 3, 4])], {}, 'box_iou: a must end in 4');
  shapeError('box_iou', [ty('f32', [2, 3, 4]), ty('f32', [1, 3, 4])], {}, 'box_iou: batch sizes differ (2 and 1)');
  shapeError('inside_box', [ty('f32', [10, 3]), ty('f32', [1, 3, 4])], {}, 'inside_box: points must be [N, 2]');
  shapeError('center_prior', [ty('f32', [10, 2]), ty('f32', [9]), ty('f32', [1, 3, 4])], {}, 'center_prior: 9 strides for 10 points');
  shapeError('box_iou_aligned', [ty('f32', [3, 4]), ty('f32', [2, 4])], {}, 'a and b must have the same shape');
});

test.run();
