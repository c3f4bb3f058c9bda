// The `match` kernel on WebGPU (the WGSL rendering; Dawn, SwiftShader where
// no GPU is present, so small batches only): scipy's optimal totals on the
// fixture batches up to 30 × 100, compiled for the runtime's own target.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../../compiler/program.js';
import { tensor } from '../../../compiler/tensor.js';
import { openOrSkip } from '../../runtime-webgpu/open.js';
import { batchData, batchFailures, loadMatchFixture, matchGraph } from './match-instances.js';

const rt = await openOrSkip('test/compiler/ops/match-webgpu.test.ts');

(rt ? test : test.skip)('WebGPU: small fixture batches give scipy\'s optimal total; columns distinct, padded rows -1', async () => {
  const bad: string[] = [];
  let images = 0;
  for (const b of loadMatchFixture().filter((x) => x.where === 'small' && x.G * x.N <= 3000)) {
    const { q, counts } = batchData(b);
    const exe = await rt!.load(compileGraph(matchGraph(b.B, b.G, b.N), rt!.target));
    try {
      const out = await exe.run({ q: tensor('f32', [b.B, b.G, b.N], q), count: tensor('i32', [b.B], counts) });
      bad.push(...batchFailures(b, q, counts, out.m.data, 'webgpu'));
      images += b.B;
    } finally {
      exe.dispose();
    }
  }
  assert.ok(images >= 1000, `${images} images`);
  assert.equal(bad.slice(0, 5), []);
});

test.run();
