// Target profiles of the GEMM/conv schedule: WebGPU tiles stay within the
// device's workgroup memory and invocation limits and still compute the
// reference result (kernel-IR interpreter); the CPU profile keeps its wide tiles.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { chooseTile, tileStorageBytes } from '../../compiler/schedule/gemm.js';
import { TestGraph, compare, referenceRun } from './kernel/graphs.js';
import { runProgram } from '../../compiler/kernel/run-program.js';
import { CPU, webgpuTarget } from '../../compiler/target.js';

const LIMITS = { maxWorkgroupStorageBytes: 16384, maxInvocations: 256 };

/** WGSL scalars are 4 bytes each (runtime-webgpu/core.ts counts the same way). */
function storageBytes(locals: readonly { size: number }[]): number { return locals.reduce((s, a) => s + 4 * a.size, 0); }

interface ConvCase { c: number; o: number; h: number; w: number; k: number; stride?: number; pad?: number; dil?: number; groups?: number; n?: number }

const CASES: ConvCase[] = [
  { c: 3, o: 8, h: 19, w: 21, k: 7, stride: 2, pad: 3 },   // the stem's 7×7: its tap tables are what overflow 16 KiB
  { c: 16, o: 24, h: 10, w: 12, k: 3, pad: 1 },
  { c: 12, o: 20, h: 9, w: 7, k: 1 },
  { c: 8, o: 8, h: 11, w: 13, k: 3, stride: 2, pad: 2, dil: 2, groups: 2, n: 2 },
  { c: 40, o: 70, h: 5, w: 5, k: 3, pad: 1 },               // K = 360 walks several chunks
];

function convGraph(cs: ConvCase): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', [cs.n ?? 1, cs.c, cs.h, cs.w]);
  const wt = t.param('w', [cs.o, cs.c / (cs.groups ?? 1), cs.k, cs.k]);
  const b = t.param('b', [cs.o]);
  const y = t.op('conv2d', [x, wt, b], { stride: [cs.stride ?? 1], padding: [cs.pad ?? 0], dilation: [cs.dil ?? 1], groups: cs.groups ?? 1 });
  t.output('y', t.op('relu', [y]));
  return t;
}

test('webgpu conv kernels stay within 16 KiB and 256 invocations and equal the reference', () => {
  for (const cs of CASES) {
    const t = convGraph(cs);
    const program = compileGraph(t.graph, webgpuTarget(LIMITS), { fuse: true });
    const conv = program.kernels.filter((k) => k.ir.locals.some((a) => a.name === 'panel'));
    assert.ok(conv.length > 0, `case ${JSON.stringify(cs)}: no GEMM kernel`);
    for (const k of program.kernels) {
      assert.ok(storageBytes(k.ir.locals) <= LIMITS.maxWorkgroupStorageBytes, `${k.name}: ${storageBytes(k.ir.locals)} bytes`);
      assert.ok(k.workgroupSize <= LIMITS.maxInvocations, `${k.name}: ${k.workgroupSize} threads`);
    }
    const got = runProgram(program, t.graph, t.inputs, t.params).y;
    const msg = compare(got, referenceRun(t).y, 1e-4, 1e-4);
    assert.is(msg, '', `case ${JSON.stringify(cs)}: ${msg}`);
  }
});

test('webgpu matmul tiles are GPU-shaped and correct', () => {
  const t = new TestGraph();
  const a = t.input('a', [2, 37, 70]), b = t.input('b', [2, 70, 45]);
  t.output('y', t.op('matmul', [a, b]));
  const program = compileGraph(t.graph, webgpuTarget(LIMITS));
  const k = program.kernels[0];
  assert.ok(k.workgroupSize >= 64 && k.workgroupSize <= 256, `${k.workgroupSize} threads`);
  assert.ok(storageBytes(k.ir.locals) <= LIMITS.maxWorkgroupStorageBytes);
  assert.is(compare(runProgram(program, t.graph, t.inputs, t.params).y, referenceRun(t).y), '');
});

test('webgpu conv gradients (7x7 taps, stride 2, groups) fit and equal the reference', () => {
  const t = new TestGraph();
  const conv = { stride: [2], padding: [3], dilation: [1], groups: 2 };
  const g = t.input('g', [2, 6, 5, 4]);
  t.output('dx', t.op('conv2d_grad_input', [g, t.param('w', [6, 2, 7, 7])], { ...conv, size: [9, 8] }));
  t.output('dw', t.op('conv2d_grad_weight', [t.input('x', [2, 4, 9, 8]), g], { ...conv, kernel: [7, 7] }));
  const program = compileGraph(t.graph, webgpuTarget(LIMITS));
  for (const k of program.kernels) {
    assert.ok(storageBytes(k.ir.locals) <= LIMITS.maxWorkgroupStorageBytes && k.workgroupSize <= LIMITS.maxInvocations, k.name);
  }
  const got = runProgram(program, t.graph, t.inputs, t.params), want = referenceRun(t);
  for (const name of ['dx', 'dw']) assert.is(compare(got[name], want[name], 1e-4, 1e-4), '', name);
});

test('tile choice per target', () => {
  const s = { problems: 1, M: 256, N: 6400, K: 576 };
  const cpu = chooseTile(s, [], CPU);
  assert.equal([cpu.TM, cpu.TNT, cpu.WGN], [6, 64, 1]);
  const gpu = chooseTile(s, [], webgpuTarget(LIMITS));
  assert.ok(gpu.WGM * gpu.WGN === 256 && gpu.TM * gpu.TNT === 16, JSON.stringify(gpu));
  // A tight limit shrinks the K chunk, then the strip, never past the limit.
  const table = { size: (tn: number) => 49 * tn, arrays: [{ name: 'koff', t: 'i64' as const }, { name: 'kok', t: 'bool' as const }], values: () => [] };
  for (const bytes of [16384, 8192, 4096]) {
    const tile = chooseTile(s, [table], webgpuTarget({ maxWorkgroupStorageBytes: bytes, maxInvocations: 256 }));
    assert.ok(tileStorageBytes('webgpu', tile, [table]) <= bytes, `${bytes}: ${JSON.stringify(tile)}`);
  }
  assert.throws(() => chooseTile(s, [table], webgpuTarget({ maxWorkgroupStorageBytes: 256, maxInvocations: 256 })), /no tile fits 256 bytes/);
});

test('the default target keeps the CPU tiles', () => {
  const t = convGraph(CASES[1]);
  const k = compileGraph(t.graph, CPU, { fuse: true }).kernels.find((x) => x.ir.locals.some((a) => a.name === 'panel'))!;
  assert.ok(k.ir.regs.some((r) => r.name === 'acc' && r.size === 6 * 64));
});

test.run();
