import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GraphBuilder, Graph } from '../../compiler/graph.js';
import { interpret, InterpretError } from '../../compiler/interpret.js';
import { Tensor, randomTensor, tensor } from '../../compiler/tensor.js';
import { NO_SPAN, Span } from '../../compiler/types.js';
import { close, list, run1 } from '../helpers/op-check.js';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { initParams } from '../../compiler/init.js';

const span: Span = { file: 'm.fd', line: 3, col: 5, endLine: 3, endCol: 9 };

/** image -> conv3x3(w, b) -> relu -> * 2, plus topk over the flattened result. */
function smallGraph(): Graph {
  const g = new GraphBuilder();
  const x = g.input('image', { dtype: 'f32', shape: [1, 1, 4, 4] }, NO_SPAN);
  const w = g.param('conv.weight', { dtype: 'f32', shape: [2, 1, 3, 3] }, { kind: 'kaiming', mode: 'fan_in', gain: 1 }, false, span, 'conv');
  const b = g.param('conv.bias', { dtype: 'f32', shape: [2] }, { kind: 'constant', value: 0.5 }, false, span, 'conv');
  const [y] = g.node('conv2d', [x, w, b], { stride: [1], padding: [1], dilation: [1], groups: 1 }, [{ dtype: 'f32', shape: [1, 2, 4, 4] }], span, 'conv');
  const [r] = g.node('relu', [y], {}, [{ dtype: 'f32', shape: [1, 2, 4, 4] }], span, '');
  const two = g.constant(2, { dtype: 'f32', shape: [] }, span, '');
  const [m] = g.node('mul', [r, two], {}, [{ dtype: 'f32', shape: [1, 2, 4, 4] }], span, '');
  const [nobias] = g.node('conv2d', [x, w, -1], { padding: [1] }, [{ dtype: 'f32', shape: [1, 2, 4, 4] }], span, '');
  const [f] = g.node('flatten', [m], {}, [{ dtype: 'f32', shape: [32] }], span, '');
  const [tv, ti] = g.node('topk', [f], { k: 3 }, [{ dtype: 'f32', shape: [3] }, { dtype: 'i32', shape: [3] }], span, '');
  g.output('out', m);
  g.output('nobias', nobias);
  g.output('top', tv);
  g.output('top_idx', ti);
  return g.graph;
}

function params(): Map<string, Tensor> {
  return new Map([['conv.weight', randomTensor([2, 1, 3, 3], 1)], ['conv.bias', tensor('f32', [2], [0.5, -0.5])]]);
}

function expectError(fn: () => unknown, pattern: RegExp): void {
  try { fn(); } catch (e) {
    assert.instance(e, InterpretError);
    assert.is((e as InterpretError).exitCode, 1);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an InterpretError matching ${pattern}`);
}

test('runs nodes in order and equals composing the references by hand', () => {
  const x = randomTensor([1, 1, 4, 4], 2), p = params();
  const out = interpret(smallGraph(), { image: x }, p);
  const conv = run1('conv2d', [x, p.get('conv.weight')!, p.get('conv.bias')!], { padding: [1] });
  const want = list(run1('relu', [conv])).map((v) => 2 * v);
  close(list(out.out), want, 1e-6);
  close(list(out.nobias), list(run1('conv2d', [x, p.get('conv.weight')!, undefined], { padding: [1] })), 1e-6);
  const sorted = [...want].sort((a, b) => b - a).slice(0, 3);
  close(list(out.top), sorted, 1e-6);
  assert.is(out.top_idx.dtype, 'i32');
  assert.equal(Object.keys(out).sort(), ['nobias', 'out', 'top', 'top_idx']);
});

test('f64 inputs run the whole graph in f64', () => {
  const x = tensor('f32', [1, 1, 4, 4], list(randomTensor([1, 1, 4, 4], 3)), true);
  const p = new Map([...params()].map(([k, t]) => [k, tensor('f32', t.shape, list(t), true)] as const));
  const out = interpret(smallGraph(), { image: x }, p);
  assert.ok(out.out.data instanceof Float64Array);
});

test('clear errors for wrong inputs and missing parameters', () => {
  const g = smallGraph();
  expectError(() => interpret(g, {}, params()), /missing input 'image': expected f32\[1, 1, 4, 4\]/);
  expectError(() => interpret(g, { image: randomTensor([1, 1, 5, 5], 1) }, params()), /input 'image': expected f32\[1, 1, 4, 4\], got f32\[1, 1, 5, 5\]/);
  expectError(() => interpret(g, { image: tensor('i32', [1, 1, 4, 4], new Array(16).fill(0)) }, params()), /input 'image': expected f32\[1, 1, 4, 4\], got i32\[1, 1, 4, 4\]/);
  expectError(() => interpret(g, { image: randomTensor([1, 1, 4, 4], 1), img: randomTensor([1], 1) }, params()), /unknown input 'img'; the graph takes 'image'/);
  const p = params(); p.delete('conv.bias');
  expectError(() => interpret(g, { image: randomTensor([1, 1, 4, 4], 1) }, p), /missing parameter 'conv.bias' \(m.fd:3:5\)/);
  const q = params(); q.set('conv.weight', randomTensor([2, 1, 1, 1], 1));
  expectError(() => interpret(g, { image: randomTensor([1, 1, 4, 4], 1) }, q), /parameter 'conv.weight': expected f32\[2, 1, 3, 3\], got f32\[2, 1, 1, 1\]/);
});

test('a graph whose declared type disagrees with the reference is reported as an internal error', () => {
  const g = new GraphBuilder();
  const x = g.input('x', { dtype: 'f32', shape: [2] }, NO_SPAN);
  const [y] = g.node('relu', [x], {}, [{ dtype: 'f32', shape: [3] }], span, '');
  g.output('y', y);
  assert.throws(() => interpret(g.graph, { x: randomTensor([2], 1) }, new Map()), (e: Error) => !(e instanceof InterpretError) && /relu \(m.fd:3:5\): output 0 is f32\[2\] but the graph says f32\[3\]/.test(e.message));
  const u = new GraphBuilder();
  const [z] = u.node('no_such_op', [], {}, [{ dtype: 'f32', shape: [1] }], span, '');
  u.output('z', z);
  assert.throws(() => interpret(u.graph, {}, new Map()), /uses op 'no_such_op' that is not in the op set/);
});

test('tiny ResNet + FPN + DeFCN head (3DMF) forward at 64x64 from models/defcn.fd: per-image, finite, deterministic', () => {
  const { program, diagnostics } = checkFiles(['models/defcn.fd']);
  assert.ok(program && diagnostics.length === 0, diagnostics.map((d) => d.message).join('\n'));
  const args = { depth: 0, width: 4, C: 16, K: 3, groups: 4 };
  const graph = lower(program!, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [2, 3, 64, 64] } }, args });
  const params = initParams(graph, 1);
  const image = randomTensor([2, 3, 64, 64], 5);
  const out = interpret(graph, { image }, params);
  const names = Object.keys(out);
  assert.ok(names.length >= 10, names.join(', '));
  for (const n of names) assert.ok(list(out[n]).every(Number.isFinite), `${n} finite`);
  // Level sizes follow the strides 8..128 of a 64x64 image.
  const sizes = names.map((n) => out[n].shape.slice(2).join('x'));
  for (const s of ['8x8', '4x4', '2x2', '1x1']) assert.ok(sizes.includes(s), sizes.join(' '));
  // Nothing mixes images: image 1 alone gives batch row 1 (frozen BN and GroupNorm are per sample).
  const one = lower(program!, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [1, 3, 64, 64] } }, args });
  const alone = interpret(one, { image: tensor('f32', [1, 3, 64, 64], image.data.slice(3 * 64 * 64)) }, params);
  for (const n of names) {
    const half = out[n].data.length / 2;
    close(list(alone[n]), list(out[n]).slice(half), 1e-5, n);
  }
});

test.run();
