// max_pool2d's CPU row kernel (compiler/ops/pool.kernel.ts) against the op's
// reference: kernels 1–5, strides 1–3, every legal padding, odd sizes down to
// one pixel, rows wide enough for the vector loops (strides 1-3), a fused
// producer inlined into the pool, NaNs in the window, a
// batch above 1, and the pool as a producer of another group (the generic
// lowering). Run compiled by the C compiler and on the kernel-IR interpreter;
// the row kernel must be the one chosen on the CPU and never on WebGPU.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../compiler/program.js';
import { CPU, webgpuTarget } from '../../compiler/target.js';
import { tapColumns } from '../../compiler/ops/pool.kernel.js';
import { TestGraph } from '../compiler/kernel/graphs.js';
import { checkCpuAndInterpreter } from './cpu-and-interpreter.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-max-pool-test-'));

function graph(): TestGraph {
  const t = new TestGraph();
  let n = 0;
  for (const k of [1, 2, 3, 5]) for (const s of [1, 2, 3]) for (let p = 0; 2 * p <= k; p++) {
    const h = 1 + ((n * 7) % 11) + k, w = 1 + ((n * 5) % 13) + k;
    const x = t.input(`x${n}`, [1 + (n % 2), 1 + (n % 3), h, w]);
    t.output(`y${n++}`, t.op('max_pool2d', [x], { kernel: [k, k], stride: [s, s], padding: [p, p] }));
  }
  // A rectangular window, a producer fused into the pool, NaNs, the pool feeding another group.
  const r = t.input('r', [2, 3, 9, 14]);
  t.output('rect', t.op('max_pool2d', [r], { kernel: [2, 3], stride: [1, 2], padding: [1, 1] }));
  t.output('fused', t.op('max_pool2d', [t.op('relu', [t.op('add', [r, t.constant(-0.25)])])], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }));
  const z = t.input('z', [1, 2, 7, 7]);
  t.inputs.z.data[3 * 7 + 3] = NaN;
  t.inputs.z.data[49 + 0] = NaN;
  t.output('nan', t.op('max_pool2d', [z], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }));
  t.output('consumer', t.op('mul', [t.op('max_pool2d', [r], { kernel: [3, 3], stride: [1, 1], padding: [1, 1] }), t.constant(3)]));
  // Rows wide enough for the vector loops (16 columns a step, the last step overlapping): strides 1, 2 (two loads and a
  // shuffle) and 3 (a gather), with NaNs at a row's start, middle and end.
  const wide = t.input('wide', [1, 2, 6, 101]);
  for (const at of [0, 50, 100, 101 + 47, 6 * 101 + 99]) t.inputs.wide.data[at] = NaN;
  for (const s of [1, 2, 3]) t.output(`wide${s}`, t.op('max_pool2d', [wide], { kernel: [3, 3], stride: [s, s], padding: [1, 1] }));
  return t;
}

const rowKernels = (target: Parameters<typeof compileGraph>[1]): number => {
  const p = compileGraph(graph().graph, target);
  return p.kernels.filter((k) => k.ir.locals.some((l) => l.name === 'row')).length;
};

test('tapColumns: the columns whose tap lies in the image, and no other', () => {
  for (const [k, s, p, W] of [[3, 2, 1, 160], [3, 1, 1, 5], [5, 3, 2, 7], [2, 2, 1, 1], [1, 1, 0, 4]]) {
    const OW = Math.floor((W + 2 * p - k) / s) + 1;
    for (let kx = 0; kx < k; kx++) {
      const [lo, hi] = tapColumns(kx, s, p, W, OW);
      for (let ox = 0; ox < OW; ox++) {
        const ix = ox * s - p + kx;
        assert.is(ox >= lo && ox < hi, ix >= 0 && ix < W, `k ${k} s ${s} p ${p} W ${W} kx ${kx} ox ${ox}`);
      }
    }
  }
});

test('the row kernel anchors pools on the CPU only; one pooling is left to the generic lowering', () => {
  const t = graph();
  const pools = t.graph.nodes.filter((n) => n.op === 'max_pool2d').length;
  assert.is(rowKernels(CPU), pools - 1, 'every pool but the one inlined into its consumer');
  assert.is(rowKernels(webgpuTarget()), 0);
});

test('max_pool2d on the CPU runtime and the interpreter equals the reference', async () => {
  const t = graph();
  const got = await checkCpuAndInterpreter(t, compileGraph(t.graph, CPU), 0, 0, 'max_pool2d');
  assert.ok(Number.isNaN(got.nan.data[1 * 4 + 1]) && Number.isNaN(got.nan.data[16]), 'a NaN in the window wins');
});

test.run();
