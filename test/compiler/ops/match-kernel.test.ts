// The `match` kernel (compiler/ops/match.kernel.ts) on the kernel-IR
// interpreter: scipy's optimal totals on the fixture's small batches
// (test/fixtures/match), as scheduled for the CPU (one thread per image) and
// for a GPU (64 threads share the candidate pass and each tree step:
// match-parallel.ts); its workspace planned by
// compileGraph; termination and valid output on NaN, ±Inf and extreme
// ranges; and the CUDA rendering compiled by nvcc.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { compileGraph, renderCuda } from '../../../compiler/program.js';
import { runProgram } from '../../../compiler/kernel/run-program.js';
import { CPU, cudaTarget, webgpuTarget } from '../../../compiler/target.js';
import { tensor } from '../../../compiler/tensor.js';
import { matchCap, matchLayout } from '../../../compiler/ops/match.kernel.js';
import { batchData, batchFailures, checkedTotal, loadMatchFixture, matchGraph } from './match-instances.js';
import { ARCHS, nvccArch } from '../../runtime-cuda/nvcc.js';

const fixture = loadMatchFixture();

function interpret(B: number, G: number, N: number, q: Float32Array, counts: Int32Array, target = CPU): Int32Array {
  const graph = matchGraph(B, G, N);
  const program = compileGraph(graph, target);
  const out = runProgram(program, graph, { q: tensor('f32', [B, G, N], q), count: tensor('i32', [B], counts) }, {});
  return out.m.data as Int32Array;
}

test('fixture: at least 1,000 images, with ties, equal rows, -1 blocks, taken candidates, G = N, no objects, G up to 500, N up to 30,000', () => {
  const images = fixture.flatMap((b) => b.images);
  assert.ok(images.length >= 1000, `${images.length} images`);
  for (const kind of ['grid', 'rows', 'const', 'cont', 'prior', 'taken', 'nan']) assert.ok(images.some((i) => i.kind === kind), kind);
  assert.ok(fixture.some((b) => b.G === b.N));
  assert.ok(images.some((i) => i.count === 0));
  assert.ok(fixture.some((b) => b.G >= 500 && b.images.some((i) => i.count >= 500)));
  assert.ok(fixture.some((b) => b.N >= 30000));
  // Rows with more candidates than the compact list holds take the dense scan.
  assert.ok(fixture.some((b) => b.where === 'small' && b.N > matchCap(webgpuTarget(), b.N) && b.kinds.includes('cont')));
  assert.ok(fixture.some((b) => b.N * 0.6 > matchCap(CPU, b.N) && b.kinds.includes('cont')));
});

test('interpreter, CPU schedule: every small fixture batch gives scipy\'s optimal total', () => {
  const bad: string[] = [];
  for (const b of fixture.filter((x) => x.where === 'small')) {
    const { q, counts } = batchData(b);
    assert.equal([...counts], b.images.map((i) => i.count), `batch ${b.seed}: generator matches the Python one`);
    bad.push(...batchFailures(b, q, counts, interpret(b.B, b.G, b.N, q, counts), 'interpreter/cpu'));
  }
  assert.equal(bad.slice(0, 5), []);
});

test('interpreter, GPU schedule (64 threads): the first 15 images of the small fixture batches give scipy\'s optimal total', () => {
  const bad: string[] = [];
  for (const full of fixture.filter((x) => x.where === 'small' && (x.G * x.N <= 3000 || x.N === 700))) {
    // The interpreter runs the 64 threads one after another: a slice of each batch keeps this test short.
    const d = batchData(full), B = Math.min(full.B, 15), size = full.G * full.N;
    const b = { ...full, B, images: full.images.slice(0, B) };
    const q = d.q.subarray(0, B * size), counts = d.counts.subarray(0, B);
    bad.push(...batchFailures(b, q, counts, interpret(B, b.G, b.N, q, counts, webgpuTarget()), 'interpreter/webgpu'));
  }
  assert.equal(bad.slice(0, 5), []);
});

test('workspace: two scratch buffers per match launch, planned as temporaries no other buffer of the launch shares', () => {
  const B = 3, G = 4, N = 9;
  const program = compileGraph(matchGraph(B, G, N), CPU);
  assert.is(program.launches.length, 1);
  const l = program.launches[0];
  const k = program.kernels[l.kernel].ir;
  assert.is(k.bufs.length, 5);
  assert.is(new Set(l.buffers).size, 5, 'distinct buffers in one launch');
  const L = matchLayout(G, N, matchCap(CPU, N));
  const [f, i] = [l.buffers[3], l.buffers[4]].map((id) => program.buffers[id]);
  assert.equal([f.role, f.dtype, f.bytes], ['temp', 'f32', 4 * B * L.floats]);
  assert.equal([i.role, i.dtype, i.bytes], ['temp', 'i32', 4 * B * L.ints]);
});

test('NaN, ±Inf, huge and tiny ranges, garbage gt_count: the kernel ends with a valid assignment', () => {
  const G = 5, N = 8;
  const cases: number[][] = [
    Array(G * N).fill(NaN),
    Array.from({ length: G * N }, (_, k) => (k % 3 === 0 ? NaN : k % 3 === 1 ? Infinity : -Infinity)),
    Array.from({ length: G * N }, (_, k) => (k % 2 ? 3e38 : -3e38)),
    Array.from({ length: G * N }, (_, k) => 1e-40 * (k % 7)),
    Array.from({ length: G * N }, (_, k) => (k % 5 === 0 ? NaN : (k * 0.37) % 1)),
  ];
  for (const c of cases) {
    const q = new Float32Array(c);
    for (const target of [CPU, webgpuTarget()]) {
      const m = interpret(1, G, N, q, new Int32Array([G]), target);
      checkedTotal(q, m, 0, G, N, G); // throws on an invalid assignment
    }
  }
  // The last case has one NaN per row at most: its total is the optimum with NaN as the smallest finite value - 1.
  const q = new Float32Array(cases[4]);
  const m = interpret(2, G, N, new Float32Array([...q, ...q]), new Int32Array([99, -4]));
  assert.equal([...m.slice(G)], Array(G).fill(-1), 'a negative count is 0');
  checkedTotal(new Float32Array([...q, ...q]), m, 0, G, N, G); // a count past G is G
});

const haveNvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { stdio: 'ignore' }).status === 0;
if (!haveNvcc) console.log('SKIP nvcc compile of the match kernel: nvcc not on PATH');
(haveNvcc ? test : test.skip)('CUDA rendering of the match kernel compiles with nvcc (sm_90, sm_75)', async () => {
  const source = renderCuda(compileGraph(matchGraph(4, 100, 20000), cudaTarget()));
  assert.ok(source.includes('__syncthreads'), 'the GPU schedule splits the candidate pass over the block');
  for (const arch of ARCHS) await nvccArch(source, arch);
});

test.run();
