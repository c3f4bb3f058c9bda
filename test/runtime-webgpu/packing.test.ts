// Kernels with more storage buffers than a device allows read some of their
// inputs through one packed binding (runtime-webgpu/packing.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { packPlan } from '../../runtime-webgpu/packing.js';
import { compileGraph } from '../../compiler/program.js';
import { tensor } from '../../compiler/tensor.js';
import { NO_SPAN } from '../../compiler/types.js';
import { TestGraph, compare, referenceRun } from '../compiler/kernel/graphs.js';
import { createNodeWebGpu } from '../../runtime-webgpu/node.js';
import { openOrSkip } from './open.js';
import { CPU } from '../../compiler/target.js';

const rt = await openOrSkip('test/runtime-webgpu/packing.test.ts');
rt?.destroy();
const gpuTest = rt ? test : test.skip;

test('packPlan: none when within the limit; the last read-only buffers otherwise', () => {
  assert.is(packPlan([true, true, false], [4, 8, 4], 3), undefined);
  const p = packPlan([true, false, true, true, false], [8, 4, 12, 16, 4], 3)!;
  assert.equal(p.packed, [0, 2, 3], '5 buffers under 3 bindings: 2 keep their own, the pack is the third');
  assert.equal(p.offsets, [0, 2, 5]);
  assert.equal(p.sizes, [8, 12, 16]);
  assert.is(p.bytes, 36);
  assert.is(packPlan([false, false, true, false], [4, 4, 4, 4], 2), undefined, 'too few read-only buffers');
});

/** y = where(mask, x0 + ... + x5 + f32(n), -1): 6 f32, 1 i32 and 1 bool input fused into one kernel with its output. */
function wideGraph(seed: number): TestGraph {
  const t = new TestGraph();
  const shape = [3, 7];
  let acc = t.input('x0', shape);
  for (let i = 1; i < 6; i++) acc = t.op('add', [acc, t.input(`x${i}`, shape)]);
  t.inputs.n = tensor('i32', shape, Array.from({ length: 21 }, (_, i) => ((i * seed) % 9) - 4));
  const n = t.b.input('n', { dtype: 'i32', shape }, NO_SPAN);
  t.inputs.mask = tensor('bool', shape, Array.from({ length: 21 }, (_, i) => ((i + seed) % 3 === 0 ? 0 : 1)));
  const mask = t.b.input('mask', { dtype: 'bool', shape }, NO_SPAN);
  acc = t.op('add', [acc, t.op('cast', [n], { dtype: 'f32' })]);
  t.output('y', t.op('where', [mask, acc, t.constant(-1)]));
  return t;
}

gpuTest('a 9-buffer kernel under 8 and under 4 storage bindings equals the reference', async () => {
  for (const limit of [8, 4]) {
    const lines: string[] = [];
    const dev = await createNodeWebGpu({ maxStorageBuffers: limit, debug: 4, log: (l) => lines.push(l), dumpSource: () => undefined });
    const first = wideGraph(1);
    const program = compileGraph(first.graph, CPU, { fuse: true });
    assert.is(program.launches.length, 1);
    assert.is(program.launches[0].buffers.length, 9);
    const ex = await dev.load(program);
    assert.ok(lines.some((l) => /var<storage, read> PK: array<u32>;/.test(l)), 'the kernel reads a pack');
    for (const seed of [1, 2]) {
      const t = wideGraph(seed);
      const got = await ex.run(t.inputs);
      const msg = compare(got.y, referenceRun(t).y, 0, 0);
      assert.is(msg, '', `limit ${limit} seed ${seed}: ${msg}`);
    }
    ex.dispose();
    dev.destroy();
  }
});

test.run();
