import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { rng } from '../../../compiler/tensor.js';
import { f32, i32, list, run, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

const boxes = f32([1, 4, 4], [0, 0, 10, 10, 1, 1, 11, 11, 0, 0, 10, 10, 50, 50, 60, 60]);

test('nms by hand: suppression within a class only, descending score', () => {
  // IoU(0, 1) = 81 / 119 = 0.68 > 0.6; box 2 equals box 0 but is another class.
  const [keep, count] = run('nms', [boxes, f32([1, 4], [0.9, 0.8, 0.7, 0.95]), i32([1, 4], [0, 0, 1, 0])], { max_out: 5 });
  assert.equal(list(keep), [3, 0, 2, -1, -1]);
  assert.equal(list(count), [3]);
  const [k2] = run('nms', [boxes, f32([1, 4], [0.9, 0.8, 0.7, 0.95]), i32([1, 4], [0, 0, 1, 0])], { max_out: 5, iou_threshold: 0.7 });
  assert.equal(list(k2), [3, 0, 1, 2, -1]);
});

test('nms: ties keep the lower index; score threshold; max_out truncates; batches independent', () => {
  const far = f32([1, 3, 4], [0, 0, 1, 1, 10, 10, 11, 11, 20, 20, 21, 21]);
  const [k] = run('nms', [far, f32([1, 3], [0.5, 0.5, 0.5]), i32([1, 3], [0, 0, 0])], { max_out: 2 });
  assert.equal(list(k), [0, 1]);
  const [k2, c2] = run('nms', [far, f32([1, 3], [0.1, 0.3, 0.2]), i32([1, 3], [0, 0, 0])], { max_out: 3, score_threshold: 0.15 });
  assert.equal(list(k2), [1, 2, -1]);
  assert.equal(list(c2), [2]);
  const two = f32([2, 2, 4], [0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10, 5, 5, 6, 6]);
  const [k3, c3] = run('nms', [two, f32([2, 2], [0.2, 0.9, 0.2, 0.9]), i32([2, 2], [0, 0, 0, 0])], { max_out: 2 });
  assert.equal(list(k3), [1, -1, 1, 0]);
  assert.equal(list(c3), [1, 2]);
});

test('nms invariants on random boxes: kept boxes of a class overlap at most the threshold; every dropped box has a kept suppressor', () => {
  const next = rng(31);
  for (let trial = 0; trial < 8; trial++) {
    const N = 30, thr = 0.3 + 0.4 * next();
    const b: number[] = [], s: number[] = [], c: number[] = [];
    for (let i = 0; i < N; i++) {
      const x = next() * 40, y = next() * 40;
      b.push(x, y, x + 5 + next() * 20, y + 5 + next() * 20);
      s.push(Math.round(next() * 20) / 20);
      c.push(Math.floor(next() * 3));
    }
    const boxesT = f32([1, N, 4], b);
    const [keep, count] = run('nms', [boxesT, f32([1, N], s), i32([1, N], c)], { iou_threshold: thr, max_out: N });
    const kept = list(keep).slice(0, list(count)[0]);
    const iou = (i: number, j: number): number => list(run1('box_iou_aligned', [f32([4], b.slice(i * 4, i * 4 + 4)), f32([4], b.slice(j * 4, j * 4 + 4))]))[0];
    for (let a = 0; a < kept.length; a++) {
      if (a > 0) assert.ok(s[kept[a - 1]] > s[kept[a]] || (s[kept[a - 1]] === s[kept[a]] && kept[a - 1] < kept[a]), 'descending score, ties by index');
      for (let d = a + 1; d < kept.length; d++) if (c[kept[a]] === c[kept[d]]) assert.ok(iou(kept[a], kept[d]) <= thr + 1e-6);
    }
    for (let i = 0; i < N; i++) {
      if (kept.includes(i)) continue;
      const rank = kept.findIndex((k) => c[k] === c[i] && iou(k, i) > thr && (s[k] > s[i] || (s[k] === s[i] && k < i)));
      assert.ok(rank >= 0, `box ${i} dropped without a suppressor`);
    }
  }
});

test('nms shapes and errors', () => {
  const [keep, count] = shapeOf('nms', [ty('f32', [sym('B'), sym('N'), 4]), ty('f32', [sym('B'), sym('N')]), ty('i32', [sym('B'), sym('N')])], {});
  assert.is(shown(keep), 'i32[B, 100]');
  assert.is(shown(count), 'i32[B]');
  shapeError('nms', [ty('f32', [1, 5, 4]), ty('f32', [1, 4]), ty('i32', [1, 5])], {}, 'nms: scores has 4 entries per image but boxes has 5');
  shapeError('nms', [ty('f32', [1, 5, 4]), ty('f32', [1, 5]), ty('f32', [1, 5])], {}, 'nms: classes must be i32, got f32');
  shapeError('nms', [ty('f32', [1, 5, 5]), ty('f32', [1, 5]), ty('i32', [1, 5])], {}, 'nms: boxes must be [B, N, 4]');
  shapeError('nms', [ty('f32', [1, 5, 4]), ty('f32', [1, 5]), ty('i32', [1, 5])], { max_out: 0 }, 'nms: max_out = 0 must be at least 1');
});

test.run();
