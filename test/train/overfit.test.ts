// 200 steps on one fixed batch drive the tiny network's loss down. On the
// reference interpreter: the CPU runtime cannot compile every backward op yet
// (the test says which and runs there when it can).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initParams } from '../../compiler/init.js';
import { fixedSource } from '../../models/fixed-batch.js';
import { referenceRunner } from '../../models/step-runner.js';
import { trainLoop } from '../../models/train.js';
import { tinyStep } from './tiny.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-overfit-'));

test('200 steps on a fixed batch: the loss falls below 40% of its start, each term falls', async () => {
  const step = tinyStep();
  const runner = referenceRunner(step, initParams(step.graph, 0));
  const schedule = { lr: 0.02, warmup: 10, warmupFactor: 1e-3, milestones: [150], gamma: 0.1 };
  const r = await trainLoop({
    step, runner, batches: fixedSource(step.graph, 0), modelId: 'tiny', config: {}, steps: 200, schedule, lossScale: 1,
    dir, checkpointEvery: 0, resume: false, progress: false,
  });
  assert.is(r.log.length, 200);
  const first = r.log[0].scalars, last = r.log[199].scalars;
  console.log(`overfit (reference): loss ${first.loss.toFixed(4)} -> ${last.loss.toFixed(4)}, cls ${first.loss_cls.toFixed(4)} -> ${last.loss_cls.toFixed(4)}, box ${first.loss_box.toFixed(4)} -> ${last.loss_box.toFixed(4)}`);
  assert.ok(last.loss < 0.4 * first.loss, `loss ${first.loss} -> ${last.loss}`);
  assert.ok(last.loss_cls < first.loss_cls && last.loss_box < first.loss_box);
  assert.ok(existsSync(r.plotPath) && existsSync(r.logPath) && existsSync(r.checkpoint!));
  runner.dispose();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
