// The CUDA tensor-core GEMM schedule (schedule/gemm-mma.ts) on the kernel-IR
// interpreter, whose mma follows PTX (fragment layouts, tf32/bf16 rounding of
// the inputs, f32 accumulation), against the ops' references.
//
// Tolerances. Rounding an input to TF32 (10 mantissa bits, nearest) moves it
// by at most 2^-11 relative, BF16 (7 bits) 2^-8; a product of two rounded
// inputs is then within 2^-10 (TF32) or 2^-7 (BF16) of the exact product,
// and f32 accumulation of K terms adds at most K·2^-24 relative of Σ|a·b|.
// So |got - exact| ≤ (u + K·2^-24) · Σ_k |a_k||b_k| with u = 2^-10 or 2^-7.
// Two checks follow from it:
//  - inputs pre-rounded to the input type (rounding is idempotent, so the
//    kernel's own rounding changes nothing): only the accumulation order
//    differs from the reference, so the plain f32 tolerance (1e-4) applies:
//    a wrong fragment layout or a lost k step is off by O(1);
//  - raw inputs in [-1, 1]: Σ|a||b| ≤ K, so atol = K·(u + K·2^-24) (rtol 0,
//    the epilogues used here are 1-Lipschitz or scaled by ≤ 2).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rng } from '../../compiler/tensor.js';
import type { Tensor } from '../../compiler/tensor.js';
import { renderCuda } from '../../compiler/program.js';
import type { Program } from '../../compiler/program.js';
import { roundBf16, roundTf32 } from '../../compiler/kernel/interpret.js';
import { hasWarpCollective } from '../../compiler/kernel/ir.js';
import { chooseMmaTile } from '../../compiler/schedule/gemm-mma.js';
import { CPU, CudaMath, cudaMathFromEnv, cudaTarget } from '../../compiler/target.js';
import { idx } from '../../compiler/kernel/build.js';
import { TestGraph, compare, compileAndRun, pick, referenceRun } from './kernel/graphs.js';

const mmaKernels = (p: Program): number => p.kernels.filter((k) => JSON.stringify(k.ir.body).includes('"k":"mma"')).length;

function rounded(t: TestGraph, round: (x: number) => number): void {
  for (const m of [t.inputs, t.params]) for (const v of Object.values(m)) for (let i = 0; i < v.data.length; i++) v.data[i] = round(v.data[i]);
}

/** Runs t for cuda under `math`, compares every output; returns the program. */
function check(t: TestGraph, math: CudaMath, atol: number, rtol: number, capability = 90): Program {
  const want = referenceRun(t);
  const { program, outputs } = compileAndRun(t, cudaTarget({ cudaMath: math, cudaCapability: capability }), { fuse: true });
  for (const [name, w] of Object.entries(want)) {
    const msg = compare(outputs[name] as Tensor, w, atol, rtol);
    if (msg) throw new Error(`${math} output '${name}': ${msg}`);
  }
  return program;
}

const U = { tf32: 2 ** -10, bf16: 2 ** -7 } as const;
/** The raw-input bound above for K-term dot products of values in [-1, 1]. */
const rawAtol = (math: 'tf32' | 'bf16', K: number): number => K * (U[math] + K * 2 ** -24);
const ROUND = { tf32: roundTf32, bf16: roundBf16 } as const;

interface ConvCase { n: number; cin: number; cout: number; h: number; w: number; k: number; stride: number; pad: number; groups: number; epilogue: 'bias' | 'bn-relu' | 'residual' | 'none' }

function convGraph(c: ConvCase): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', [c.n, c.cin, c.h, c.w]);
  const w = t.param('w', [c.cout, c.cin / c.groups, c.k, c.k]);
  const attrs = { stride: [c.stride], padding: [c.pad], groups: c.groups };
  let y = t.op('conv2d', [x, w, c.epilogue === 'bias' ? t.param('b', [c.cout]) : -1], attrs);
  if (c.epilogue === 'bn-relu' || c.epilogue === 'residual') {
    // Scales in [0.5, 1]: the epilogue stays within the bound's rtol 0 (|scale| ≤ 1).
    y = t.op('frozen_bn', [y, t.param('bw', [c.cout], 0.5, 1), t.param('bb', [c.cout]), t.param('bm', [c.cout]), t.param('bv', [c.cout], 1, 2)]);
    if (c.epilogue === 'residual') {
      const oh = Math.floor((c.h + 2 * c.pad - c.k) / c.stride) + 1, ow = Math.floor((c.w + 2 * c.pad - c.k) / c.stride) + 1;
      y = t.op('add', [y, t.input('r', [c.n, c.cout, oh, ow])]);
    }
    y = t.op('relu', [y]);
  }
  t.output('y', y);
  return t;
}

const CONVS: ConvCase[] = [
  { n: 2, cin: 5, cout: 7, h: 9, w: 11, k: 3, stride: 2, pad: 1, groups: 1, epilogue: 'bias' },
  { n: 1, cin: 6, cout: 70, h: 7, w: 10, k: 3, stride: 1, pad: 1, groups: 1, epilogue: 'bn-relu' },
  { n: 1, cin: 37, cout: 9, h: 9, w: 8, k: 1, stride: 1, pad: 0, groups: 1, epilogue: 'residual' },
  { n: 2, cin: 6, cout: 9, h: 7, w: 6, k: 3, stride: 1, pad: 1, groups: 3, epilogue: 'none' },
  { n: 1, cin: 4, cout: 6, h: 8, w: 9, k: 1, stride: 2, pad: 0, groups: 2, epilogue: 'residual' },
  { n: 2, cin: 8, cout: 5, h: 6, w: 6, k: 1, stride: 1, pad: 0, groups: 1, epilogue: 'bias' }, // K, N multiples of 4: float4 packing
];

for (const math of ['tf32', 'bf16'] as const) {
  test(`conv2d (3×3 pad 1 stride 2, 1×1, groups; bias, BN+ReLU, residual) on ${math} mma: inputs pre-rounded to ${math} equal the reference`, () => {
    for (const c of CONVS) {
      const t = convGraph(c);
      rounded(t, ROUND[math]);
      const p = check(t, math, 1e-4, 1e-4);
      assert.is(mmaKernels(p), 1, `${JSON.stringify(c)}: one tensor-core kernel`);
      assert.is(p.launches.length, 1, 'epilogue fused');
    }
  });

  test(`matmul at odd sizes (M, N, K not multiples of 64/64/32) on ${math} mma, pre-rounded and raw (derived bound)`, () => {
    const next = rng(math === 'tf32' ? 3 : 4);
    for (const [m, k, n] of [[70, 37, 67], [pick(next, 1, 20), pick(next, 1, 9), pick(next, 1, 30)], [17, 33, 5], [19, 40, 36], [5, 100, 9]]) {
      const t = new TestGraph();
      const a = t.input('a', [2, m, k]), b = t.input('b', [k, n]);
      t.output('y', t.op('add', [t.op('matmul', [a, b]), t.input('c', [n])]));
      check(t, math, rawAtol(math, k) + 1e-6, 0);
      rounded(t, ROUND[math]);
      const p = check(t, math, 1e-4, 1e-4);
      assert.is(mmaKernels(p), 1);
    }
  });
}

test('with K and N multiples of 4 the A and B packing read float4s (CUDA rendering)', () => {
  const t = new TestGraph();
  t.output('y', t.op('matmul', [t.input('a', [19, 40]), t.input('b', [40, 36])]));
  const p = compileAndRun(t, cudaTarget({ cudaMath: 'tf32' }), { fuse: true }).program;
  const cu = renderCuda(p);
  // A and B, each fetched before the chunk loop and one chunk ahead inside it.
  assert.is((cu.match(/__ldg\(reinterpret_cast<const float4\*>/g) ?? []).length, 4, cu);
  assert.match(cu, /fd_mma_m16n8k8_tf32r\(/);
  const odd = new TestGraph();
  odd.output('y', odd.op('matmul', [odd.input('a', [19, 41]), odd.input('b', [41, 37])]));
  assert.not.match(renderCuda(compileAndRun(odd, cudaTarget({ cudaMath: 'tf32' }), { fuse: true }).program), /float4/);
});

test('tile: 32 × 128 for GEMMs of at most 32 rows, 64 × 64 otherwise or where the taps tables would not fit', () => {
  const taps = (n: number) => [
    { size: (TN: number) => n * TN, arrays: [{ name: 'koff', t: 'i64' as const }, { name: 'kok', t: 'bool' as const }], values: () => [idx(0), idx(0)] },
  ];
  const lim = cudaTarget();
  assert.equal([chooseMmaTile(9, [], lim)?.MB, chooseMmaTile(9, [], lim)?.TN, chooseMmaTile(9, [], lim)?.WG], [32, 128, 128]);
  assert.equal([chooseMmaTile(33, taps(9), lim)?.MB, chooseMmaTile(33, taps(9), lim)?.TN], [64, 64]);
  assert.is(chooseMmaTile(16, taps(49), lim)?.TN, 64, '7×7 taps for 128 columns exceed 48 KiB');
  assert.is(chooseMmaTile(16, taps(49), { ...lim, maxWorkgroupStorageBytes: 16384 }), undefined, 'nothing fits: decline');
});

test('conv2d on raw inputs within the derived TF32 and BF16 bounds', () => {
  for (const math of ['tf32', 'bf16'] as const) {
    for (const c of [CONVS[0], CONVS[2]]) {
      const K = (c.cin / c.groups) * c.k * c.k;
      check(convGraph(c), math, rawAtol(math, K) + 1e-6, 0);
    }
  }
});

test('conv2d adjoints (grad input, grad weight) go through the tensor-core GEMM too', () => {
  const conv = { stride: [2], padding: [1], dilation: [1], groups: 1 };
  const t = new TestGraph();
  const gr = t.input('g', [2, 5, 4, 5]);
  t.output('dx', t.op('conv2d_grad_input', [gr, t.param('w', [5, 3, 3, 3])], { ...conv, size: [8, 9] }));
  t.output('dw', t.op('conv2d_grad_weight', [t.input('x', [2, 3, 8, 9]), gr], { ...conv, kernel: [3, 3] }));
  rounded(t, roundTf32);
  const p = check(t, 'tf32', 1e-4, 1e-4);
  assert.is(mmaKernels(p), 2);
});

test('f32 (FUSEDET_CUDA_TF32=0, FUSEDET_CUDA_MATH=f32) or a device below sm_80 takes the plain GEMM', () => {
  const t = convGraph(CONVS[0]);
  assert.is(mmaKernels(check(t, 'f32', 1e-4, 1e-4)), 0);
  assert.is(mmaKernels(check(t, 'tf32', 1e-4, 1e-4, 75)), 0, 'sm_75: no TF32 mma');
  assert.is(cudaMathFromEnv({ FUSEDET_CUDA_TF32: '0', FUSEDET_CUDA_MATH: 'bf16' }), 'f32');
  assert.is(cudaMathFromEnv({}), 'tf32');
  assert.is(cudaMathFromEnv({ FUSEDET_CUDA_MATH: 'bf16' }), 'bf16');
  assert.throws(() => cudaMathFromEnv({ FUSEDET_CUDA_MATH: 'fp16' }), /FUSEDET_CUDA_MATH='fp16': use tf32/);
  assert.throws(() => cudaMathFromEnv({ FUSEDET_CUDA_TF32: 'no' }), /FUSEDET_CUDA_TF32='no'/);
  // The flag as the edge reads it reaches the schedule through the target, not the environment.
  const fromEnv = cudaTarget({ cudaMath: cudaMathFromEnv({ FUSEDET_CUDA_TF32: '0' }) });
  assert.is(mmaKernels(compileAndRun(t, fromEnv, { fuse: true }).program), 0, 'the environment flag reaches the schedule');
  const prev = process.env.FUSEDET_CUDA_MATH;
  process.env.FUSEDET_CUDA_MATH = 'f32';
  try {
    assert.is(mmaKernels(compileAndRun(t, cudaTarget(), { fuse: true }).program), 1, 'no environment read below the edge: the target decides');
  } finally {
    if (prev === undefined) delete process.env.FUSEDET_CUDA_MATH; else process.env.FUSEDET_CUDA_MATH = prev;
  }
  assert.is(mmaKernels(compileAndRun(t, CPU, { fuse: true }).program), 0, 'the CPU never gets mma');
});

test('the math choice enters the structural hash (the compile-cache key)', () => {
  const t = convGraph(CONVS[0]);
  const hashes = (['tf32', 'bf16', 'f32'] as const).map((math) => compileAndRun(t, cudaTarget({ cudaMath: math }), { fuse: true }).program.kernels[0].hash);
  assert.is(new Set(hashes).size, 3, hashes.join(' '));
  assert.ok(!hasWarpCollective([]));
});

test.run();
