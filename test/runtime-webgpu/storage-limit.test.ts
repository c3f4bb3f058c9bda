// A kernel binds at most the target's storage buffers per stage: fusion cuts
// a group before it would bind more (compiler/fuse.ts), so a program that the
// packed binding served (9 buffers in one kernel) runs on a device that allows
// 8 or 4 as several kernels, equal to the reference, with no pack and no
// per-run copies. A kernel fusion cannot cut (one op over the limit, or a
// program compiled for another target) still reads its last read-only
// buffers through one packed binding (runtime-webgpu/packing.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { tensor } from '../../compiler/tensor.js';
import { NO_SPAN } from '../../compiler/types.js';
import { webgpuTarget } from '../../compiler/target.js';
import { TestGraph, compare, referenceRun } from '../compiler/kernel/graphs.js';
import { createNodeWebGpu } from '../../runtime-webgpu/node.js';
import { packPlan } from '../../runtime-webgpu/packing.js';
import { openOrSkip } from './open.js';

const rt = await openOrSkip('test/runtime-webgpu/storage-limit.test.ts');
rt?.destroy();
const gpuTest = rt ? test : test.skip;

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

test('fusion keeps every kernel within the storage-buffer limit, and fuses as before without one', () => {
  const g = wideGraph(1).graph;
  const free = compileGraph(g, webgpuTarget({ maxStorageBuffers: Number.POSITIVE_INFINITY }));
  assert.is(free.launches.length, 1);
  assert.is(free.launches[0].buffers.length, 9, 'one kernel reads 8 inputs and writes y');
  for (const limit of [8, 6, 4, 3]) {
    const p = compileGraph(g, webgpuTarget({ maxStorageBuffers: limit }));
    const widest = Math.max(...p.launches.map((l) => l.buffers.length));
    assert.ok(widest <= limit, `limit ${limit}: a kernel binds ${widest}`);
    assert.ok(p.launches.length > 1 && p.launches.length <= 9 - limit + 2, `limit ${limit}: ${p.launches.length} kernels (cut no more than needed)`);
  }
});

gpuTest('the 9-buffer program on devices that allow 8 and 4 storage buffers equals the reference', async () => {
  for (const limit of [8, 4]) {
    const lines: string[] = [];
    const dev = await createNodeWebGpu({ maxStorageBuffers: limit, debug: 4, log: (l) => lines.push(l), dumpSource: () => undefined });
    assert.is(dev.target.maxStorageBuffers, limit);
    const program = compileGraph(wideGraph(1).graph, dev.target, { fuse: true });
    const ex = await dev.load(program);
    assert.not.ok(lines.some((l) => /\bPK\b/.test(l)), 'no kernel reads a packed binding');
    for (const seed of [1, 2]) {
      const t = wideGraph(seed);
      const got = await ex.run(t.inputs);
      const msg = compare(got.y, referenceRun(t).y, 0, 0);
      assert.is(msg, '', `limit ${limit} seed ${seed}: ${msg}`);
    }
    ex.dispose();
    // Compiled for another target, the one wide kernel reads a pack (the fallback for what fusion cannot cut).
    lines.length = 0;
    const wide = compileGraph(wideGraph(1).graph, webgpuTarget({ maxStorageBuffers: Number.POSITIVE_INFINITY }));
    assert.is(wide.launches.length, 1);
    const packed = await dev.load(wide);
    assert.ok(lines.some((l) => /var<storage, read> PK: array<u32>;/.test(l)), 'the wide kernel reads a pack');
    const t = wideGraph(2);
    const msg = compare((await packed.run(t.inputs)).y, referenceRun(t).y, 0, 0);
    assert.is(msg, '', `limit ${limit}, packed: ${msg}`);
    packed.dispose();
    dev.destroy();
  }
});

test('packPlan: none when within the limit; the last read-only buffers otherwise', () => {
  assert.is(packPlan([true, true, false], [4, 8, 4], 3), undefined);
  const p = packPlan([true, false, true, true, false], [8, 4, 12, 16, 4], 3)!;
  assert.equal(p.packed, [0, 2, 3], '5 buffers under 3 bindings: 2 keep their own, the pack is the third');
  assert.equal(p.offsets, [0, 2, 5]);
  assert.equal(p.sizes, [8, 12, 16]);
  assert.is(p.bytes, 36);
  assert.is(packPlan([false, false, true, false], [4, 4, 4, 4], 2), undefined, 'too few read-only buffers');
});

test.run();
