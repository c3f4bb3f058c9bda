// Whole-network gradient checks: the tiny DeFCN-shaped network from
// models/defcn.fd (ResNet stem + FPN + head + 3DMF) under two scalar losses,
// (1) the sum of squares of every output, (2) defcn-train.fd's focal + GIoU
// on a fixed batch, differentiated and checked against central finite
// differences of the reference interpreter in f64.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { differentiate } from '../../compiler/autodiff.js';
import { Graph, GValue } from '../../compiler/graph.js';
import { interpret } from '../../compiler/interpret.js';
import { initParams } from '../../compiler/init.js';
import { lower } from '../../compiler/lower.js';
import { Attrs } from '../../compiler/ops/op.js';
import { Tensor, rng, tensor } from '../../compiler/tensor.js';
import { ConcreteType, isFloat } from '../../compiler/types.js';
import { checkFiles } from '../../dsl/index.js';
import { GRAD_SPAN, validateBackward } from '../helpers/grad-check.js';
import { defcnTargetTypes, fixedBatch } from '../../models/fixed-batch.js';

const ARGS = { depth: 0, width: 4, C: 16, K: 3, groups: 4 };
const IMAGE: ConcreteType = { dtype: 'f32', shape: [2, 3, 32, 32] };

function append(g: Graph, op: string, inputs: number[], attrs: Attrs, type: ConcreteType): number {
  const id = g.nodes.length;
  const v: GValue = { id: g.values.length, type, node: id, index: 0 };
  g.values.push(v);
  g.nodes.push({ id, op, inputs, attrs, outputs: [v.id], span: GRAD_SPAN, scope: 'loss' });
  return v.id;
}

/** The network plus loss = 1e-2 * sum over outputs of sum(out^2), as output 'loss'. */
function network(): Graph {
  const { program, diagnostics } = checkFiles(['models/defcn.fd']);
  assert.ok(program && diagnostics.length === 0, diagnostics.map((d) => d.message).join('\n'));
  const g = lower(program!, { entry: 'DeFCN', inputs: { image: IMAGE }, args: ARGS });
  const scalar: ConcreteType = { dtype: 'f32', shape: [] };
  let loss = -1;
  for (const o of g.outputs) {
    const t = g.values[o.value].type;
    if (!isFloat(t.dtype)) continue;
    const sq = append(g, 'square', [o.value], {}, t);
    const s = append(g, 'sum', [sq], { axes: [], keepdims: false }, scalar);
    loss = loss < 0 ? s : append(g, 'add', [loss, s], {}, scalar);
  }
  const k = append(g, 'const', [], { value: 1e-2 }, scalar);
  g.outputs.push({ name: 'loss', value: append(g, 'mul', [loss, k], {}, scalar) });
  return g;
}

const to64 = (t: Tensor): Tensor => (t.dtype === 'f32' ? tensor(t.dtype, t.shape, t.data, true) : t);

/** Compares autodiff with central differences at three entries of each named param; returns how many. */
function checkParams(g: Graph, gradGraph: Graph, names: readonly string[], inputs: Record<string, Tensor>, params: Map<string, Tensor>, loss: string, gradOf: (n: string) => string): number {
  const out = interpret(gradGraph, inputs, params);
  const lossOf = (p: Map<string, Tensor>): number => interpret(g, inputs, p)[loss].data[0];
  const h = 1e-5;
  let compared = 0;
  for (const name of names) {
    const p = params.get(name)!;
    const ad = out[gradOf(name)];
    for (const j of [0, Math.floor(p.data.length / 2), p.data.length - 1]) {
      const plus = to64(p), minus = to64(p);
      plus.data[j] += h; minus.data[j] -= h;
      const fd = (lossOf(new Map(params).set(name, plus)) - lossOf(new Map(params).set(name, minus))) / (2 * h);
      const got = ad.data[j];
      assert.ok(Math.abs(got - fd) <= 1e-6 + 1e-4 * Math.abs(fd), `${name}[${j}]: autodiff ${got}, finite differences ${fd}`);
      compared++;
    }
  }
  return compared;
}

/** One parameter per part of the network whose name contains each key (first match). */
function pickParams(names: readonly string[], keys: readonly string[]): string[] {
  return keys.map((k) => names.find((n) => n.includes(k))).filter((n, i, a): n is string => n !== undefined && a.indexOf(n) === i);
}

test('tiny DeFCN: parameter gradients equal finite differences (f64); frozen params get none', () => {
  const g = network();
  const { graph, grads } = differentiate(g, 'loss');
  validateBackward(graph, g.nodes.length);
  const frozen = g.params.filter((p) => p.frozen).map((p) => p.name);
  assert.ok(frozen.length > 0, 'the network has frozen params (frozen BN, frozen stem)');
  for (const name of frozen) assert.not.ok(grads.has(name), `${name} is frozen`);
  assert.is(grads.size, g.params.length - frozen.length);

  const params = new Map([...initParams(g, 3)].map(([k, v]) => [k, to64(v)]));
  const next = rng(17);
  const image = tensor('f32', IMAGE.shape, Array.from({ length: 2 * 3 * 32 * 32 }, () => next() * 2 - 1), true);
  const picks = pickParams([...grads.keys()], ['backbone', 'fpn', 'cls_tower', 'bbox_tower', 'filter', 'cls', 'box', 'scales', 'norm', 'bias']);
  assert.ok(picks.length >= 5, picks.join(', '));
  assert.ok(checkParams(g, graph, picks, { image }, params, 'loss', (n) => `grad/${n}`) >= 15);
});

test('tiny DeFCNTrain (defcn-train.fd): focal (3DMF) + GIoU loss on a fixed batch, gradients equal finite differences', () => {
  const { program, diagnostics } = checkFiles(['models/defcn-train.fd']);
  assert.ok(program && diagnostics.length === 0, diagnostics.map((d) => d.message).join('\n'));
  const inputs = { image: { dtype: 'f32' as const, shape: [1, 3, 32, 32] }, ...defcnTargetTypes(1, ARGS.K, 32) };
  const g = lower(program!, { entry: 'DeFCNTrain', fn: 'loss_fixed', inputs, args: ARGS });
  const loss = g.outputs[0].name;
  const { graph, grads } = differentiate(g, loss);
  validateBackward(graph, g.nodes.length);
  for (const p of g.params) assert.is(grads.has(p.name), !p.frozen, p.name);
  const batch = Object.fromEntries(Object.entries(fixedBatch(g, 5)).map(([k, v]) => [k, to64(v)]));
  const params = new Map([...initParams(g, 4)].map(([k, v]) => [k, to64(v)]));
  const picks = pickParams([...grads.keys()], ['backbone', 'fpn', 'cls_tower', 'filter', 'head.cls', 'head.box', 'scales']);
  assert.ok(picks.length >= 5, picks.join(', '));
  assert.ok(checkParams(g, graph, picks, batch, params, loss, (n) => `grad/${n}`) >= 15);
});

test.run();
