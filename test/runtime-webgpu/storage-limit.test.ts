// A kernel binds at most the target's storage buffers per stage: fusion cuts
// a group before it would bind more (compiler/fuse.ts), so a program that
// would fuse into one 9-buffer kernel runs on a device that allows 8 or 4 as
// several kernels, equal to the reference. (One op that alone binds more,
// max3d over a pyramid, splits its own launches: max3d-storage-limit.test.ts.)
// A program compiled for another target, with a kernel over the device's
// limit, is refused before anything is allocated, saying what to do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { tensor } from '../../compiler/tensor.js';
import { NO_SPAN } from '../../compiler/types.js';
import { webgpuTarget } from '../../compiler/target.js';
import { TestGraph, compare, referenceRun } from '../compiler/kernel/graphs.js';
import { createNodeWebGpu } from '../../runtime-webgpu/node.js';
import { DeviceLimitError } from '../../runtime-webgpu/errors.js';
import { openOrSkip, rejects } from './open.js';

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

gpuTest('the 9-buffer program on devices that allow 8 and 4 storage buffers equals the reference; compiled for no limit it is refused', async () => {
  for (const limit of [8, 4]) {
    const dev = await createNodeWebGpu({ maxStorageBuffers: limit });
    assert.is(dev.target.maxStorageBuffers, limit);
    const program = compileGraph(wideGraph(1).graph, dev.target, { fuse: true });
    const ex = await dev.load(program);
    for (const seed of [1, 2]) {
      const t = wideGraph(seed);
      const got = await ex.run(t.inputs);
      const msg = compare(got.y, referenceRun(t).y, 0, 0);
      assert.is(msg, '', `limit ${limit} seed ${seed}: ${msg}`);
    }
    ex.dispose();
    // Compiled for another target, the one wide kernel is over this device's limit: refused, naming the fix.
    const wide = compileGraph(wideGraph(1).graph, webgpuTarget({ maxStorageBuffers: Number.POSITIVE_INFINITY }));
    assert.is(wide.launches.length, 1);
    await rejects(() => dev.load(wide), (e: unknown) => e instanceof DeviceLimitError &&
      new RegExp(`binds 9 storage buffers; ${limit} are allowed per shader stage \\(compile the program for this runtime: compileGraph\\(graph, runtime.target\\)\\)`).test(e.message));
    dev.destroy();
  }
});

test.run();
