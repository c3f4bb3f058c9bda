// 200 steps on one fixed batch drive the tiny DeFCN's loss down (3DMF focal +
// GIoU), on the CPU runtime, or on the reference interpreter where the CPU
// runtime cannot compile a backward kernel (the test prints which).
import { test } from 'uvu';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overfit, tinyStep } from './tiny.js';
import { cpuOrSkip } from '../helpers/skip.js';

const cpu = await cpuOrSkip();

const dir = mkdtempSync(join(tmpdir(), 'fusedet-overfit-'));

cpu.test('tiny DeFCN (3DMF), 200 steps on a fixed batch: the loss falls below 40% of its start, each term falls', async () => {
  await overfit(tinyStep(), 'defcn', 0.4, dir, cpu.runtime!);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
