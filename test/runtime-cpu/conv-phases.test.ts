// Strided CPU convolutions on their input's phases (compiler/ops/conv-phases.kernel.ts):
// where the input is s times the output on each side, a launch splits it into
// s × s phase planes of the output's size and the GEMM packs masked contiguous
// runs from them. Checked on the CPU runtime and on the bounds-checked kernel-IR
// interpreter against the reference: 3×3 and 5×5 at stride 2 (all four phases),
// 1×1 at stride 2 without padding (phase (0, 0) only), stride 3, groups, batch 2,
// each ISA profile's run width; and which convolutions take the path (most
// runs of the strided packing would cross output row ends).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../compiler/program.js';
import { type CpuIsa, cpuIsaProfile, cpuTarget, webgpuTarget } from '../../compiler/target.js';
import { crossingShare } from '../../compiler/ops/conv-phases.kernel.js';
import { TestGraph } from '../compiler/kernel/graphs.js';
import { checkCpuAndInterpreter } from './cpu-and-interpreter.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-conv-phases-test-'));

interface Case { name: string; x: number[]; w: number[]; stride: number; padding: number; groups: number }

const CASES: Case[] = [
  // 20 × 20 -> 10 × 10: every run of 16 output columns crosses a row end.
  { name: '3x3s2map10', x: [2, 6, 20, 20], w: [14, 6, 3, 3], stride: 2, padding: 1, groups: 1 },
  { name: '3x3s2wide', x: [1, 5, 12, 40], w: [8, 5, 3, 3], stride: 2, padding: 1, groups: 1 },
  { name: '5x5s2groups', x: [1, 8, 14, 18], w: [6, 4, 5, 5], stride: 2, padding: 2, groups: 2 },
  { name: '1x1s2', x: [2, 7, 20, 12], w: [9, 7, 1, 1], stride: 2, padding: 0, groups: 1 },
  { name: '3x3s3', x: [1, 4, 15, 21], w: [5, 4, 3, 3], stride: 3, padding: 1, groups: 1 },
];

function graphOf(c: Case): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', c.x);
  const conv = t.op('conv2d', [x, t.param('w', c.w), t.param('b', [c.w[0]])], { stride: [c.stride], padding: [c.padding], groups: c.groups });
  t.output('y', t.op('relu', [conv]));
  return t;
}

/** Launches reading the input x alone and writing a temporary: the phase split (nothing else does on these shapes). */
const phaseLaunches = (c: Case, target = CPU_AVX512): number => {
  const p = compileGraph(graphOf(c).graph, target);
  const roles = (l: (typeof p.launches)[number]): string => l.buffers.map((b) => p.buffers[b].role).join(',');
  return p.launches.filter((l) => roles(l) === 'input,temp').length;
};
const CPU_AVX512 = cpuTarget(cpuIsaProfile('avx512'));

for (const isa of ['avx512', 'avx2', 'generic'] as CpuIsa[]) {
  test(`${isa} profile: strided convolutions on their phases equal the reference`, async () => {
    const target = cpuTarget(cpuIsaProfile(isa));
    for (const c of CASES) await checkCpuAndInterpreter(graphOf(c), compileGraph(graphOf(c).graph, target), 1e-4, 1e-4, `${isa} ${c.name}`);
  });
}

test('which convolutions split their input into phases: CPU, input s times the output, runs crossing row ends', () => {
  for (const c of CASES) assert.is(phaseLaunches(c), 1, c.name);
  // Odd input: the phases are not all the output's size (runPacking instead).
  assert.is(phaseLaunches({ name: 'odd', x: [1, 6, 21, 21], w: [6, 6, 3, 3], stride: 2, padding: 1, groups: 1 }), 0);
  // Output rows a multiple of the run width: the strided packing copies every run inside the image whole.
  assert.is(phaseLaunches({ name: 'w64', x: [1, 6, 8, 64], w: [6, 6, 3, 3], stride: 2, padding: 1, groups: 1 }), 0);
  // 40-column output rows: one run of 16 in five crosses a row end, too few to pay for the split.
  assert.is(phaseLaunches({ name: 'w80', x: [1, 6, 8, 80], w: [6, 6, 3, 3], stride: 2, padding: 1, groups: 1 }), 0);
  // Stride 1 and GPUs: never.
  assert.is(phaseLaunches({ name: 's1', x: [1, 6, 10, 10], w: [6, 6, 3, 3], stride: 1, padding: 1, groups: 1 }), 0);
  assert.is(phaseLaunches(CASES[0], webgpuTarget()), 0);
});

test('crossingShare: runs of 16 over output rows of 10, 20, 40 and 32 columns', () => {
  assert.is(crossingShare(10, 16), 1);
  assert.is(crossingShare(20, 16), 0.6);
  assert.is(crossingShare(40, 16), 0.2);
  assert.is(crossingShare(32, 16), 0);
  assert.is(crossingShare(20, 8), 0.2);
});

test.run();
