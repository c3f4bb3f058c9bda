// 3×3 stride-1 convolutions by Winograd F(2×2, 3×3) on the CPU
// (compiler/ops/conv-winograd.kernel.ts): four launches sharing three
// workspaces. Checked on the CPU runtime and on the bounds-checked kernel-IR
// interpreter against the reference on a target that takes the path from 3
// channels and 1 tile: odd output sizes (partial tiles), padding 0 and 1, a
// batch, rows wide enough for the input transform's vector loop, a bias and
// a fused epilogue (residual add, ReLU). Also when the default CPU target
// takes it (both channel counts and the map large) and when not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../compiler/program.js';
import { CPU, cpuIsaProfile, cpuTarget, webgpuTarget } from '../../compiler/target.js';
import { TestGraph } from '../compiler/kernel/graphs.js';
import { checkCpuAndInterpreter } from './cpu-and-interpreter.js';
import { transposingSaves } from '../../compiler/ops/conv-transposed.kernel.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-winograd-test-'));

interface Case { name: string; x: number[]; o: number; padding: number; bias: boolean; residual: boolean }

const CASES: Case[] = [
  { name: 'even map, padding 1, bias', x: [1, 8, 12, 14], o: 6, padding: 1, bias: true, residual: false },
  { name: 'odd output (partial tiles), batch 2', x: [2, 5, 9, 11], o: 7, padding: 1, bias: true, residual: false },
  { name: 'padding 0', x: [1, 6, 10, 13], o: 5, padding: 0, bias: false, residual: false },
  // 70 columns: tiles 1..33 have their whole patch inside, two vector steps of 16 and scalar ends.
  { name: 'wide rows (vector input transform), residual add', x: [1, 4, 7, 70], o: 4, padding: 1, bias: true, residual: true },
  { name: 'wide odd rows, padding 0, residual add', x: [2, 3, 6, 75], o: 5, padding: 0, bias: false, residual: true },
  // 65 tiles a row: the input transform takes a workgroup per tile row instead of per plane.
  { name: 'rows of 65 tiles, batch 2', x: [2, 3, 5, 130], o: 4, padding: 1, bias: true, residual: true },
  // 32 × 32 filters: the filter transform's vector loop (a multiple of 64 × 16 filters).
  { name: '32 -> 32 channels (vector filter transform)', x: [1, 32, 8, 40], o: 32, padding: 1, bias: true, residual: false },
  // Tile GEMMs transposed (tiles as rows, U read as panels): 25 tiles pad to 30 rows instead of 32 columns.
  { name: '16 -> 32 channels on 10 × 10 (transposed tile GEMMs), residual add', x: [1, 16, 10, 10], o: 32, padding: 1, bias: false, residual: true },
  { name: '24 -> 64 channels, 30 tiles of 9 × 11, batch 2 (transposed tile GEMMs)', x: [2, 24, 9, 11], o: 64, padding: 1, bias: true, residual: false },
];

function graphOf(c: Case): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', c.x);
  const inputs = [x, t.param('w', [c.o, c.x[1], 3, 3])];
  if (c.bias) inputs.push(t.param('b', [c.o]));
  let y = t.op('conv2d', inputs, { stride: [1], padding: [c.padding], dilation: [1], groups: 1 });
  if (c.residual) {
    const [n, , h, w] = c.x;
    y = t.op('add', [y, t.input('r', [n, c.o, h - 2 + 2 * c.padding, w - 2 + 2 * c.padding])]);
  }
  t.output('y', t.op('relu', [y]));
  return t;
}

const SMALL = { winograd: [{ tiles: 1, channels: 3 }] };

for (const isa of ['avx512', 'avx2', 'generic'] as const) {
  test(`${isa} profile: Winograd convolutions equal the reference (CPU runtime and interpreter)`, async () => {
    const target = cpuTarget({ ...cpuIsaProfile(isa), ...SMALL });
    for (const c of CASES) {
      const program = compileGraph(graphOf(c).graph, target);
      assert.is(program.launches.length, 4, `${c.name}: filter, input, GEMM and output launches`);
      if (c.name.includes('transposed')) {
        const [, ch, h, w] = c.x;
        const tiles = Math.ceil((h - 2 + 2 * c.padding) / 2) * Math.ceil((w - 2 + 2 * c.padding) / 2);
        assert.ok(transposingSaves({ M: c.o, N: tiles, K: ch }, target), `${c.name}: the transposed tiling pays`);
      }
      await checkCpuAndInterpreter(graphOf(c), program, 2e-4, 2e-4, `${isa} ${c.name}`);
    }
  });
}

test('fewer channels or tiles than the target asks: the direct convolution (one launch)', () => {
  const c = CASES[1];
  // 5 -> 7 channels, 5 × 6 tiles.
  const launches = (winograd: { tiles: number; channels: number }[]): number => compileGraph(graphOf(c).graph, cpuTarget({ winograd })).launches.length;
  assert.is(launches([{ tiles: 1, channels: 6 }]), 1, 'channels below the threshold');
  assert.is(launches([{ tiles: 31, channels: 3 }]), 1, 'tiles below the threshold');
  assert.is(launches([{ tiles: 30, channels: 5 }]), 4, 'at the threshold');
  assert.is(launches([{ tiles: 31, channels: 3 }, { tiles: 1, channels: 5 }]), 4, 'either entry');
  assert.is(compileGraph(graphOf(c).graph, webgpuTarget()).launches.length, 1, 'GPUs never take it');
});

test('the default CPU target: 256 channels from 10 × 10 maps by Winograd, 128 from 40 × 40, 64 from 80 × 80; the workspaces live across the four launches', () => {
  const conv = (hw: number, ch = 256): TestGraph => {
    const t = new TestGraph();
    t.output('y', t.op('conv2d', [t.input('x', [1, ch, hw, hw]), t.param('w', [ch, ch, 3, 3])], { stride: [1], padding: [1], dilation: [1], groups: 1 }));
    return t;
  };
  const big = compileGraph(conv(40).graph, CPU);
  assert.is(big.launches.length, 4);
  // U, V and the products are temps bound by the launches that use them, each the same buffer throughout.
  const u = big.launches[0].buffers.at(-1)!, v = big.launches[1].buffers.at(-1)!;
  assert.equal(big.launches[2].buffers.slice(0, 2), [u, v], 'the GEMM reads the two transforms');
  assert.is(big.launches[3].buffers.at(-1), big.launches[2].buffers[2], 'the output transform reads the products');
  // 16 blocks of 256 × 20 × 20 values, each one cache line past a multiple of 4 KiB from the next.
  assert.is(big.buffers[v].bytes, 4 * 16 * (256 * 20 * 20 + 16));
  assert.is(big.prologue, 1, 'the filter transform reads the weights alone');
  assert.is(big.report!.launches.reduce((n, l) => n + l.flops, 0), big.report!.launches[2].flops, 'the convolution\'s work is reported once, on the GEMM');
  assert.is(compileGraph(conv(20).graph, CPU).launches.length, 4);
  assert.is(compileGraph(conv(10).graph, CPU).launches.length, 4);
  assert.is(compileGraph(conv(8).graph, CPU).launches.length, 1, '16 tiles');
  assert.is(compileGraph(conv(40, 128).graph, CPU).launches.length, 4);
  assert.is(compileGraph(conv(20, 128).graph, CPU).launches.length, 1);
  assert.is(compileGraph(conv(80, 64).graph, CPU).launches.length, 4);
  assert.is(compileGraph(conv(40, 64).graph, CPU).launches.length, 1);
  // A training step updates its weights every run: the filter transform is paid per run, so small maps stay direct.
  const step = conv(20);
  const w = step.graph.params[0].value;
  step.graph.updates = [{ param: 'w', value: step.op('mul', [w, step.constant(0.5)]) }];
  assert.is(compileGraph(step.graph, CPU).launches.filter((l) => l.grid > 0).length, 2, 'the direct convolution and the update');
});

test.run();
