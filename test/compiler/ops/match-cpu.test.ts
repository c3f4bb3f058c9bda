// The `match` kernel on the CPU runtime (the C rendering, native threads over
// images): scipy's optimal totals on every fixture batch, the large ones
// included (G = 100 at N = 20,000; G = 500 at N = 30,000; dense 200 × 5,000).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../../compiler/program.js';
import { CPU } from '../../../compiler/target.js';
import { tensor } from '../../../compiler/tensor.js';
import { CpuRuntime } from '../../../runtime-cpu/runtime.js';
import { probeCpu } from '../../../runtime-cpu/load.js';
import { batchData, batchFailures, loadMatchFixture, matchGraph } from './match-instances.js';

const why = await probeCpu();
if (why) console.log(`SKIP match on the CPU runtime: ${why}`);
const cpuTest = why ? test.skip : test;

cpuTest('CPU runtime: every fixture batch gives scipy\'s optimal total; columns distinct, padded rows -1', async () => {
  const rt = new CpuRuntime();
  const bad: string[] = [];
  for (const b of loadMatchFixture()) {
    const { q, counts } = batchData(b);
    const exe = await rt.load(compileGraph(matchGraph(b.B, b.G, b.N), CPU));
    try {
      const t0 = performance.now();
      const out = await exe.run({ q: tensor('f32', [b.B, b.G, b.N], q), count: tensor('i32', [b.B], counts) });
      if (b.where === 'large') console.log(`  match ${b.B} x ${b.G} x ${b.N} (${b.kinds.join(', ')}): ${(performance.now() - t0).toFixed(1)} ms`);
      bad.push(...batchFailures(b, q, counts, out.m.data, 'cpu'));
    } finally {
      exe.dispose();
    }
  }
  assert.equal(bad.slice(0, 5), []);
});

test.run();
