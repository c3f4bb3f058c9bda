// max3d's CPU row kernel (compiler/ops/max3d-cpu.kernel.ts), compiled by the
// C compiler and run on the CPU runtime: the same bits as the unfused
// composition (resize_as, maximum over the frames, max_pool2d) on the same
// runtime and as the kernel-IR interpreter, the reference's values, NaNs and
// infinities; the FPN shape that faulted before local arrays took a run-time
// base (P3 100×152: several bands, the last one partial); odd sizes, one-column
// levels, a 1×1 top, levels shorter than a band; φ 5 / τ 4 and φ 1 / τ 0. And
// the kernel's shape: chosen for the CPU only, every inner loop over a row
// with compile-time bounds and no branch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph, type Program } from '../../compiler/program.js';
import { CPU, cudaTarget, webgpuTarget } from '../../compiler/target.js';
import { runProgram } from '../../compiler/kernel/run-program.js';
import type { Stmt } from '../../compiler/kernel/ir.js';
import { neighbourLevels } from '../../compiler/ops/max3d.js';
import type { Tensor } from '../../compiler/tensor.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { TestGraph, compare, referenceRun } from './kernel/graphs.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-max3d-cpu-test-'));

interface Case { sizes: number[][]; channels: number; tau: number; phi: number; special?: boolean; block?: boolean }

const CASES: Record<string, Case> = {
  fpn: { sizes: [[100, 152], [50, 76], [25, 38], [13, 19], [7, 10]], channels: 2, tau: 2, phi: 3 },
  odd: { sizes: [[9, 1], [5, 3], [3, 2], [1, 1]], channels: 3, tau: 2, phi: 3 },
  wide: { sizes: [[18, 34], [9, 17], [5, 9]], channels: 2, tau: 4, phi: 5 },
  identity: { sizes: [[6, 7], [3, 4]], channels: 2, tau: 0, phi: 1 },
  // Ties (floor), NaNs, −∞ and +∞: a NaN anywhere in the window wins; −∞ is what the padding would be.
  special: { sizes: [[17, 33], [9, 17], [5, 9]], channels: 2, tau: 2, phi: 3, special: true },
  // A 5×5 block of −∞ in one level alone (τ 0): the windows inside it stay −∞.
  block: { sizes: [[9, 11]], channels: 1, tau: 0, phi: 3, block: true },
};

/** The fused op's graph (`y<l>` outputs) and the composition's (`z<l>`), on the same inputs. */
function graphs(c: Case): { fused: TestGraph; composed: TestGraph } {
  const build = (composed: boolean): TestGraph => {
    const t = new TestGraph();
    const levels = c.sizes.map(([h, w], i) => t.input(`p${i}`, [1, c.channels, h, w]));
    if (c.special) {
      for (const [name, x] of Object.entries(t.inputs)) {
        x.data.forEach((v, i) => { x.data[i] = Math.floor(3 * v); });
        x.data[5] = NaN;
        if (name === 'p1') { x.data[40] = NaN; x.data[x.data.length - 1] = NaN; }
        if (name === 'p0') { x.data.fill(-Infinity, 0, 70); x.data[200] = Infinity; }
      }
    }
    if (c.block) for (let y = 2; y < 7; y++) t.inputs.p0.data.fill(-Infinity, y * 11 + 3, y * 11 + 8);
    if (!composed) {
      t.ops('max3d', levels, { tau: c.tau, phi: c.phi }).forEach((o, i) => t.output(`y${i}`, o));
      return t;
    }
    const r = (c.phi - 1) / 2;
    levels.forEach((x, l) => {
      const frames = neighbourLevels(l, levels.length, c.tau).map((k) => (k === l ? x : t.op('resize_as', [levels[k], x], { mode: 'bilinear' })));
      const m = frames.reduce((a, b) => t.op('maximum', [a, b]));
      t.output(`y${l}`, t.op('max_pool2d', [m], { kernel: [c.phi], stride: [1], padding: [r] }));
    });
    return t;
  };
  return { fused: build(false), composed: build(true) };
}

async function onCpu(program: Program, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const exe = await new CpuRuntime().load(program);
  try { return await exe.run(inputs); } finally { exe.dispose(); }
}

/** '' when every element has the same bits (NaN with NaN). */
function sameBits(a: Tensor, b: Tensor): string {
  if (a.data.length !== b.data.length) return `length ${a.data.length} vs ${b.data.length}`;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return `at ${i}: ${a.data[i]} vs ${b.data[i]}`;
  return '';
}

/** The max3d kernels: one, or one per run of levels where the target's storage-buffer limit splits the pyramid (WebGPU's 8). */
function max3dKernels(program: Program): Program['kernels'] {
  return program.kernels.filter((k) => k.name.includes('max3d'));
}

function max3dKernel(program: Program): Program['kernels'][number] {
  const ks = max3dKernels(program);
  assert.is(ks.length, 1, 'one max3d kernel');
  return ks[0];
}

function loops(body: readonly Stmt[], out: Extract<Stmt, { k: 'for' }>[] = []): Extract<Stmt, { k: 'for' }>[] {
  for (const s of body) {
    if (s.k === 'for') { out.push(s); loops(s.body, out); }
    if (s.k === 'if') { loops(s.then, out); if (s.else) loops(s.else, out); }
  }
  return out;
}

test('the row kernel is the CPU target\'s only; its row loops have compile-time bounds and no branch', () => {
  const { fused } = graphs(CASES.fpn);
  const names = (p: Program): string[] => max3dKernel(p).ir.locals.map((l) => l.name);
  assert.ok(names(compileGraph(fused.graph, CPU)).includes('lv'), 'CPU: bands of rows');
  for (const target of [webgpuTarget(), cudaTarget()]) {
    const ks = max3dKernels(compileGraph(fused.graph, target));
    assert.ok(ks.length > 0 && ks.every((k) => !k.ir.locals.some((l) => l.name === 'lv')), `${target.name}: its own kernels`);
  }
  const k = max3dKernel(compileGraph(fused.graph, CPU)).ir;
  const rows = loops(k.body).filter((l) => l.v === 'x');
  assert.ok(rows.length >= 5 * 4, 'column taps, source rows, frame max, window rows and columns per level');
  for (const l of rows) {
    assert.ok(l.from.k === 'const' && l.to.k === 'const', 'bounds known when the C is compiled');
    assert.ok(l.body.every((s) => s.k === 'let' || s.k === 'set' || s.k === 'lstore' || s.k === 'store'), 'straight-line body');
  }
});

for (const [name, c] of Object.entries(CASES)) {
  test(`${name}: CPU runtime = composition on the CPU runtime = interpreter (bits), = reference`, async () => {
    const { fused, composed } = graphs(c);
    const program = compileGraph(fused.graph, CPU);
    const got = await onCpu(program, fused.inputs);
    const base = await onCpu(compileGraph(composed.graph, CPU, { fuse: false }), composed.inputs);
    const interp = runProgram(program, fused.graph, fused.inputs, fused.params);
    const want = referenceRun(fused);
    for (let l = 0; l < c.sizes.length; l++) {
      const y = `y${l}`;
      assert.is(sameBits(got[y], base[y]), '', `level ${l}: vs the composition`);
      assert.is(sameBits(got[y], interp[y]), '', `level ${l}: vs the interpreter`);
      // The reference interpolates in f64.
      assert.is(compare(got[y], want[y], 1e-5, 1e-5), '', `level ${l}: vs the reference`);
    }
    if (c.special) {
      const d = Array.from(got.y0.data);
      assert.ok(d.some(Number.isNaN) && !d.every(Number.isNaN), 'NaNs reach level 0, not everywhere');
      assert.ok(d.includes(Infinity), '+∞ wins its windows');
    }
    if (c.block) assert.equal(Array.from(got.y0.data).filter((v) => v === -Infinity).length, 9, 'the 3×3 windows inside the block');
  });
}

test.run();
