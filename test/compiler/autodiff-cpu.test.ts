// The tiny DeFCNTrain forward + backward compiled and run on the CPU runtime
// equals the reference gradients within 1e-4 (f32 in another summation
// order; measure in test/compiler/grad/tiny-step.ts). Skipped, and counted
// so, where no C compiler can run.
import { test } from 'uvu';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeCpu } from '../../runtime-cpu/load.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { matchesReference, tinyStep } from './grad/tiny-step.js';

process.env.FUSEDET_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'fusedet-autodiff-cpu-'));

const why = await probeCpu();
if (why !== undefined) console.log(`SKIP test/compiler/autodiff-cpu.test.ts: ${why}`);
(why === undefined ? test : test.skip)('CPU runtime: compiled forward + backward equals the reference gradients', async () => {
  const s = tinyStep();
  const exe = await new CpuRuntime().load(s.compiled);
  await matchesReference(s, exe, 1e-4, 'cpu');
  exe.dispose();
});

test.run();
