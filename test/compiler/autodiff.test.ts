// differentiate(): the API's contract (frozen params, wrt, errors, pruning,
// ties), the registry's completeness, and a whole-network gradient check of
// the tiny DeFCN from models/defcn.fd against finite differences (f64).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AutodiffError, differentiate } from '../../compiler/autodiff.js';
import { Graph, GraphBuilder } from '../../compiler/graph.js';
import { interpret } from '../../compiler/interpret.js';
import { OPS } from '../../compiler/ops/index.js';
import { compileGraph } from '../../compiler/program.js';
import { Tensor, tensor } from '../../compiler/tensor.js';
import { ConcreteType } from '../../compiler/types.js';
import { GRAD_SPAN, rand64, validateBackward } from '../helpers/grad-check.js';
import { CPU } from '../../compiler/target.js';

/** Ops that stop the gradient by design. */
const NO_GRADIENT = [
  'floor', 'ceil', 'logical_not', 'logical_and', 'logical_or', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'argmax',
  'arange', 'full', 'locations', 'box_iou', 'inside_box', 'center_prior', 'match', 'nms', 'max3d_argmax',
  // Backward ops: no second derivatives.
  'conv2d_grad_input', 'conv2d_grad_weight', 'max_pool2d_grad', 'resize_grad', 'scatter_add', 'max3d_argmax_grad',
  // The optimizer's step: applied after the gradients.
  'sgd_update',
];

/** Every differentiable op, each gradient-checked in test/compiler/grad/. */
const CHECKED = [
  'neg', 'abs', 'relu', 'sigmoid', 'tanh', 'exp', 'log', 'sqrt', 'rsqrt', 'square', 'softplus',
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'where', 'clamp', 'cast',
  'conv2d', 'matmul', 'group_norm', 'frozen_bn', 'max_pool2d', 'resize', 'resize_as', 'max3d',
  'concat', 'stack', 'slice', 'reshape', 'flatten', 'transpose', 'expand', 'sum', 'mean', 'max', 'min',
  'topk', 'sort', 'gather', 'index_select', 'scatter',
  'sigmoid_focal_loss', 'bce_with_logits', 'bce', 'box_iou_aligned', 'box_giou_aligned', 'box_decode',
];

test('every op declares its gradient: a rule, or none; differentiable ones are all checked', () => {
  for (const [name, def] of Object.entries(OPS)) {
    assert.ok(typeof def.grad === 'function' || def.grad === 'none', `${name}: grad`);
    if (def.grad === 'none') assert.ok(NO_GRADIENT.includes(name), `${name} stops the gradient but is not listed as such`);
    else assert.ok(CHECKED.includes(name), `${name} has a gradient rule that no gradient check covers`);
  }
  for (const name of [...NO_GRADIENT, ...CHECKED]) assert.ok(OPS[name], `listed op ${name} exists`);
});

const f = (shape: number[]): ConcreteType => ({ dtype: 'f32', shape });

/** x -> conv(frozen w0) -> relu -> conv(w1, b1) -> square -> sum: a frozen stem under a trainable layer. */
function twoConvs(): Graph {
  const g = new GraphBuilder();
  const x = g.input('x', f([1, 2, 6, 6]), GRAD_SPAN);
  const w0 = g.param('stem.w', f([3, 2, 3, 3]), { kind: 'zeros' }, true, GRAD_SPAN, 'stem');
  const w1 = g.param('layer.w', f([2, 3, 3, 3]), { kind: 'zeros' }, false, GRAD_SPAN, 'layer');
  const b1 = g.param('layer.b', f([2]), { kind: 'zeros' }, false, GRAD_SPAN, 'layer');
  const unused = g.param('unused', f([4]), { kind: 'zeros' }, false, GRAD_SPAN, 'other');
  const [c0] = g.node('conv2d', [x, w0, -1], { stride: [1], padding: [1], dilation: [1], groups: 1 }, [f([1, 3, 6, 6])], GRAD_SPAN, 'stem');
  const [r] = g.node('relu', [c0], {}, [f([1, 3, 6, 6])], GRAD_SPAN, 'stem');
  const [c1] = g.node('conv2d', [r, w1, b1], { stride: [2], padding: [1], dilation: [1], groups: 1 }, [f([1, 2, 3, 3])], GRAD_SPAN, 'layer');
  const [sq] = g.node('square', [c1], {}, [f([1, 2, 3, 3])], GRAD_SPAN, 'loss');
  const [s] = g.node('sum', [sq], { axes: [], keepdims: false }, [f([])], GRAD_SPAN, 'loss');
  g.output('loss', s);
  g.output('other', unused);
  return g.graph;
}

test('frozen params get no gradient and no work; dead branches are pruned', () => {
  const g = twoConvs();
  const { graph, grads } = differentiate(g, 'loss');
  validateBackward(graph, g.nodes.length);
  assert.equal([...grads.keys()].sort(), ['layer.b', 'layer.w', 'unused']);
  const back = graph.nodes.slice(g.nodes.length).map((n) => n.op);
  // Only the trainable conv's weight gradient; no input gradient (it would only feed the frozen stem).
  assert.is(back.filter((o) => o === 'conv2d_grad_weight').length, 1);
  assert.is(back.filter((o) => o === 'conv2d_grad_input').length, 0);
  assert.not.ok(back.includes('relu'), 'nothing differentiates the frozen stem');
  // Every backward node ends in a gradient: nothing dead survives.
  const read = new Set(graph.nodes.flatMap((n) => n.inputs));
  const outs = new Set(graph.outputs.map((o) => o.value));
  for (const n of graph.nodes.slice(g.nodes.length)) assert.ok(n.outputs.some((v) => read.has(v) || outs.has(v)), `dead ${n.op}`);
  // A param the loss does not read gets zeros.
  const p = new Map<string, Tensor>([['stem.w', rand64([3, 2, 3, 3], 1)], ['layer.w', rand64([2, 3, 3, 3], 2)], ['layer.b', rand64([2], 3)], ['unused', rand64([4], 4)]]);
  const out = interpret(graph, { x: rand64([1, 2, 6, 6], 5) }, p);
  assert.equal([...out['grad/unused'].data], [0, 0, 0, 0]);
  assert.equal(Object.keys(out).sort(), ['grad/layer.b', 'grad/layer.w', 'grad/unused', 'loss', 'other']);
});

test('wrt picks parameters; seed scales the gradient', () => {
  const g = twoConvs();
  const p = new Map<string, Tensor>([['stem.w', rand64([3, 2, 3, 3], 1)], ['layer.w', rand64([2, 3, 3, 3], 2)], ['layer.b', rand64([2], 3)], ['unused', rand64([4], 4)]]);
  const x = { x: rand64([1, 2, 6, 6], 5) };
  const one = differentiate(g, 'loss', { wrt: ['layer.b'] });
  assert.equal([...one.grads.keys()], ['layer.b']);
  assert.not.ok(one.graph.nodes.some((n) => n.op === 'conv2d_grad_weight'));
  const three = differentiate(g, 'loss', { wrt: ['layer.b'], seed: 3 });
  const a = interpret(one.graph, x, p)['grad/layer.b'], b = interpret(three.graph, x, p)['grad/layer.b'];
  a.data.forEach((v, i) => assert.ok(Math.abs(3 * v - b.data[i]) < 1e-9 * Math.max(1, Math.abs(b.data[i]))));
  // The input graph is left as it was.
  assert.is(g.outputs.length, 2);
});

test('a bad loss or parameter is the caller\'s error, named', () => {
  const g = twoConvs();
  const bad = (fn: () => unknown, re: RegExp): void => {
    try { fn(); } catch (e) { assert.instance(e, AutodiffError); assert.is((e as AutodiffError).exitCode, 1); assert.match((e as Error).message, re); return; }
    assert.unreachable(`expected ${re}`);
  };
  bad(() => differentiate(g, 'nope'), /loss 'nope' is not a graph output; the outputs are 'loss', 'other'/);
  bad(() => differentiate(g, 'other'), /float scalar.*f32\[4\]/);
  bad(() => differentiate(g, 'loss', { wrt: ['stem.w'] }), /'stem.w': the parameter is frozen/);
  bad(() => differentiate(g, 'loss', { wrt: ['x.y'] }), /'x.y': no such parameter/);
  bad(() => differentiate(g, 999), /value id 999/);
});

/** max over a tie and maximum of equal operands: the documented split. */
test('ties: max/min reductions split evenly among equal elements; maximum/minimum give half to each side', () => {
  const g = new GraphBuilder();
  const a = g.param('a', f([4]), { kind: 'zeros' }, false, GRAD_SPAN, '');
  const b = g.param('b', f([4]), { kind: 'zeros' }, false, GRAD_SPAN, '');
  const [m] = g.node('max', [a], { axes: [], keepdims: false }, [f([])], GRAD_SPAN, '');
  const [mx] = g.node('maximum', [a, b], {}, [f([4])], GRAD_SPAN, '');
  const [s] = g.node('sum', [mx], { axes: [], keepdims: false }, [f([])], GRAD_SPAN, '');
  const [l] = g.node('add', [m, s], {}, [f([])], GRAD_SPAN, '');
  g.output('loss', l);
  const { graph } = differentiate(g.graph, 'loss');
  const out = interpret(graph, {}, new Map([['a', tensor('f32', [4], [2, 5, 5, 1])], ['b', tensor('f32', [4], [2, 0, 7, 1])]]));
  assert.equal([...out['grad/a'].data], [0.5, 1.5, 0.5, 0.5]);
  assert.equal([...out['grad/b'].data], [0.5, 0, 1, 0.5]);
});

test('the backward of a small MLP compiles through fuse and compileGraph', () => {
  const g = new GraphBuilder();
  const x = g.input('x', f([4, 3]), GRAD_SPAN);
  const w = g.param('w', f([3, 5]), { kind: 'zeros' }, false, GRAD_SPAN, 'fc');
  const bias = g.param('b', f([5]), { kind: 'zeros' }, false, GRAD_SPAN, 'fc');
  const [y] = g.node('matmul', [x, w], {}, [f([4, 5])], GRAD_SPAN, 'fc');
  const [z] = g.node('add', [y, bias], {}, [f([4, 5])], GRAD_SPAN, 'fc');
  const [r] = g.node('relu', [z], {}, [f([4, 5])], GRAD_SPAN, 'fc');
  const [m] = g.node('mean', [r], { axes: [], keepdims: false }, [f([])], GRAD_SPAN, 'loss');
  g.output('loss', m);
  const { graph } = differentiate(g.graph, 'loss');
  const program = compileGraph(graph, CPU, { fuse: true });
  assert.ok(program.outputs['grad/w'] !== undefined && program.outputs['grad/b'] !== undefined);
  assert.ok(program.launches.length >= 3, `${program.launches.length} launches`);
});

test.run();
