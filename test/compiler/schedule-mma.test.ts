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
import type { Program } from '../../compiler/program.js';
import { roundBf16, roundTf32 } from '../../compiler/kernel/interpret.js';
import { hasWarpCollective } from '../../compiler/kernel/ir.js';
import { withCudaMath, CudaMath, cudaMathFromEnv } from '../../compiler/schedule/gemm-mma.js';
import { TestGraph, compare, compileAndRun, pick, referenceRun } from './kernel/graphs.js';

const mmaKernels = (p: Program): number => p.kernels.filter((k) => JSON.stringify(k.ir.body).includes('"k":"mma"')).length;

function rounded(t: TestGraph, round: (x: number) => number): void {
  for (const m of [t.inputs, t.params]) for (const v of Object.values(m)) for (let i = 0; i < v.data.length; i++) v.data[i] = round(v.data[i]);
}

/** Runs t for cuda under `math`, compares every output; returns the program. */
function check(t: TestGraph, math: CudaMath, atol: number, rtol: number, capability = 90): Program {
  const want = referenceRun(t);
  const { program, outputs } = withCudaMath({ math, capability }, () => compileAndRun(t, { fuse: true, target: 'cuda' }));
  for (const [name, w] of Object.entries(want)) {
    const msg = compare(outputs[name] as Tensor, w, atol, rtol);
    if (msg) throw new Error(`${math} output '${name}': ${msg}`);
  }
  return program;
}

test('smoke: matmul 20x13x11 tf32 pre-rounded', () => {
  const t = new TestGraph();
  t.output('y', t.op('matmul', [t.input('a', [20, 11]), t.input('b', [11, 13])]));
  rounded(t, roundTf32);
  const p = check(t, 'tf32', 1e-5, 1e-5);
  assert.ok(mmaKernels(p) === 1);
});

test.run();
