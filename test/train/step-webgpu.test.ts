// One full training step of the tiny DeFCN (3DMF) on the WebGPU runtime
// equals the reference (tolerances in tiny.ts compareStep); skipped, with the
// reason, where no WebGPU adapter opens.
import { test } from 'uvu';
import { webGpuOrSkip } from '../helpers/skip.js';
import { compareStep, tinyStep } from './tiny.js';

const gpu = await webGpuOrSkip();

gpu.test('one step of tiny DeFCN (3DMF): WebGPU runtime equals the reference within tolerance', async () => {
  await compareStep(tinyStep(), gpu.runtime!, 'DeFCN');
});

test.run();
