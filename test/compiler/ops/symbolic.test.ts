// The same shape rule serves the checker (symbols) and lowering (numbers):
// evaluated at the concrete sizes, the symbolic answer must be the reference's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomTensor, rng } from '../../../compiler/tensor.js';
import { f32, i32, shown, symbolicAgrees } from '../../helpers/op-check.js';

const NCHW = ['N', 'C', 'H', 'W'];

test('windowed ops over random sizes: conv2d, max_pool2d', () => {
  const next = rng(17);
  for (let t = 0; t < 12; t++) {
    const H = 3 + Math.floor(next() * 9), W = 3 + Math.floor(next() * 9);
    const k = 1 + Math.floor(next() * 3), s = 1 + Math.floor(next() * 3), p = Math.floor(next() * 2), d = 1 + Math.floor(next() * 2);
    if (H + 2 * p < d * (k - 1) + 1 || W + 2 * p < d * (k - 1) + 1) continue;
    const x = randomTensor([1, 2, H, W], t);
    symbolicAgrees('conv2d', [x, randomTensor([3, 2, k, k], t + 1), undefined], { stride: [s], padding: [p], dilation: [d] }, [NCHW, [null, 'C']]);
    if (2 * p <= k) symbolicAgrees('max_pool2d', [x], { kernel: [k], stride: [s], padding: [p] }, [NCHW]);
  }
});

test('layout, reduce, select, create and box ops', () => {
  const x = randomTensor([2, 3, 4, 5], 1);
  symbolicAgrees('concat', [x, randomTensor([2, 2, 4, 5], 2)], { axis: 1 }, [NCHW, ['N', 'D', 'H', 'W']]);
  symbolicAgrees('stack', [x, x], { axis: 2 }, [NCHW, NCHW]);
  for (const [start, end, step] of [[1, -1, 1], [0, 5, 2], [-3, 5, 1], [2, 1, 1], [1, 2147483647, 1]]) {
    symbolicAgrees('slice', [x], { axis: 3, start, end, step }, [NCHW]);
  }
  symbolicAgrees('reshape', [x], { shape: [2, 3, -1] }, [NCHW]);
  symbolicAgrees('flatten', [x], { start: 1, end: 2 }, [NCHW]);
  symbolicAgrees('transpose', [x], { perm: [0, 2, 3, 1] }, [NCHW]);
  symbolicAgrees('expand', [randomTensor([1, 5], 3)], { shape: [4, -1] }, [[null, 'W']]);
  symbolicAgrees('sum', [x], { axes: [1, 3], keepdims: true }, [NCHW]);
  symbolicAgrees('argmax', [x], { axis: 1 }, [NCHW]);
  const [v] = symbolicAgrees('topk', [x], { k: 2, axis: 1 }, [NCHW]);
  assert.is(shown(v), 'f32[N, 2, H, W]');
  symbolicAgrees('gather', [x, i32([1, 3, 4, 5], new Array(60).fill(1))], { axis: 0 }, [NCHW, ['M', 'C', 'H', 'W']]);
  symbolicAgrees('index_select', [x, i32([3], [0, 0, 1])], { axis: 0 }, [NCHW, ['K']]);
  const [loc] = symbolicAgrees('locations', [x], { stride: 8 }, [NCHW]);
  assert.is(shown(loc), 'f32[H*W, 2]');
  symbolicAgrees('resize_as', [x, randomTensor([1, 1, 7, 3], 4)], { mode: 'bilinear' }, [NCHW, [null, null, 'P', 'Q']]);
  symbolicAgrees('matmul', [randomTensor([2, 3, 4], 5), randomTensor([4, 6], 6)], {}, [['B', 'M', 'K'], ['K', 'P']]);
  symbolicAgrees('add', [x, randomTensor([3, 1, 1], 7)], {}, [NCHW, ['C', null, null]]);
  const pts = f32([6, 2], new Array(12).fill(1)), boxes = randomTensor([2, 3, 4], 8);
  symbolicAgrees('box_iou', [boxes, randomTensor([2, 6, 4], 9)], {}, [['B', 'G', null], ['B', 'P', null]]);
  symbolicAgrees('inside_box', [pts, boxes], {}, [['P', null], ['B', 'G', null]]);
  symbolicAgrees('match', [randomTensor([2, 3, 6], 10), i32([2], [3, 1])], {}, [['B', 'G', 'P'], ['B']]);
  symbolicAgrees('nms', [randomTensor([2, 6, 4], 11), randomTensor([2, 6], 12), i32([2, 6], new Array(12).fill(0))], { max_out: 4 }, [['B', 'P', null], ['B', 'P'], ['B', 'P']]);
  symbolicAgrees('max3d', [x, randomTensor([2, 3, 2, 3], 13)], {}, [NCHW, ['N', 'C', 'H2', 'W2']]);
  symbolicAgrees('group_norm', [randomTensor([2, 4, 3, 3], 14), f32([4], [1, 1, 1, 1]), f32([4], [0, 0, 0, 0])], { groups: 2 }, [['N', null, 'H', 'W'], null, null]);
});

test.run();
