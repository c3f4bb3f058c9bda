// One full training step of the tiny DeFCN (3DMF) on the WebGPU runtime
// equals the reference (tolerances in tiny.ts compareStep); skipped, with the
// reason, where no WebGPU adapter opens.
import { test } from 'uvu';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { compareStep, tinyStep } from './tiny.js';

test('one step of tiny DeFCN (3DMF): WebGPU runtime equals the reference within tolerance', async () => {
  const rt = await openOrSkip('test/train/step-webgpu.test.ts');
  if (!rt) return;
  await compareStep(tinyStep(), rt, 'DeFCN');
});

test.run();
