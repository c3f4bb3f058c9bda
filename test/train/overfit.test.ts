// 200 steps on one fixed batch drive the tiny networks' loss down: DeFCN
// (3DMF) on the CPU runtime when it can compile every backward kernel (today
// max3d's is missing: then on the reference interpreter, and the test says
// so), FCOS on the CPU runtime.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initParams } from '../../compiler/init.js';
import { fixedSource } from '../../models/fixed-batch.js';
import { StepRunner, referenceRunner, runtimeRunner } from '../../models/step-runner.js';
import type { TrainStep } from '../../compiler/train-step.js';
import { trainLoop } from '../../models/train.js';
import { tinyStep } from './tiny.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-overfit-'));

async function overfit(step: TrainStep, label: string, minDrop: number): Promise<void> {
  const params = initParams(step.graph, 0);
  let runner: StepRunner;
  try { runner = await runtimeRunner(step, params, 'cpu'); } catch (e) {
    console.log(`${label}: the CPU runtime cannot run the step (${(e as Error).message.split('\n')[0].slice(0, 120)}); on the reference interpreter`);
    runner = referenceRunner(step, params);
  }
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

test('tiny DeFCN (3DMF), 200 steps on a fixed batch: the loss falls below 40% of its start, each term falls', async () => {
  await overfit(tinyStep(), 'defcn', 0.4);
});

test('tiny FCOS, 200 steps on a fixed batch: the loss falls below 40% of its start, each term falls', async () => {
  await overfit(tinyStep(1, 32, undefined, 'fcos'), 'fcos', 0.4);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
