// The CPU convolution's panel packing by runs (compiler/ops/conv-packing.kernel.ts):
// a table per (tap, run of vector-width output columns) says whether the
// run is a strided copy of one input row; other runs (image edges, runs
// across output rows, every run of a map narrower than the vector) are
// packed column by column from a per-column table. Checked on the CPU
// runtime and on the bounds-checked kernel-IR interpreter against the
// reference, for the cases each path serves: a 7×7 stride-2 stem, 1×1 and
// 3×3 at stride 2, dilation with groups, 10×10 and 5×5 maps, each profile's
// run width. Also the tables' sizes (no per-(tap, column) offsets left on
// the CPU; GPUs keep theirs) and the CPU tile's row blocks (equal, and at
// least four workgroups where the rows allow).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../compiler/program.js';
import { chooseTile } from '../../compiler/schedule/gemm.js';
import { CPU, type CpuIsa, cpuIsaProfile, cpuTarget, webgpuTarget } from '../../compiler/target.js';
import { TestGraph } from '../compiler/kernel/graphs.js';
import { checkCpuAndInterpreter } from './cpu-and-interpreter.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-conv-runs-test-'));

interface Case { name: string; x: number[]; w: number[]; stride: number; padding: number; dilation: number; groups: number }

const CASES: Case[] = [
  // Stem-like: 7×7, stride 2, padding 3 on an odd size (runs of 16 output columns read 32 input columns every other one).
  { name: 'stem7s2', x: [1, 3, 45, 71], w: [10, 3, 7, 7], stride: 2, padding: 3, dilation: 1, groups: 1 },
  // Downsampling 1×1 at stride 2: runs without a tap shift, strided.
  { name: 'down1s2', x: [2, 8, 21, 67], w: [13, 8, 1, 1], stride: 2, padding: 0, dilation: 1, groups: 1 },
  // 3×3 stride 2 on a 40-wide map (some runs inside a row, some across its end).
  { name: 'c3s2', x: [1, 6, 23, 40], w: [14, 6, 3, 3], stride: 2, padding: 1, dilation: 1, groups: 1 },
  // 10×10 and 5×5 maps: every 16-column run crosses output rows.
  { name: 'c3map10', x: [1, 16, 10, 10], w: [20, 16, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1 },
  { name: 'c3map5', x: [2, 9, 5, 5], w: [7, 9, 3, 3], stride: 1, padding: 1, dilation: 1, groups: 1 },
  // Dilation 2 with groups, wide rows: runs shifted by ±2 columns.
  { name: 'dil2g3', x: [1, 6, 9, 50], w: [9, 2, 3, 3], stride: 1, padding: 2, dilation: 2, groups: 3 },
];

function graphOf(c: Case): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', c.x);
  const conv = t.op('conv2d', [x, t.param('w', c.w), t.param('b', [c.w[0]])], { stride: [c.stride], padding: [c.padding], dilation: [c.dilation], groups: c.groups });
  t.output('y', t.op('relu', [conv]));
  return t;
}

for (const isa of ['avx512', 'avx2', 'generic'] as CpuIsa[]) {
  test(`${isa} profile: convolutions packed by runs equal the reference`, async () => {
    const target = cpuTarget(cpuIsaProfile(isa));
    for (const c of CASES) await checkCpuAndInterpreter(graphOf(c), compileGraph(graphOf(c).graph, target), 1e-4, 1e-4, `${isa} ${c.name}`);
  });
}

test('CPU conv tables: one entry per (tap, run) and per column, no per-(tap, column) offsets; GPUs keep theirs', () => {
  const stem = CASES[0];
  const conv = (target: Parameters<typeof compileGraph>[1]) => compileGraph(graphOf(stem).graph, target).kernels.find((k) => k.ir.locals.some((a) => a.name === 'panel'))!;
  const cpu = conv(CPU);
  const size = (name: string): number | undefined => cpu.ir.locals.find((a) => a.name === name)?.size;
  const TN = 64, runs = TN / CPU.vectorWidth;
  assert.is(size('kbase'), 49 * runs, '7×7 taps × runs of the strip');
  assert.is(size('kcont'), 49 * runs);
  assert.is(size('colh'), TN);
  assert.is(size('colw'), TN);
  assert.is(size('koff'), undefined, 'no per-(tap, column) table on the CPU');
  const gpu = conv(webgpuTarget({ maxWorkgroupStorageBytes: 32768, maxInvocations: 256 }));
  assert.ok(gpu.ir.locals.some((a) => a.name === 'koff'), 'a GPU keeps its per-(tap, column) offsets');
});

test('CPU tile: equal row blocks, and at least four workgroups where the rows allow', () => {
  const grid = (t: ReturnType<typeof chooseTile>, M: number, N: number): number => Math.ceil(M / t.MB) * Math.ceil(N / t.TN);
  // 512 rows = 86 tiles of 6: two blocks of 43 tiles (not 64 + 22).
  const wide = chooseTile({ problems: 1, M: 512, N: 100, K: 4608 }, [], CPU);
  assert.is(wide.MB, 43 * 6);
  assert.is(grid(wide, 512, 100), 4);
  // A 5×5 map (two strips of 16 columns): rows split so the threads get four workgroups, not two.
  const p6 = chooseTile({ problems: 1, M: 256, N: 25, K: 2304 }, [], CPU);
  assert.is(p6.TN, 16);
  assert.ok(grid(p6, 256, 25) >= 4, JSON.stringify(p6));
  // Large grids keep whole-M workgroups (up to 64 tiles): packing once per strip.
  const big = chooseTile({ problems: 1, M: 256, N: 6400, K: 576 }, [], CPU);
  assert.is(big.MB, 43 * 6);
});

test.run();
