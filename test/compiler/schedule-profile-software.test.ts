// The software-adapter profile (Target.software: SwiftShader): conv and
// matmul become barrier-free register-tile kernels (gemm-direct.ts) that use
// no workgroup memory and still compute the reference result (kernel-IR
// interpreter); the input gradient keeps the tiled form; a hardware WebGPU
// profile is unchanged by the flag's existence.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { chooseDirectTile } from '../../compiler/schedule/gemm-direct.js';
import { hasBarrier } from '../../compiler/kernel/ir.js';
import { TestGraph, compare, referenceRun } from './kernel/graphs.js';
import { runProgram } from '../../compiler/kernel/run-program.js';
import { CPU, cpuTarget, webgpuTarget } from '../../compiler/target.js';

const SOFTWARE = { maxWorkgroupStorageBytes: 32768, maxInvocations: 256, software: true };
const HARDWARE = { maxWorkgroupStorageBytes: 32768, maxInvocations: 256 };

interface ConvCase { c: number; o: number; h: number; w: number; k: number; stride?: number; pad?: number; dil?: number; groups?: number; n?: number }

const CASES: ConvCase[] = [
  { c: 3, o: 8, h: 19, w: 21, k: 7, stride: 2, pad: 3 },   // 7×7 stem: a loop over (channel, tap row)
  { c: 16, o: 24, h: 10, w: 12, k: 3, pad: 1 },             // 12-wide rows: one tile per row
  { c: 12, o: 20, h: 9, w: 7, k: 1 },                       // 1×1; 20 rows: a partial row block
  { c: 8, o: 8, h: 11, w: 13, k: 3, stride: 2, pad: 2, dil: 2, groups: 2, n: 2 },
  { c: 5, o: 9, h: 6, w: 37, k: 3, pad: 1 },                // 37-wide rows: three 13-wide tiles, the last partial
  { c: 6, o: 8, h: 8, w: 8, k: 1, stride: 2 },              // strided 1×1 (a ResNet downsample)
];

function convGraph(cs: ConvCase, residual = false): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', [cs.n ?? 1, cs.c, cs.h, cs.w]);
  const wt = t.param('w', [cs.o, cs.c / (cs.groups ?? 1), cs.k, cs.k]);
  const b = t.param('b', [cs.o]);
  const y = t.op('conv2d', [x, wt, b], { stride: [cs.stride ?? 1], padding: [cs.pad ?? 0], dilation: [cs.dil ?? 1], groups: cs.groups ?? 1 });
  t.output('y', t.op('relu', residual ? [t.op('add', [y, y])] : [y]));
  return t;
}

function gemmKernels(program: ReturnType<typeof compileGraph>): ReturnType<typeof compileGraph>['kernels'] {
  return program.kernels.filter((k) => /conv2d|matmul/.test(k.name));
}

test('software conv kernels have no workgroup memory or barrier and equal the reference', () => {
  for (const cs of CASES) {
    const t = convGraph(cs);
    const program = compileGraph(t.graph, webgpuTarget(SOFTWARE), { fuse: true });
    const conv = gemmKernels(program);
    assert.ok(conv.length > 0, `case ${JSON.stringify(cs)}: no conv kernel`);
    for (const k of conv) {
      assert.is(k.ir.locals.length, 0, `${k.name}: workgroup memory ${k.ir.locals.map((a) => a.name).join(', ')}`);
      assert.not.ok(hasBarrier(k.ir.body), `${k.name}: barrier`);
      assert.ok(k.workgroupSize <= SOFTWARE.maxInvocations, `${k.name}: ${k.workgroupSize} threads`);
    }
    const msg = compare(runProgram(program, t.graph, t.inputs, t.params).y, referenceRun(t).y, 1e-4, 1e-4);
    assert.is(msg, '', `case ${JSON.stringify(cs)}: ${msg}`);
  }
});

test('a GEMM past the small size unrolls the whole 3×3 window per channel and equals the reference', () => {
  // 48 × 320 × 576 multiply-adds: over SMALL_MACS; 20-wide rows: two 10-wide tiles.
  const t = convGraph({ c: 64, o: 48, h: 16, w: 20, k: 3, pad: 1 });
  const program = compileGraph(t.graph, webgpuTarget(SOFTWARE), { fuse: true });
  const [k] = gemmKernels(program);
  assert.ok(k.ir.body.length > 0 && JSON.stringify(k.ir.body).includes('"x_2_'), 'three tap rows per step');
  assert.is(compare(runProgram(program, t.graph, t.inputs, t.params).y, referenceRun(t).y, 1e-4, 1e-4), '');
});

test('a fused epilogue (bias, add, relu) runs on the register tile', () => {
  const t = convGraph(CASES[1], true);
  const program = compileGraph(t.graph, webgpuTarget(SOFTWARE), { fuse: true });
  assert.is(program.launches.length, 1);
  assert.is(compare(runProgram(program, t.graph, t.inputs, t.params).y, referenceRun(t).y), '');
});

test('software matmul (batch broadcast, ragged M and N) equals the reference', () => {
  const t = new TestGraph();
  const a = t.input('a', [2, 19, 30]), b = t.input('b', [1, 30, 21]);
  t.output('y', t.op('matmul', [a, b]));
  const program = compileGraph(t.graph, webgpuTarget(SOFTWARE));
  const [k] = gemmKernels(program);
  assert.is(k.ir.locals.length, 0);
  assert.is(compare(runProgram(program, t.graph, t.inputs, t.params).y, referenceRun(t).y), '');
});

test('software conv gradients: the weight gradient in registers, the input gradient tiled; both equal the reference', () => {
  for (const conv of [{ stride: [2], padding: [1], dilation: [1], groups: 1 }, { stride: [1], padding: [2], dilation: [2], groups: 2 }]) {
    const t = new TestGraph();
    const g = t.input('g', [2, 4, 4, 4]);
    const size = conv.stride[0] === 2 ? 8 : 4;
    t.output('dx', t.op('conv2d_grad_input', [g, t.param('w', [4, 6 / conv.groups, 3, 3])], { ...conv, size: [size, size] }));
    t.output('dw', t.op('conv2d_grad_weight', [t.input('x', [2, 6, size, size]), g], { ...conv, kernel: [3, 3] }));
    const program = compileGraph(t.graph, webgpuTarget(SOFTWARE));
    const local = (name: string): number => program.kernels.find((k) => k.name.includes(name))!.ir.locals.length;
    assert.ok(local('grad_input') > 0, 'input gradient: tiled');
    assert.is(local('grad_weight'), 0, 'weight gradient: no workgroup memory');
    const got = runProgram(program, t.graph, t.inputs, t.params), want = referenceRun(t);
    for (const name of ['dx', 'dw']) assert.is(compare(got[name], want[name], 1e-4, 1e-4), '', `${JSON.stringify(conv)} ${name}`);
  }
});

test('1×1 conv gradients (per-column input-gradient tables read at a let-bound offset): tiled input gradient, both equal the reference', () => {
  // A DeFCN training step on SwiftShader once failed to compile here: the
  // direct schedule took the 1×1 input gradient's tables for register ones.
  for (const stride of [1, 2]) {
    const t = new TestGraph();
    const size = 6 * stride;
    const g = t.input('g', [1, 8, 6, 6]);
    const conv = { stride: [stride], padding: [0], dilation: [1], groups: 1 };
    t.output('dx', t.op('conv2d_grad_input', [g, t.param('w', [8, 5, 1, 1])], { ...conv, size: [size, size] }));
    t.output('dw', t.op('conv2d_grad_weight', [t.input('x', [1, 5, size, size]), g], { ...conv, kernel: [1, 1] }));
    const program = compileGraph(t.graph, webgpuTarget(SOFTWARE));
    const got = runProgram(program, t.graph, t.inputs, t.params), want = referenceRun(t);
    for (const name of ['dx', 'dw']) assert.is(compare(got[name], want[name], 1e-4, 1e-4), '', `stride ${stride} ${name}`);
  }
});

test('without the flag WebGPU keeps the tiled schedule', () => {
  const t = convGraph(CASES[1]);
  const hw = compileGraph(t.graph, webgpuTarget(HARDWARE));
  assert.ok(gemmKernels(hw).every((k) => k.ir.locals.some((a) => a.name === 'panel') && hasBarrier(k.ir.body)));
  // The flag means nothing to the CPU profile.
  const cpu = compileGraph(t.graph, CPU), cpuSw = compileGraph(t.graph, cpuTarget({ software: true }));
  assert.equal(cpuSw.kernels.map((k) => k.hash), cpu.kernels.map((k) => k.hash));
});

test('direct tiles: 8 × 16 on wide rows, equal tiles on ragged rows, bounded unrolling for wide windows, workgroups to spread', () => {
  const conv = (OW: number, KW: number) => ({ x: 0, w: 1, C: 64, H: 32, W: OW, OH: 32, OW, KH: KW, KW, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1 });
  // 512 invocations: 32 workgroups of 16; a large GEMM keeps 64.
  assert.equal(chooseDirectTile({ problems: 1, M: 64, N: 1024, K: 576 }, conv(32, 3), 256), { TM: 8, TN: 16, WG: 16, allRows: true });
  assert.is(chooseDirectTile({ problems: 4, M: 256, N: 4096, K: 576 }, { ...conv(64, 3), H: 64, OH: 64 }, 256).WG, 64);
  assert.is(chooseDirectTile({ problems: 1, M: 64, N: 1024, K: 576 }, conv(32, 3), 32).WG, 16);
  assert.is(chooseDirectTile({ problems: 1, M: 64, N: 1024, K: 576 }, conv(32, 3), 4).WG, 4);
  assert.equal(chooseDirectTile({ problems: 1, M: 64, N: 1024, K: 576 }, conv(25, 3), 256).TN, 13);
  assert.equal(chooseDirectTile({ problems: 1, M: 64, N: 1024, K: 576 }, conv(25, 7), 256).allRows, false);
  // A small GEMM: a narrower tile, one tap row per step (SwiftShader builds it faster than the unrolled window).
  assert.equal(chooseDirectTile({ problems: 1, M: 3, N: 40, K: 5 }, undefined, 32), { TM: 3, TN: 8, WG: 8, allRows: false });
  assert.equal(chooseDirectTile({ problems: 1, M: 16, N: 256, K: 144 }, { ...conv(16, 3), C: 16, H: 16, OH: 16 }, 256), { TM: 8, TN: 8, WG: 8, allRows: false });
  const wide = chooseDirectTile({ problems: 1, M: 64, N: 1024, K: 49 * 3 }, conv(32, 7), 256);
  assert.ok(wide.TM * wide.TN * 7 <= 1152, JSON.stringify(wide));
});

test.run();
