// The `match` kernel on WebGPU (the WGSL rendering; Dawn, SwiftShader where
// no GPU is present, so small batches only): scipy's optimal totals on the
// fixture batches up to 30 × 100, compiled for the runtime's own target (a
// software adapter solves on one thread), and the first 12 images of each
// with the workgroup solve real GPUs get (match-parallel.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../../compiler/program.js';
import { tensor } from '../../../compiler/tensor.js';
import type { Target } from '../../../compiler/target.js';
import { openOrSkip } from '../../runtime-webgpu/open.js';
import { batchData, batchFailures, loadMatchFixture, matchGraph } from './match-instances.js';

const rt = await openOrSkip('test/compiler/ops/match-webgpu.test.ts');

async function runBatches(target: Target, limit: number, what: string): Promise<{ bad: string[]; images: number }> {
  const bad: string[] = [];
  let images = 0;
  for (const full of loadMatchFixture().filter((x) => x.where === 'small' && x.G * x.N <= 3000)) {
    const d = batchData(full), B = Math.min(full.B, limit), size = full.G * full.N;
    const b = { ...full, B, images: full.images.slice(0, B) };
    const q = d.q.subarray(0, B * size), counts = d.counts.subarray(0, B);
    const exe = await rt!.load(compileGraph(matchGraph(B, b.G, b.N), target));
    try {
      const out = await exe.run({ q: tensor('f32', [B, b.G, b.N], q), count: tensor('i32', [B], counts) });
      bad.push(...batchFailures(b, q, counts, out.m.data, what));
      images += B;
    } finally {
      exe.dispose();
    }
  }
  return { bad, images };
}

(rt ? test : test.skip)('WebGPU, the runtime\'s target: small fixture batches give scipy\'s optimal total; columns distinct, padded rows -1', async () => {
  const { bad, images } = await runBatches(rt!.target, Infinity, 'webgpu');
  assert.ok(images >= 1000, `${images} images`);
  assert.equal(bad.slice(0, 5), []);
});

(rt ? test : test.skip)('WebGPU, the workgroup solve (a hardware adapter\'s kernel): the first 12 images of each small batch', async () => {
  const { bad, images } = await runBatches({ ...rt!.target, software: false }, 12, 'webgpu/workgroup');
  assert.ok(images >= 100, `${images} images`);
  assert.equal(bad.slice(0, 5), []);
});

test.run();
