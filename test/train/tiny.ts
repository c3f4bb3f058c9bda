// The tiny DeFCN-shaped training step the train tests share: TinyResNet
// (width 4), FPN and head with 16 channels, K = 3, GroupNorm 4 groups, 3DMF,
// focal (3DMF, on probabilities) + GIoU on fixed targets, 32×32 images.
import * as assert from 'uvu/assert';
import { checkFiles } from '../../dsl/index.js';
import { initParams } from '../../compiler/init.js';
import type { Tensor } from '../../compiler/tensor.js';
import { errorOf, finiteScale, within, worstError } from '../helpers/compare.js';
import type { Runtime } from '../../runtime/interface.js';
import { fixedBatch } from '../../models/fixed-batch.js';
import { StepRunner, referenceRunner, runtimeRunner } from '../../models/step-runner.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fixedSource } from '../../models/fixed-batch.js';
import { trainLoop } from '../../models/train.js';
import { lower } from '../../compiler/lower.js';
import { differentiate } from '../../compiler/autodiff.js';
import { DEFAULT_SGD, GraphAppender, SgdOptions } from '../../compiler/optimizer.js';
import { GraphBuilder } from '../../compiler/graph.js';
import { NO_SPAN } from '../../compiler/types.js';
import { TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { defcnTargetTypes } from '../../models/fixed-batch.js';

export const TINY_ARGS = { depth: 0, width: 4, C: 16, K: 3, groups: 4 };
export const TINY_FLAGS = ['--arg', 'depth=0', '--arg', 'width=4', '--arg', 'C=16', '--arg', 'K=3', '--arg', 'groups=4'];

/** DeFCNTrain (defcn-train.fd) or, with fcos, FCOSTrain (fcos-train.fd). */
export function tinyStep(B = 1, S = 32, sgd: SgdOptions = DEFAULT_SGD, model: 'defcn' | 'fcos' = 'defcn'): TrainStep {
  const { program, diagnostics } = checkFiles([`models/${model}-train.fd`]);
  if (!program || diagnostics.some((d) => d.severity === 'error')) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const inputs = { image: { dtype: 'f32' as const, shape: [B, 3, S, S] }, ...defcnTargetTypes(B, TINY_ARGS.K, S) };
  const graph = lower(program, { entry: model === 'defcn' ? 'DeFCNTrain' : 'FCOSTrain', fn: 'loss_fixed', inputs, args: TINY_ARGS });
  return buildTrainStep(graph, { sgd, differentiate });
}

/** conv (decayed) → GroupNorm (not decayed) → ReLU → mean square: a step with both kinds of update, small enough to compile twice on SwiftShader. */
export function smallStep(): TrainStep {
  const b = new GraphBuilder();
  const f32 = (shape: number[]) => ({ dtype: 'f32' as const, shape });
  const x = b.input('x', f32([1, 2, 6, 6]), NO_SPAN);
  const w = b.param('conv.weight', f32([4, 2, 3, 3]), { kind: 'kaiming', mode: 'fan_out', gain: 2 }, false, NO_SPAN, 'conv');
  const cb = b.param('conv.bias', f32([4]), { kind: 'constant', value: 0.1 }, false, NO_SPAN, 'conv');
  const gw = b.param('norm.weight', f32([4]), { kind: 'ones' }, false, NO_SPAN, 'norm');
  const gb = b.param('norm.bias', f32([4]), { kind: 'constant', value: 0.2 }, false, NO_SPAN, 'norm');
  const a = new GraphAppender(b.graph);
  const y = a.op('relu', [a.op('group_norm', [a.op('conv2d', [x, w, cb], { padding: [1] }), gw, gb], { groups: 2 })]);
  b.output('loss', a.op('mean', [a.op('square', [y])], { axes: [], keepdims: false }));
  return buildTrainStep(b.graph, { sgd: DEFAULT_SGD, differentiate });
}

/**
 * One step on a runtime and on the reference from the same state: the loss
 * terms within 1e-4 (relative, floor 1), every state tensor (weights and
 * momentum) within 1e-4 of its largest magnitude; NaN or a wrong infinity
 * anywhere fails. The caller decides a skip when it registers the test
 * (test/helpers/skip.ts): any error here is a failure.
 */
export async function compareStep(st: TrainStep, runtime: Runtime, label: string): Promise<void> {
  const p0 = initParams(st.graph, 3), b0 = fixedBatch(st.graph, 3);
  const rt = await runtimeRunner(st, p0, runtime);
  const ref = referenceRunner(st, p0);
  const rc = await rt.step(b0, 0.01, 1), rr = await ref.step(b0, 0.01, 1);
  for (const t of [...st.terms, 'grad_norm']) {
    const e = errorOf(rc.scalars[t], rr.scalars[t], (a, b) => Math.abs(a - b) / Math.max(1, Math.abs(b)));
    assert.ok(within(e, 1e-4), `${t}: ${rt.where} ${rc.scalars[t]} vs reference ${rr.scalars[t]}`);
  }
  const { worst, name: worstName } = worstStateDifference(await rt.getState(), await ref.getState());
  console.log(`${label}: one step on ${rt.where} vs reference: loss ${rc.scalars.loss} vs ${rr.scalars.loss}, worst relative state difference ${worst.toExponential(2)} (${worstName})`);
  assert.ok(within(worst, 1e-4), `worst relative state difference ${worst} in ${worstName}`);
  rt.dispose();
}

/** Max over state tensors of |got - want| / max(max|want|, 1e-3); a missing tensor, NaN or a mismatched infinity is Infinity. */
export function worstStateDifference(got: Map<string, Tensor>, want: Map<string, Tensor>): { worst: number; name: string } {
  let worst = 0, name = '';
  for (const [k, t] of want) {
    const g = got.get(k);
    const scale = finiteScale(t.data, 1e-3);
    const w = g ? worstError(g.data, t.data, (a, b) => Math.abs(a - b) / scale).worst : Infinity;
    if (name === '' || w > worst) { worst = w; name = k; }
  }
  return { worst, name };
}

/**
 * 200 steps on one fixed batch on `runtime` (the CPU runtime; the caller
 * skips at registration where it cannot run, and any error here fails): the
 * loss below minDrop × its start, each term lower.
 */
export async function overfit(step: TrainStep, label: string, minDrop: number, dir: string, runtime: Runtime): Promise<void> {
  const params = initParams(step.graph, 0);
  const runner: StepRunner = await runtimeRunner(step, params, runtime);
  const schedule = { lr: 0.02, warmup: 10, warmupFactor: 1e-3, milestones: [150], gamma: 0.1 };
  const r = await trainLoop({
    step, runner, batches: fixedSource(step.graph, 0), modelId: label, config: {}, steps: 200, schedule, lossScale: 1,
    dir: join(dir, label), checkpointEvery: 0, resume: false, progress: false,
  });
  assert.is(r.log.length, 200);
  const first = r.log[0].scalars, last = r.log[199].scalars;
  console.log(`overfit ${label} on ${runner.where}: loss ${first.loss.toFixed(4)} -> ${last.loss.toFixed(4)}, cls ${first.loss_cls.toFixed(4)} -> ${last.loss_cls.toFixed(4)}, box ${first.loss_box.toFixed(4)} -> ${last.loss_box.toFixed(4)} in ${r.seconds.toFixed(1)} s`);
  assert.ok(last.loss < minDrop * first.loss, `loss ${first.loss} -> ${last.loss}`);
  assert.ok(last.loss_cls < first.loss_cls && last.loss_box < first.loss_box);
  assert.ok(existsSync(r.plotPath) && existsSync(r.logPath) && existsSync(r.checkpoint!));
  runner.dispose();
}
