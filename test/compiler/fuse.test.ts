// Fusion decisions by declared kind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuse } from '../../compiler/fuse.js';
import { TestGraph, checkBoth } from './kernel/graphs.js';

function groupOps(t: TestGraph): string[] {
  return fuse(t.graph, { fuse: true }).map((g) => g.nodes.map((n) => t.graph.nodes[n].op).join('+'));
}

test('conv + bias add + relu + residual add: one kernel; the residual stays a buffer', () => {
  const t = new TestGraph();
  const x = t.input('x', [1, 4, 6, 6]);
  const c = t.op('conv2d', [x, t.param('w', [4, 4, 3, 3]), t.param('b', [4])], { padding: [1] });
  t.output('y', t.op('relu', [t.op('add', [c, x])]));
  assert.equal(groupOps(t), ['conv2d+add+relu']);
  checkBoth(t);
});

test('a value with two consumers is materialised; a broadcast reduce result is not an epilogue', () => {
  const t = new TestGraph();
  const x = t.input('x', [2, 3, 4]);
  const e = t.op('exp', [x]);
  const s = t.op('sum', [e], { axes: [2], keepdims: true });
  t.output('y', t.op('div', [e, s])); // softmax: exp used twice
  assert.equal(groupOps(t), ['exp', 'sum', 'div']);
  checkBoth(t);
});

test('softmax without reuse: the prologue fuses into the reduction', () => {
  const t = new TestGraph();
  const x = t.input('x', [2, 3, 4]);
  const s = t.op('sum', [t.op('exp', [x])], { axes: [2] });
  t.output('y', t.op('log', [s]));
  assert.equal(groupOps(t), ['exp+sum+log']);
  checkBoth(t);
});

test('two anchors never share a kernel; graph outputs are stored', () => {
  const t = new TestGraph();
  const x = t.input('x', [1, 2, 5, 5]);
  const c1 = t.op('conv2d', [x, t.param('w1', [2, 2, 1, 1]), -1]);
  const r = t.op('relu', [c1]);
  t.output('r', r);
  const c2 = t.op('conv2d', [r, t.param('w2', [2, 2, 1, 1]), -1]);
  t.output('y', t.op('sigmoid', [c2]));
  assert.equal(groupOps(t), ['conv2d+relu', 'conv2d+sigmoid']);
  checkBoth(t);
});

test('injective ops fuse into consumers but not into conv inputs', () => {
  const t = new TestGraph();
  const x = t.input('x', [1, 2, 4, 6]);
  const tr = t.op('transpose', [x], { perm: [0, 1, 3, 2] });
  const c = t.op('conv2d', [tr, t.param('w', [3, 2, 3, 3]), -1]);
  t.output('y', t.op('neg', [t.op('reshape', [c], { shape: [3, -1] })]));
  assert.equal(groupOps(t), ['transpose', 'conv2d', 'reshape+neg']);
  checkBoth(t);
});

test('fuse: false gives one kernel per op', () => {
  const t = new TestGraph();
  const x = t.input('x', [3]);
  t.output('y', t.op('relu', [t.op('neg', [x])]));
  assert.is(fuse(t.graph, { fuse: false }).length, 2);
});

test.run();
