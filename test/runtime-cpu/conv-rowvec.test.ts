// Convolutions on very small maps in the CPU GEMM's row-vector tiling
// (schedule/gemm.ts rowVectorTile, ops/conv-transposed.kernel.ts
// rowVectorsPay): output channels across the vector lanes, pixels broadcast
// from the usual packed panel, the weights transposed once by the prologue.
// Checked on the CPU runtime and the bounds-checked kernel-IR interpreter
// against the reference on every ISA profile: 3×3 with padding on 3 × 3,
// 5 × 5 and odd maps, stride 2, a batch, two groups, 1×1, a bias and a
// fused residual add + ReLU; and where the usual tiling stays.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../compiler/program.js';
import { CPU, cpuIsaProfile, cpuTarget } from '../../compiler/target.js';
import { TestGraph } from '../compiler/kernel/graphs.js';
import { checkCpuAndInterpreter } from './cpu-and-interpreter.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-conv-rowvec-test-'));

interface Case { name: string; x: number[]; o: number; k: number; stride: number; padding: number; groups: number; bias: boolean; residual: boolean }

const CASES: Case[] = [
  { name: '3×3 on 3 × 3, bias', x: [1, 32, 3, 3], o: 64, k: 3, stride: 1, padding: 1, groups: 1, bias: true, residual: false },
  { name: '3×3 on 5 × 4, batch 2, residual add', x: [2, 24, 5, 4], o: 64, k: 3, stride: 1, padding: 1, groups: 1, bias: false, residual: true },
  { name: '3×3 stride 2 from 9 × 7', x: [1, 16, 9, 7], o: 128, k: 3, stride: 2, padding: 1, groups: 1, bias: true, residual: false },
  { name: '3×3 without padding, two groups', x: [1, 32, 6, 5], o: 128, k: 3, stride: 1, padding: 0, groups: 2, bias: true, residual: true },
  { name: '1×1 on 4 × 5', x: [1, 40, 4, 5], o: 64, k: 1, stride: 1, padding: 0, groups: 1, bias: false, residual: false },
];

function graphOf(c: Case): TestGraph {
  const t = new TestGraph();
  const inputs = [t.input('x', c.x), t.param('w', [c.o, c.x[1] / c.groups, c.k, c.k])];
  if (c.bias) inputs.push(t.param('b', [c.o]));
  let y = t.op('conv2d', inputs, { stride: [c.stride], padding: [c.padding], dilation: [1], groups: c.groups });
  if (c.residual) y = t.op('add', [y, t.input('r', t.type(y).shape.map(Number))]);
  t.output('y', t.op('relu', [y]));
  return t;
}

for (const isa of ['avx512', 'avx2', 'generic'] as const) {
  test(`${isa} profile: convolutions on small maps in the row-vector tiling equal the reference (CPU runtime and interpreter)`, async () => {
    const target = cpuTarget(cpuIsaProfile(isa));
    for (const c of CASES) {
      const program = compileGraph(graphOf(c).graph, target);
      const rowVector = program.launches.length === 2 && program.prologue === 1;
      if (isa === 'avx512') assert.ok(rowVector, `${c.name}: the weights' transpose in the prologue and the GEMM`);
      await checkCpuAndInterpreter(graphOf(c), program, 1e-4, 1e-4, `${isa} ${c.name}${rowVector ? ' (row vectors)' : ''}`);
    }
  });
}

test('the usual tiling stays on wider maps, for channels that are not whole register tiles, and with in-place updates', () => {
  const launches = (c: Case): number => compileGraph(graphOf(c).graph, CPU).launches.length;
  assert.is(launches({ ...CASES[0], name: '10 × 10', x: [1, 32, 10, 10] }), 1);
  assert.is(launches({ ...CASES[0], name: '48 output channels', o: 48 }), 1);
  const t = graphOf(CASES[0]);
  const w = t.graph.params.find((p) => p.name === 'w')!.value;
  t.graph.updates = [{ param: 'w', value: t.op('mul', [w, t.constant(0.5)]) }];
  assert.is(compileGraph(t.graph, CPU).prologue, undefined);
  assert.is(compileGraph(t.graph, CPU).launches.filter((l) => l.grid > 0).length, 2, 'the direct convolution and the update');
});

test.run();
