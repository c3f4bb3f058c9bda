// 1×1 convolutions on small maps as the transposed GEMM on the CPU
// (compiler/ops/conv-transposed.kernel.ts): output channels across the
// vector lanes, the weights laid out as the GEMM's panels once by the
// program's prologue.
// Checked on the CPU runtime and the bounds-checked kernel-IR interpreter
// against the reference: stride 1 and 2, a bias, a batch, groups, odd maps,
// partial channel strips, a fused residual add and ReLU, every ISA profile;
// and where the usual tiling stays (large maps, few channels, in-place updates).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../compiler/program.js';
import { CPU, cpuIsaProfile, cpuTarget } from '../../compiler/target.js';
import { TestGraph } from '../compiler/kernel/graphs.js';
import { checkCpuAndInterpreter } from './cpu-and-interpreter.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-conv-transposed-test-'));

interface Case { name: string; x: number[]; o: number; stride: number; groups: number; bias: boolean; residual: boolean }

const CASES: Case[] = [
  { name: '512 -> 64 on 10 x 10, bias', x: [1, 512, 10, 10], o: 64, stride: 1, groups: 1, bias: true, residual: false },
  { name: 'odd map 5 x 7, batch 2, residual add', x: [2, 512, 5, 7], o: 32, stride: 1, groups: 1, bias: false, residual: true },
  { name: 'stride 2 from 9 x 11', x: [1, 528, 9, 11], o: 64, stride: 2, groups: 1, bias: true, residual: false },
  { name: 'two groups', x: [1, 1024, 6, 6], o: 64, stride: 1, groups: 2, bias: true, residual: true },
  { name: '112 channels: a partial strip of panels', x: [1, 512, 10, 10], o: 112, stride: 1, groups: 1, bias: false, residual: true },
];

function graphOf(c: Case): TestGraph {
  const t = new TestGraph();
  const inputs = [t.input('x', c.x), t.param('w', [c.o, c.x[1] / c.groups, 1, 1])];
  if (c.bias) inputs.push(t.param('b', [c.o]));
  let y = t.op('conv2d', inputs, { stride: [c.stride], padding: [0], dilation: [1], groups: c.groups });
  if (c.residual) y = t.op('add', [y, t.input('r', t.type(y).shape.map(Number))]);
  t.output('y', t.op('relu', [y]));
  return t;
}

for (const isa of ['avx512', 'avx2', 'generic'] as const) {
  test(`${isa} profile: transposed 1×1 convolutions equal the reference (CPU runtime and interpreter)`, async () => {
    const target = cpuTarget(cpuIsaProfile(isa));
    for (const c of CASES) {
      const program = compileGraph(graphOf(c).graph, target);
      assert.is(program.launches.length, 2, `${c.name}: the weights' panels and the GEMM`);
      assert.is(program.prologue, 1, `${c.name}: the panels read the params alone`);
      await checkCpuAndInterpreter(graphOf(c), program, 1e-4, 1e-4, `${isa} ${c.name}`);
    }
  });
}

test('the usual tiling stays where the transposed one does not pay or needs a transpose per run', () => {
  const launches = (c: Case): number => compileGraph(graphOf(c).graph, CPU).launches.length;
  assert.is(launches({ name: 'large map', x: [1, 512, 32, 32], o: 64, stride: 1, groups: 1, bias: false, residual: false }), 1);
  assert.is(launches({ name: 'few input channels', x: [1, 256, 10, 10], o: 64, stride: 1, groups: 1, bias: false, residual: false }), 1);
  // A program updating its params in place has no prologue: the transpose would run every step.
  const t = graphOf(CASES[0]);
  const w = t.graph.params.find((p) => p.name === 'w')!.value;
  t.graph.updates = [{ param: 'w', value: t.op('mul', [w, t.constant(0.5)]) }];
  const p = compileGraph(t.graph, CPU);
  assert.is(p.prologue, undefined);
  assert.is(p.launches.filter((l) => p.kernels[l.kernel].name.includes('conv2d')).length, 1, 'one direct convolution launch');
});

test.run();
