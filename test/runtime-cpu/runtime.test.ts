// The CPU runtime on compiled graphs: renderC → cc → thread pool, equal to
// the op references; a program big enough is split into several translation
// units and still links into one library.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph, Program } from '../../compiler/program.js';
import { renderC } from '../../compiler/render/c.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { nativeOrThrow } from '../../runtime-cpu/load.js';
import { splitUnits } from '../../runtime-cpu/units.js';
import { handKernel } from '../../runtime-cpu/hand.js';
import { TestGraph, compare, referenceRun } from '../compiler/kernel/graphs.js';
import { CPU } from '../../compiler/target.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-cpu-runtime-test-'));
const native = nativeOrThrow();

function convNet(): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', [2, 3, 11, 9]);
  const c1 = t.op('relu', [t.op('conv2d', [x, t.param('w1', [8, 3, 3, 3]), t.param('b1', [8])], { stride: [2], padding: [1] })]);
  const c2 = t.op('conv2d', [c1, t.param('w2', [8, 4, 3, 3]), t.param('b2', [8])], { padding: [2], dilation: [2], groups: 2 });
  t.output('y', t.op('sigmoid', [t.op('add', [c2, c1])]));
  t.output('m', t.op('add', [t.op('matmul', [t.input('a', [3, 5, 7]), t.input('b', [7, 6])]), t.input('c', [6])]));
  return t;
}

test('a fused conv net equals the references on 1..3 threads, weights resident across runs', async () => {
  const t = convNet();
  const want = referenceRun(t);
  for (const fuse of [true, false]) {
    const exe = await new CpuRuntime().load(compileGraph(t.graph, CPU, { fuse }));
    await exe.setParams(t.params);
    for (let threads = 1; threads <= 3; threads++) {
      native.setThreads(threads);
      const got = await exe.run(t.inputs);
      for (const name of ['y', 'm']) {
        const err = compare(got[name], want[name], 1e-5, 1e-5);
        assert.is(err, '', `fuse ${fuse}, ${threads} threads, output ${name}: ${err}`);
      }
    }
  }
});

test('a second load of the same program is a cache hit', async () => {
  const program = compileGraph(convNet().graph, CPU);
  const first = await new CpuRuntime().load(program);
  const second = await new CpuRuntime().load(program);
  assert.is(second.stats.compiled, 0);
  assert.ok(second.stats.cached >= 1);
  assert.is(second.stats.kernels, first.stats.kernels);
});

test('FUSEDET_DEBUG=4 names a file holding the rendered C', async () => {
  const program = compileGraph(convNet().graph, CPU);
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.env.FUSEDET_DEBUG = '4';
  process.stderr.write = ((s: string) => { lines.push(String(s)); return true; }) as typeof process.stderr.write;
  try {
    (await new CpuRuntime().load(program)).dispose();
  } finally {
    process.stderr.write = write;
    delete process.env.FUSEDET_DEBUG;
  }
  const m = /rendered C of \d+ kernels in (\S+\.c)/.exec(lines.join(''));
  assert.ok(m, lines.join(''));
  assert.is(readFileSync(m![1], 'utf8'), renderC(program));
});

test('splitUnits balances kernels over lanes and renders each unit from a subset', () => {
  const sizes = [30_000, 5_000, 20_000, 25_000, 1_000];
  const program: Program = {
    buffers: [], launches: [{ kernel: 0, buffers: [], args: [], grid: 1 }], inputs: {}, outputs: {}, params: {}, peakBytes: 0,
    kernels: sizes.map((_, i) => handKernel(`k${i}`, [], 0)),
  };
  const render = (p: Program): string => p.kernels.map((k) => `/*${k.name}*/` + ' '.repeat(sizes[Number(k.name.slice(1))])).join('\n');
  const units = splitUnits(program, render, 2);
  assert.is(units.length, 2);
  const names = units.map((u) => [...u.matchAll(/\/\*(k\d)\*\//g)].map((m) => m[1]));
  assert.equal(names.flat().sort(), ['k0', 'k1', 'k2', 'k3', 'k4']);
  // 36k vs 45k is the best split of these sizes ({30,5,1} | {25,20}).
  assert.ok(Math.abs(units[0].length - units[1].length) <= 9_100, `${units[0].length} vs ${units[1].length}`);
  // Small programs stay one unit: a second cc start costs more than it saves.
  assert.is(splitUnits({ ...program, kernels: program.kernels.slice(4) }, render, 2).length, 1);
  assert.is(splitUnits(program, render, 1).length, 1);
});

test('units of a real rendering compile and link together (helpers are static)', async () => {
  const t = convNet();
  const program = compileGraph(t.graph, CPU, { fuse: false });
  // Force a split whatever the size: lanes = kernels, and a renderer padded past the threshold.
  const padded = (p: Program): string => renderC(p) + `\n/*${' '.repeat(50_000)}*/\n`;
  const units = splitUnits(program, padded, program.kernels.length);
  assert.ok(units.length >= 2, `units: ${units.length}`);
  const exe = await new CpuRuntime(padded).load(program);
  await exe.setParams(t.params);
  assert.is(compare((await exe.run(t.inputs)).y, referenceRun(t).y, 1e-5, 1e-5), '');
});

test.run();
