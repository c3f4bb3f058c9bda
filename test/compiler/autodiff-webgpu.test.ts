// The tiny DeFCNTrain forward + backward compiled and run on WebGPU equals
// the reference gradients within 2e-3 (the `fusedet run --compare` bound;
// measure in test/compiler/grad/tiny-step.ts). Skipped, and counted so,
// where no WebGPU adapter opens.
import { test } from 'uvu';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { matchesReference, tinyStep } from './grad/tiny-step.js';

const gpu = await openOrSkip('test/compiler/autodiff-webgpu.test.ts');
(gpu ? test : test.skip)('WebGPU runtime: compiled forward + backward equals the reference gradients', async () => {
  const s = tinyStep(gpu!.target);
  const exe = await gpu!.load(s.compiled);
  await matchesReference(s, exe, 2e-3, 'webgpu');
  exe.dispose();
});

test.run();
