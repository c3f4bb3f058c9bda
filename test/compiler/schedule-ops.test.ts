// Schedules of reductions, norms, pools, resizes, layout ops, max3d, topk and
// sort against the ops' references on the kernel-IR interpreter, fused and
// unfused, over randomised shapes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rng } from '../../compiler/tensor.js';
import { TestGraph, checkBoth, pick } from './kernel/graphs.js';

test('sum, mean, max, min over axes (keepdims or not) with a fused prologue and epilogue', () => {
  const next = rng(21);
  for (const op of ['sum', 'mean', 'max', 'min']) {
    for (let trial = 0; trial < 3; trial++) {
      const shape = [pick(next, 1, 3), pick(next, 1, 5), pick(next, 2, 6)];
      const axes = trial === 0 ? [] : trial === 1 ? [1] : [0, 2];
      const keepdims = trial === 2;
      const t = new TestGraph();
      const x = t.input('x', shape);
      const sq = t.op('mul', [x, x]);
      const red = t.op(op, [sq], { axes, keepdims });
      t.output('y', t.op('sqrt', [t.op('add', [red, t.constant(1)])]));
      const { fused } = checkBoth(t, 1e-5, 1e-5);
      assert.is(fused.launches.length, 1, `${op}: prologue + reduce + epilogue in one kernel`);
    }
  }
});

test('argmax along an axis, ties to the first index', () => {
  const t = new TestGraph();
  const x = t.input('x', [3, 4, 5]);
  const r = t.op('floor', [t.op('mul', [x, t.constant(2)])]); // many ties
  t.output('a0', t.op('argmax', [r], { axis: 1 }));
  t.output('a1', t.op('argmax', [x], { axis: -1, keepdims: true }));
  checkBoth(t, 0, 0);
});

test('group_norm with fused ReLU, frozen_bn, batch > 1, odd sizes', () => {
  const next = rng(4);
  for (let trial = 0; trial < 4; trial++) {
    const g = pick(next, 1, 3), c = g * pick(next, 1, 3);
    const t = new TestGraph();
    const x = t.input('x', [pick(next, 1, 2), c, pick(next, 1, 7), pick(next, 1, 9)], -2, 3);
    const gn = t.op('group_norm', [x, t.param('w', [c]), t.param('b', [c])], { groups: g });
    t.output('y', t.op('relu', [gn]));
    const bn = t.op('frozen_bn', [x, t.param('bw', [c]), t.param('bb', [c]), t.param('bm', [c]), t.param('bv', [c], 0.5, 2)]);
    t.output('z', t.op('relu', [bn]));
    const { fused } = checkBoth(t, 1e-4, 1e-4);
    assert.is(fused.launches.length, 2, 'GN+ReLU one kernel, BN+ReLU one kernel');
  }
});

test('conv + frozen BN + ReLU is one kernel', () => {
  const t = new TestGraph();
  const x = t.input('x', [2, 3, 7, 6]);
  const y = t.op('conv2d', [x, t.param('w', [5, 3, 3, 3]), -1], { stride: [2], padding: [1] });
  const bn = t.op('frozen_bn', [y, t.param('bw', [5]), t.param('bb', [5]), t.param('bm', [5]), t.param('bv', [5], 0.5, 2)]);
  t.output('y', t.op('relu', [bn]));
  const { fused, unfused } = checkBoth(t);
  assert.is(fused.launches.length, 1);
  assert.is(unfused.launches.length, 3);
});

test('max_pool2d (stride, padding) and resize (nearest, bilinear, odd ratios)', () => {
  const next = rng(9);
  for (let trial = 0; trial < 4; trial++) {
    const t = new TestGraph();
    const x = t.input('x', [pick(next, 1, 2), pick(next, 1, 3), pick(next, 3, 9), pick(next, 3, 8)]);
    const k = pick(next, 1, 3);
    t.output('p', t.op('max_pool2d', [x], { kernel: [k], stride: [pick(next, 1, 2)], padding: [pick(next, 0, Math.floor(k / 2))] }));
    t.output('n', t.op('resize', [x], { size: [pick(next, 1, 11), pick(next, 1, 11)], mode: 'nearest' }));
    t.output('b', t.op('resize', [x], { size: [pick(next, 1, 11), pick(next, 1, 11)], mode: 'bilinear' }));
    checkBoth(t, 1e-5, 1e-5);
  }
});

test('layout ops as index remaps: concat, stack, slice, reshape, transpose, expand, flatten', () => {
  const t = new TestGraph();
  const a = t.input('a', [2, 3, 4]), b = t.input('b', [2, 5, 4]);
  const cat = t.op('concat', [a, b], { axis: 1 });
  const sl = t.op('slice', [cat, ], { axis: 1, start: -6, end: 8, step: 2 });
  const tr = t.op('transpose', [sl], { perm: [2, 0, 1] });
  t.output('r', t.op('relu', [t.op('reshape', [tr], { shape: [8, -1] })]));
  t.output('s', t.op('stack', [a, t.op('neg', [a])], { axis: 1 }));
  t.output('e', t.op('expand', [t.input('c', [3, 1])], { shape: [2, 3, 4] }));
  t.output('f', t.op('flatten', [a], { start: 1 }));
  const { fused } = checkBoth(t, 0, 0);
  assert.ok(fused.launches.length <= 4);
});

test('max3d over 3 pyramid levels with odd sizes (neighbours sampled in-kernel)', () => {
  for (const sizes of [[[8, 8], [4, 4], [2, 2]], [[7, 11], [4, 6], [2, 3]], [[5, 5], [3, 3], [1, 1]]]) {
    const t = new TestGraph();
    const levels = sizes.map(([h, w], i) => t.input(`p${i}`, [2, 3, h, w]));
    const outs = t.ops('max3d', levels, { tau: 2, phi: 3 });
    outs.forEach((o, i) => t.output(`y${i}`, o));
    const { fused } = checkBoth(t, 1e-5, 1e-5);
    assert.is(fused.launches.length, 1, 'all levels in one launch');
    assert.ok(fused.peakBytes <= t.graph.values.filter((v) => v.node < 3 || v.node >= 3).length * 1e9);
  }
});

test('max3d_argmax + max3d_argmax_grad: gradients routed to each output\'s arg-max, through the bilinear weights of resized neighbours', () => {
  for (const sizes of [[[6, 6], [3, 3], [2, 2]], [[7, 5], [4, 3], [2, 2]]]) {
    const t = new TestGraph();
    const levels = sizes.map(([h, w], i) => t.input(`p${i}`, [2, 2, h, w]));
    const grads = sizes.map(([h, w], i) => t.input(`g${i}`, [2, 2, h, w]));
    const codes = t.ops('max3d_argmax', levels, { tau: 2, phi: 3 });
    t.ops('max3d_argmax_grad', [...codes, ...grads], { tau: 2, phi: 3 }).forEach((o, i) => t.output(`d${i}`, o));
    checkBoth(t, 1e-5, 1e-4);
  }
});

test('nms: class-aware, score order with index ties, threshold, max_out, padding', () => {
  for (const [maxOut, minScore] of [[5, -Infinity], [20, -Infinity], [3, 0.3], [20, 0.5]] as const) {
    const t = new TestGraph();
    const lt = t.input('lt', [2, 12, 2], 0, 6), wh = t.input('wh', [2, 12, 2], 1, 5);
    const boxes = t.op('concat', [lt, t.op('add', [lt, wh])], { axis: 2 });
    const scores = t.op('div', [t.op('floor', [t.op('mul', [t.input('s', [2, 12], 0, 1), t.constant(6)])]), t.constant(6)]); // ties
    const classes = t.op('cast', [t.op('floor', [t.op('mul', [t.input('c', [2, 12], 0, 1), t.constant(2)])])], { dtype: 'i32' });
    const [keep, count] = t.ops('nms', [boxes, scores, classes], { iou_threshold: 0.3, max_out: maxOut, score_threshold: minScore });
    t.output('keep', keep); t.output('count', count);
    checkBoth(t, 0, 0);
  }
});

test('topk and sort (stable, ties to the lower index, both directions)', () => {
  const t = new TestGraph();
  const x = t.input('x', [3, 9]);
  const r = t.op('floor', [t.op('mul', [x, t.constant(3)])]);
  const [tv, ti] = t.ops('topk', [r], { k: 4 });
  t.output('tv', tv); t.output('ti', ti);
  const [sv, si] = t.ops('sort', [r], { axis: 1, descending: false });
  t.output('sv', sv); t.output('si', si);
  const z = t.input('z', [5, 2, 3]);
  const [kv, ki] = t.ops('topk', [t.op('floor', [t.op('mul', [z, t.constant(2)])])], { k: 3, axis: 0, largest: false });
  t.output('kv', kv); t.output('ki', ki);
  const withNan = t.op('where', [t.op('gt', [z, t.constant(0.6)]), t.op('log', [t.op('sub', [t.constant(0), t.op('abs', [z])])]), z]);
  const [nv, ni] = t.ops('topk', [withNan], { k: 5, axis: 0 });
  t.output('nv', nv); t.output('ni', ni);
  const [dv, di] = t.ops('sort', [z], { axis: 0, descending: true });
  t.output('dv', dv); t.output('di', di);
  checkBoth(t, 0, 0);
});

test('box ops, point-in-box priors and per-element losses', () => {
  const t = new TestGraph();
  const lt = t.input('lt', [2, 5, 2], 0, 4), wh = t.input('wh', [2, 5, 2], 1, 6);
  const boxes = t.op('concat', [lt, t.op('add', [lt, wh])], { axis: 2 });
  const gt = t.op('concat', [t.input('glt', [2, 3, 2], 0, 4), t.op('add', [t.input('glt2', [2, 3, 2], 0, 4), t.constant(3)])], { axis: 2 });
  const pts = t.input('pts', [5, 2], 0, 8);
  t.output('dec', t.op('box_decode', [pts, t.input('ltrb', [2, 5, 4], 0, 3)]));
  t.output('iou', t.op('box_iou', [boxes, gt]));
  const other = t.op('add', [boxes, t.constant(0.5)]);
  t.output('ioua', t.op('box_iou_aligned', [boxes, other]));
  t.output('giou', t.op('box_giou_aligned', [boxes, t.op('add', [boxes, t.input('shift', [2, 5, 4], -2, 2)])]));
  t.output('inside', t.op('inside_box', [pts, gt]));
  t.output('prior', t.op('center_prior', [pts, t.input('strides', [5], 1, 2), gt], { radius: 1.5 }));
  t.output('prior0', t.op('center_prior', [pts, t.input('strides0', [5], 1, 2), gt], { radius: 0 }));
  const logits = t.input('logits', [2, 5, 3], -4, 4), target = t.op('cast', [t.op('gt', [t.input('u', [2, 5, 3]), t.constant(0)])], { dtype: 'f32' });
  t.output('focal', t.op('sigmoid_focal_loss', [logits, target]));
  t.output('bcel', t.op('bce_with_logits', [logits, target]));
  t.output('bce', t.op('bce', [t.op('sigmoid', [logits]), target]));
  checkBoth(t, 1e-5, 1e-4);
});

test('adjoints as gathers: max_pool2d_grad (ties), resize_grad (nearest, bilinear, up and down), scatter, scatter_add', () => {
  const next = rng(31);
  for (let trial = 0; trial < 4; trial++) {
    const t = new TestGraph();
    const shape = [pick(next, 1, 2), pick(next, 1, 3), pick(next, 3, 9), pick(next, 3, 8)];
    const x = t.op('floor', [t.op('mul', [t.input('x', shape), t.constant(2)])]); // ties
    const k = pick(next, 2, 3), s = pick(next, 1, 2), p = pick(next, 0, Math.floor(k / 2));
    const oh = Math.floor((shape[2] + 2 * p - k) / s) + 1, ow = Math.floor((shape[3] + 2 * p - k) / s) + 1;
    t.output('dp', t.op('max_pool2d_grad', [x, t.input('g', [shape[0], shape[1], oh, ow])], { kernel: [k], stride: [s], padding: [p] }));
    const size = [pick(next, 1, 12), pick(next, 1, 12)];
    t.output('rn', t.op('resize_grad', [t.input('gr', [shape[0], shape[1], ...size])], { size: [shape[2], shape[3]], mode: 'nearest' }));
    t.output('rb', t.op('resize_grad', [t.input('gb', [shape[0], shape[1], ...size])], { size: [shape[2], shape[3]], mode: 'bilinear' }));
    checkBoth(t, 1e-5, 1e-4);
  }
  const t = new TestGraph();
  const x = t.input('x', [4, 5]);
  const index = t.op('cast', [t.op('floor', [t.op('mul', [t.input('u', [3, 4], 0, 1), t.constant(4)])])], { dtype: 'i32' });
  const src = t.input('src', [3, 4]);
  t.output('s', t.op('scatter', [x, index, src], { axis: 0 }));
  t.output('sa', t.op('scatter_add', [x, index, src], { axis: 0 }));
  checkBoth(t, 1e-5, 1e-5);
});

test.run();
