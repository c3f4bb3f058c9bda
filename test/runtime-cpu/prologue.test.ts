// The program's prologue (compiler/program.ts, Program.prologue): launches
// computing from the params alone (a Winograd filter transform) move to the
// front, write 'derived' buffers of their own, and run again only after
// setParams. Checked: which launches are hoisted and deduplicated (two
// convolutions sharing weights share one transform), that the CPU runtime
// skips them on later runs yet follows new params, and that a program
// updating its params in place gets no prologue.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph, type Program } from '../../compiler/program.js';
import { cpuTarget } from '../../compiler/target.js';
import { randomTensor } from '../../compiler/tensor.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { cpuOptionsFromEnv } from '../../runtime-cpu/options.js';
import { TestGraph, compare, referenceRun } from '../compiler/kernel/graphs.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-prologue-test-'));

const WINOGRAD = cpuTarget({ winograd: [{ tiles: 1, channels: 3 }] });
const conv = { stride: [1], padding: [1], dilation: [1], groups: 1 };

/** Two images through one shared 3×3 conv (one filter transform for both), then a conv of weights of its own. */
function twoLevels(): TestGraph {
  const t = new TestGraph();
  const shared = t.param('w', [6, 4, 3, 3]);
  const b = t.param('b', [6]);
  const a = t.op('relu', [t.op('conv2d', [t.input('p3', [1, 4, 10, 12]), shared, b], conv)]);
  const c = t.op('relu', [t.op('conv2d', [t.input('p4', [1, 4, 5, 6]), shared, b], conv)]);
  t.output('p3_out', t.op('conv2d', [a, t.param('w2', [5, 6, 3, 3])], conv));
  t.output('p4_out', c);
  return t;
}

const roleOf = (p: Program, id: number): string => p.buffers.find((b) => b.id === id)!.role;

test('param-only launches lead the program, once per distinct weights, writing derived buffers', () => {
  const p = compileGraph(twoLevels().graph, WINOGRAD);
  assert.is(p.prologue, 2, 'one filter transform for the shared weights, one for w2');
  assert.is(p.launches.length, 2 + 3 * 3, 'each conv keeps its input transform, GEMM and output transform');
  for (const l of p.launches.slice(0, 2)) {
    const access = p.kernels[l.kernel].ir.bufs.map((b) => b.access);
    l.buffers.forEach((id, i) => assert.is(roleOf(p, id), access[i] === 'r' ? 'param' : 'derived', `prologue buffer ${id} (${access[i]})`));
  }
  const derived = p.buffers.filter((b) => b.role === 'derived').map((b) => b.id);
  assert.is(derived.length, 2);
  // The GEMMs read the transforms: the shared one twice.
  const readers = derived.map((id) => p.launches.slice(2).filter((l) => l.buffers.includes(id)).length);
  assert.equal(readers.sort(), [1, 2]);
});

test('the CPU runtime runs the prologue on the first run and after setParams only', async () => {
  const t = twoLevels();
  const program = compileGraph(t.graph, WINOGRAD);
  const stderr = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write; // debug 2's load and per-launch lines
  const exe = await new CpuRuntime(undefined, { ...cpuOptionsFromEnv(), debug: 2 }).load(program).finally(() => { process.stderr.write = stderr; });
  const check = (got: Record<string, { data: ArrayLike<number> }>, want: ReturnType<typeof referenceRun>, label: string): void => {
    for (const [name, w] of Object.entries(want)) assert.is(compare(got[name] as never, w, 2e-4, 2e-4), '', `${label}: ${name}`);
  };
  const prologueSeconds = (): number[] => exe.lastTimes().slice(0, 2).map((x) => x.seconds);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await exe.setParams(new Map(Object.entries(t.params)));
    check(await exe.run(t.inputs), referenceRun(t), 'first run');
    assert.ok(prologueSeconds().every((s) => s > 0), 'the first run computes the transforms');
    check(await exe.run(t.inputs), referenceRun(t), 'second run');
    assert.equal(prologueSeconds(), [0, 0], 'a second run with the same params skips them');
    // New weights: the transforms follow them.
    t.params.w = randomTensor([6, 4, 3, 3], 99, -1, 1);
    t.params.w2 = randomTensor([5, 6, 3, 3], 98, -1, 1);
    await exe.setParams(new Map(Object.entries(t.params)));
    check(await exe.run(t.inputs), referenceRun(t), 'after setParams');
    assert.ok(prologueSeconds().every((s) => s > 0));
  } finally {
    process.stderr.write = stderr;
    exe.dispose();
  }
});

test('a program updating its params in place has no prologue', () => {
  const t = twoLevels();
  const g = t.graph;
  const w2 = g.params.find((p) => p.name === 'w2')!.value;
  g.updates = [{ param: 'w2', value: t.op('mul', [w2, t.constant(0.5)]) }];
  const p = compileGraph(g, WINOGRAD);
  assert.is(p.prologue, undefined);
  assert.not.ok(p.buffers.some((b) => b.role === 'derived'));
});

test.run();
