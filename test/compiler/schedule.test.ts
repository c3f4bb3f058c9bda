// Single-op and fused schedules against the ops' references, on the kernel-IR
// interpreter, over randomised shapes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rng } from '../../compiler/tensor.js';
import { TestGraph, checkBoth, pick } from './kernel/graphs.js';
import { fuse } from '../../compiler/fuse.js';
import { LOWERINGS } from '../../compiler/schedule/index.js';
import { schedulePointwise } from '../../compiler/schedule/pointwise.js';

test('elementwise unary ops', () => {
  for (const op of ['neg', 'abs', 'relu', 'sigmoid', 'tanh', 'exp', 'square', 'floor', 'ceil', 'softplus']) {
    const t = new TestGraph();
    const x = t.input('x', [3, 5, 7], -3, 3);
    t.output('y', t.op(op, [x]));
    checkBoth(t, 1e-5, 1e-5);
  }
  for (const op of ['log', 'sqrt', 'rsqrt']) {
    const t = new TestGraph();
    const x = t.input('x', [2, 9], 0.1, 4);
    t.output('y', t.op(op, [x]));
    checkBoth(t, 1e-5, 1e-5);
  }
});

test('binary ops broadcast over any rank', () => {
  const next = rng(7);
  for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow']) {
    for (let trial = 0; trial < 3; trial++) {
      const shape = [pick(next, 1, 3), pick(next, 1, 5), pick(next, 1, 4)];
      const bshape = shape.map((d) => (next() < 0.4 ? 1 : d)).slice(pick(next, 0, 2));
      const t = new TestGraph();
      const a = t.input('a', shape, 0.5, 2), b = t.input('b', bshape, 0.5, 2);
      t.output('y', t.op(op, [a, b]));
      checkBoth(t, 1e-5, 1e-5);
    }
  }
});

test('comparisons, where, clamp, cast', () => {
  const t = new TestGraph();
  const a = t.input('a', [4, 6]), b = t.input('b', [6]);
  const c = t.op('lt', [a, b]);
  t.output('w', t.op('where', [c, a, b]));
  t.output('c', t.op('clamp', [a], { lo: -0.5, hi: 0.25 }));
  t.output('i', t.op('cast', [t.op('mul', [a, t.constant(10)])], { dtype: 'i32' }));
  t.output('m', t.op('logical_not', [c]));
  checkBoth(t);
});

test('elementwise chain fuses into one kernel', () => {
  const t = new TestGraph();
  const x = t.input('x', [2, 3, 5]);
  let y = x;
  for (let i = 0; i < 6; i++) y = t.op(i % 2 ? 'relu' : 'add', i % 2 ? [y] : [y, t.constant(0.1 * i)]);
  t.output('y', y);
  const { fused, unfused } = checkBoth(t);
  assert.is(fused.launches.length, 1);
  assert.is(unfused.launches.length, 6);
});

test('conv2d with stride, padding, dilation, groups, batch > 1', () => {
  const next = rng(11);
  for (let trial = 0; trial < 8; trial++) {
    const g = pick(next, 1, 3);
    const cin = g * pick(next, 1, 3), cout = g * pick(next, 1, 5);
    const k = pick(next, 1, 3), stride = pick(next, 1, 2), pad = pick(next, 0, 2), dil = pick(next, 1, 2);
    const h = pick(next, (k - 1) * dil + 1, 9), w = pick(next, (k - 1) * dil + 1, 8);
    const t = new TestGraph();
    const x = t.input('x', [pick(next, 1, 2), cin, h, w]);
    const wt = t.param('w', [cout, cin / g, k, k]);
    const bias = next() < 0.5 ? t.param('b', [cout]) : -1;
    const y = t.op('conv2d', [x, wt, bias], { stride: [stride], padding: [pad], dilation: [dil], groups: g });
    t.output('y', t.op('relu', [y]));
    const { fused } = checkBoth(t);
    assert.is(fused.launches.length, 1, 'conv + relu is one kernel');
  }
});

test('conv2d adjoints (grad input, grad weight) with stride, padding, dilation, groups, batch > 1', () => {
  const next = rng(13);
  for (let trial = 0; trial < 8; trial++) {
    const g = pick(next, 1, 2);
    const cin = g * pick(next, 1, 3), cout = g * pick(next, 1, 4);
    const k = pick(next, 1, 3), stride = pick(next, 1, 2), pad = pick(next, 0, 2), dil = pick(next, 1, 2);
    const h = pick(next, (k - 1) * dil + 1, 9), w = pick(next, (k - 1) * dil + 1, 8);
    const n = pick(next, 1, 2);
    const oh = Math.floor((h + 2 * pad - dil * (k - 1) - 1) / stride) + 1, ow = Math.floor((w + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
    const conv = { stride: [stride], padding: [pad], dilation: [dil], groups: g };
    const t = new TestGraph();
    const gr = t.input('g', [n, cout, oh, ow]);
    t.output('dx', t.op('conv2d_grad_input', [gr, t.param('w', [cout, cin / g, k, k])], { ...conv, size: [h, w] }));
    t.output('dw', t.op('conv2d_grad_weight', [t.input('x', [n, cin, h, w]), gr], { ...conv, kernel: [k, k] }));
    checkBoth(t);
  }
});

test('matmul with broadcast batch and fused epilogue', () => {
  const next = rng(5);
  for (let trial = 0; trial < 4; trial++) {
    const m = pick(next, 1, 9), k = pick(next, 1, 7), n = pick(next, 1, 17);
    const t = new TestGraph();
    const a = t.input('a', [2, m, k]), b = t.input('b', [k, n]), c = t.input('c', [n]);
    t.output('y', t.op('sigmoid', [t.op('add', [t.op('matmul', [a, b]), c])]));
    const { fused } = checkBoth(t);
    assert.is(fused.launches.length, 1);
  }
});

test('batch size is not baked into kernels: same structural hashes, only args and grid change', () => {
  const hashes = [1, 3].map((n) => {
    const t = new TestGraph();
    const x = t.input('x', [n, 4, 9, 7]);
    const c = t.op('conv2d', [x, t.param('w', [6, 4, 3, 3]), t.param('b', [6])], { padding: [1] });
    const g = t.op('relu', [t.op('group_norm', [c, t.param('gw', [6]), t.param('gb', [6])], { groups: 3 })]);
    t.output('y', t.op('add', [t.op('sigmoid', [g]), t.input('r', [1, 6, 1, 1])]));
    const p = checkBoth(t).fused;
    return { hashes: p.kernels.map((k) => k.hash), grids: p.launches.map((l) => l.grid) };
  });
  assert.equal(hashes[0].hashes, hashes[1].hashes);
  assert.equal(hashes[1].grids, hashes[0].grids.map((g, i) => (i === 2 ? Math.ceil((3 * 6 * 63) / 64) : 3 * g)));
});

test('an op without a kernel is a user-facing error naming the op and where it is', () => {
  // Every registered op has a kernel (test/compiler/kernels.test.ts), so the
  // schedule is handed a lowering table without softplus's row.
  const t = new TestGraph();
  t.output('y', t.op('softplus', [t.input('x', [2, 3])]));
  const { softplus: _, ...without } = LOWERINGS;
  const g = fuse(t.graph, { fuse: true })[0];
  try {
    schedulePointwise(t.graph, new Set(g.nodes), g.sink, without);
    assert.unreachable('should throw');
  } catch (e) {
    assert.is((e as { exitCode?: number }).exitCode, 1);
    assert.match((e as Error).message, /op 'softplus' \(node \d+, in the top level\) has no kernel yet/);
  }
});

test.run();
