import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GraphBuilder } from '../../compiler/graph.js';
import { interpret } from '../../compiler/interpret.js';
import { appendSgd, normParams, SgdOptions, withUpdateOutputs } from '../../compiler/optimizer.js';
import { Tensor, scalar, tensor } from '../../compiler/tensor.js';
import { NO_SPAN } from '../../compiler/types.js';
import { lrAt } from '../../models/schedule.js';

const f32 = (shape: number[]) => ({ dtype: 'f32' as const, shape });

/** conv.weight (decayed) and a GroupNorm's weight (not decayed), with their gradients as inputs. */
function setup(opts: SgdOptions) {
  const b = new GraphBuilder();
  const x = b.input('x', f32([1, 2, 1, 2]), NO_SPAN);
  b.param('conv.weight', f32([2]), { kind: 'zeros' }, false, NO_SPAN, '');
  const gw = b.param('norm.weight', f32([2]), { kind: 'ones' }, false, NO_SPAN, '');
  const gb = b.param('norm.bias', f32([2]), { kind: 'zeros' }, false, NO_SPAN, '');
  b.node('group_norm', [x, gw, gb], { groups: 1 }, [f32([1, 2, 1, 2])], NO_SPAN, '');
  const g1 = b.input('g1', f32([2]), NO_SPAN), g2 = b.input('g2', f32([2]), NO_SPAN);
  const lr = b.input('lr', f32([]), NO_SPAN), ls = b.input('loss_scale', f32([]), NO_SPAN);
  const r = appendSgd(b.graph, new Map([['conv.weight', g1], ['norm.weight', g2]]), opts, { lr, lossScale: ls });
  return { graph: b.graph, ...r };
}

function run(opts: SgdOptions, state: Map<string, Tensor>, g1: number[], g2: number[], lr: number, ls: number) {
  const { graph } = setup(opts);
  return interpret(withUpdateOutputs(graph), {
    x: tensor('f32', [1, 2, 1, 2], [1, 2, 3, 4]), g1: tensor('f32', [2], g1), g2: tensor('f32', [2], g2),
    lr: scalar('f32', lr), loss_scale: scalar('f32', ls),
  }, state);
}

const close = (a: ArrayLike<number>, b: number[], tol = 1e-6): void => {
  assert.is(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `[${i}] ${a[i]} vs ${b[i]}`);
};

function state(w: number[], n: number[], mw: number[], mn: number[]): Map<string, Tensor> {
  return new Map([
    ['conv.weight', tensor('f32', [2], w)], ['norm.weight', tensor('f32', [2], n)], ['norm.bias', tensor('f32', [2], [0, 0])],
    ['opt.momentum.conv.weight', tensor('f32', [2], mw)], ['opt.momentum.norm.weight', tensor('f32', [2], mn)],
  ]);
}

test('group_norm weight and bias are norm params', () => {
  assert.equal([...normParams(setup({ momentum: 0.9, weightDecay: 0, weightDecayNorm: 0, clipNorm: 0 }).graph)].sort(), ['norm.bias', 'norm.weight']);
});

test('momentum SGD with decay on conv weights only, torch form, gradients unscaled by loss_scale', () => {
  const opts = { momentum: 0.9, weightDecay: 0.1, weightDecayNorm: 0, clipNorm: 0 };
  const out = run(opts, state([1, -2], [1, 1], [0.5, 0], [0, 1]), [8, 16], [4, -4], 0.5, 4);
  // conv: u = g/4 = [2, 4]; buf = 0.9*[0.5, 0] + u + 0.1*w = [2.55, 3.8]; w' = w - 0.5*buf
  close(out['new/opt.momentum.conv.weight'].data, [2.55, 3.8]);
  close(out['new/conv.weight'].data, [1 - 1.275, -2 - 1.9]);
  // norm: no decay: buf = 0.9*[0, 1] + [1, -1] = [1, -0.1]
  close(out['new/opt.momentum.norm.weight'].data, [1, -0.1]);
  close(out['new/norm.weight'].data, [0.5, 1.05]);
  close(out.grad_norm.data, [Math.sqrt(4 + 16 + 1 + 1)]);
});

test('clipping scales every gradient by clip / global norm', () => {
  const opts = { momentum: 0, weightDecay: 0, weightDecayNorm: 0, clipNorm: 1 };
  const out = run(opts, state([0, 0], [0, 0], [0, 0], [0, 0]), [3, 0], [0, 4], 1, 1);
  close(out.grad_norm.data, [5]);
  close(out['new/conv.weight'].data, [-0.6, 0], 1e-5);
  close(out['new/norm.weight'].data, [0, -0.8], 1e-5);
  // Below the threshold, nothing changes.
  const small = run({ ...opts, clipNorm: 100 }, state([0, 0], [0, 0], [0, 0], [0, 0]), [3, 0], [0, 4], 1, 1);
  close(small['new/conv.weight'].data, [-3, 0]);
});

test('a non-finite gradient shows in grad_norm', () => {
  const out = run({ momentum: 0.9, weightDecay: 0, weightDecayNorm: 0, clipNorm: 0 }, state([0, 0], [0, 0], [0, 0], [0, 0]), [NaN, 0], [0, 0], 1, 1);
  assert.ok(Number.isNaN(out.grad_norm.data[0]));
});

test('schedule: linear warm-up from lr/1000, then x0.1 at each milestone', () => {
  const s = { lr: 0.01, warmup: 100, warmupFactor: 1e-3, milestones: [200, 300], gamma: 0.1 };
  assert.is(lrAt(s, 0), 0.01 * 1e-3);
  assert.ok(Math.abs(lrAt(s, 50) - 0.01 * (1e-3 * 0.5 + 0.5)) < 1e-12);
  assert.is(lrAt(s, 100), 0.01);
  assert.is(lrAt(s, 199), 0.01);
  assert.ok(Math.abs(lrAt(s, 200) - 0.001) < 1e-12);
  assert.ok(Math.abs(lrAt(s, 300) - 0.0001) < 1e-12);
  assert.is(lrAt({ ...s, warmup: 0 }, 0), 0.01);
});

test.run();
