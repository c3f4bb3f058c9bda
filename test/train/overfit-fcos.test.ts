// 200 steps on one fixed batch drive the tiny FCOS's loss down (focal on
// logits + GIoU), on the CPU runtime (the reference where it cannot run).
import { test } from 'uvu';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overfit, tinyStep } from './tiny.js';
import { cpuOrSkip } from '../helpers/skip.js';

const cpu = await cpuOrSkip();

const dir = mkdtempSync(join(tmpdir(), 'fusedet-overfit-fcos-'));

cpu.test('tiny FCOS, 200 steps on a fixed batch: the loss falls below 40% of its start, each term falls', async () => {
  await overfit(tinyStep(1, 32, undefined, 'fcos'), 'fcos', 0.4, dir, cpu.runtime!);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
