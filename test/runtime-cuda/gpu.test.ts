// On an NVIDIA GPU (npm run gpu:test; skipped elsewhere): every forward op
// case, fused and unfused, the tiny DeFCN forward and the tiny training step
// on the CUDA runtime against the ops' references (and the CPU runtime when
// this machine has a C compiler), and the device's error paths: out of
// memory, a launch outside CUDA's limits, an illegal address (the context is
// reset and a reload works), a compute capability below the minimum; CUDA
// graphs: replays equal plain launches (forward, and training steps whose
// updates write their params in place). Tolerances, |got - want| <= atol + rtol·|want|:
// single ops 2e-5/2e-5 (FMA contraction and CUDA's libm, within 2 ulp, vs
// the reference); whole networks 1e-3/1e-3 (errors compound over ~40 layers);
// training-step scalars 1e-3 relative, updated state 1e-3 of each tensor's
// largest magnitude. i32 and bool exactly. Those comparisons pin plain f32
// GEMMs (cudaMath f32); the TF32 tensor-core forward is held to 1e-2 of
// each output's largest magnitude (inputs rounded to 2^-11 relative).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFiles } from '../../dsl/index.js';
import { initParams } from '../../compiler/init.js';
import { interpret } from '../../compiler/interpret.js';
import { lower } from '../../compiler/lower.js';
import { compileGraph } from '../../compiler/program.js';
import type { Program } from '../../compiler/program.js';
import { Tensor, randomTensor, rng } from '../../compiler/tensor.js';
import { fixedBatch } from '../../models/fixed-batch.js';
import { referenceRunner, runtimeRunner } from '../../models/step-runner.js';
import { handKernel } from '../../runtime-cpu/hand.js';
import { MIN_COMPUTE_CAPABILITY, openCuda, probeCuda } from '../../runtime-cuda/device.js';
import { LIBCUDA_PATHS } from '../../runtime-cuda/find.js';
import { deviceAllocator } from '../../runtime-cuda/allocator.js';
import { CudaRuntime } from '../../runtime-cuda/runtime.js';
import { TestGraph, compare, pick, referenceRun } from '../compiler/kernel/graphs.js';
import { tinyStep } from '../train/tiny.js';
import { cudaTarget } from '../../compiler/target.js';

process.env.FUSEDET_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'fusedet-gpu-test-'));
const unavailable = probeCuda();
// tools/gpu/run.sh sets FUSEDET_REQUIRE_CUDA=1: on the GPU machine a refusal is a failure, not a skip.
if (unavailable && process.env.FUSEDET_REQUIRE_CUDA === '1') throw new Error(`FUSEDET_REQUIRE_CUDA=1 but CUDA is unavailable: ${unavailable}`);
if (unavailable) console.log(`SKIP CUDA on-device tests: ${unavailable}`);
const gpu = unavailable ? test.skip : test;
const cuda = new CudaRuntime();

type Case = (t: TestGraph, n: (lo: number, hi: number) => number) => void;
const nchw = (n: (lo: number, hi: number) => number): number[] => [n(1, 3), n(1, 5), n(1, 9), n(2, 9)];
const un = (op: string, lo: number, hi: number): Case => (t, n) => t.output('y', t.op(op, [t.input('x', nchw(n), lo, hi)]));
const bin = (op: string): Case => (t, n) => {
  const s = nchw(n);
  t.output('y', t.op(op, [t.input('a', s, -2, 2), t.input('b', [s[1], 1, s[3]], 0.25, 2)]));
};

const CASES: Record<string, Case> = {
  ...Object.fromEntries(['neg', 'abs', 'relu', 'sigmoid', 'tanh', 'exp', 'floor', 'ceil', 'softplus', 'square'].map((op) => [op, un(op, -4, 4)])),
  ...Object.fromEntries(['log', 'sqrt', 'rsqrt'].map((op) => [op, un(op, 0.05, 5)])),
  ...Object.fromEntries(['add', 'sub', 'mul', 'div', 'maximum', 'minimum'].map((op) => [op, bin(op)])),
  conv2d: (t, n) => {
    const g = n(1, 3), cin = g * n(1, 3), cout = g * n(1, 4), k = n(1, 3);
    const y = t.op('conv2d', [t.input('x', [n(1, 2), cin, n(5, 17), n(5, 17)]), t.param('w', [cout, cin / g, k, k]), t.param('b', [cout])],
      { stride: [n(1, 2)], padding: [n(0, 2)], dilation: [n(1, 2)], groups: g });
    t.output('y', t.op('relu', [y]));
  },
  'conv2d 64ch 3x3': (t, n) => {
    const y = t.op('conv2d', [t.input('x', [1, 64, n(9, 20), n(9, 20)]), t.param('w', [64, 64, 3, 3], -0.1, 0.1), t.param('b', [64])], { padding: [1] });
    t.output('y', y);
  },
  matmul: (t, n) => {
    const m = n(1, 40), k = n(1, 40), c = n(1, 40);
    t.output('y', t.op('matmul', [t.input('a', [n(1, 3), m, k]), t.input('b', [k, c])]));
  },
  group_norm: (t, n) => {
    const g = n(1, 4), c = g * n(1, 4);
    t.output('y', t.op('group_norm', [t.input('x', [n(1, 2), c, n(1, 9), n(2, 9)]), t.param('w', [c]), t.param('b', [c])], { groups: g }));
  },
  max_pool2d: (t, n) => t.output('y', t.op('max_pool2d', [t.input('x', [n(1, 2), n(1, 4), n(3, 11), n(3, 11)])], { kernel: [3], stride: [2], padding: [1] })),
  resize: (t, n) => {
    const x = t.input('x', nchw(n));
    t.output('n', t.op('resize', [x], { size: [n(1, 13), n(1, 13)], mode: 'nearest' }));
    t.output('b', t.op('resize', [x], { size: [n(1, 13), n(1, 13)], mode: 'bilinear' }));
  },
  reduce: (t, n) => {
    const x = t.input('x', [n(1, 3), n(1, 40), n(1, 9), n(2, 70)]);
    t.output('s', t.op('sum', [x], { axes: [1, 3] }));
    t.output('m', t.op('mean', [x], { axes: [3], keepdims: true }));
    t.output('x', t.op('max', [x], { axes: [] }));
    t.output('a', t.op('argmax', [x], { axis: 1 }));
  },
  layout: (t, n) => {
    const s = nchw(n);
    const a = t.input('a', s), b = t.input('b', s);
    t.output('t', t.op('transpose', [t.op('concat', [a, b], { axis: 1 })], { perm: [0, 2, 3, 1] }));
    t.output('f', t.op('flatten', [b], { start: 1 }));
  },
  topk: (t, n) => t.ops('topk', [t.input('x', [n(1, 3), n(10, 300)])], { k: n(1, 9) }).forEach((v, i) => t.output(`o${i}`, v)),
  max3d: (t, n) => {
    const hw = n(5, 13);
    const levels = [0, 1, 2].map((l) => t.input(`p${l}`, [1, 2, Math.max(1, hw >> l), Math.max(1, hw >> l)], 0, 1));
    t.ops('max3d', levels, { tau: 2, phi: 3 }).forEach((v, i) => t.output(`o${i}`, v));
  },
};

async function runOn(program: Program, t: TestGraph): Promise<Record<string, Tensor>> {
  const exe = await cuda.load(program);
  try {
    await exe.setParams(t.params);
    return await exe.run(t.inputs);
  } finally {
    exe.dispose();
  }
}

for (const [name, build] of Object.entries(CASES)) {
  gpu(`${name}: CUDA equals the reference (fused and unfused, two seeds)`, async () => {
    for (const seed of [1, 2]) {
      const t = new TestGraph();
      const next = rng(seed * 7919 + name.length);
      build(t, (lo, hi) => pick(next, lo, hi));
      const want = referenceRun(t);
      for (const fuse of [true, false]) {
        // Every op of these graphs has a CUDA kernel: a compile error fails the test.
        const program: Program = compileGraph(t.graph, cudaTarget({ cudaMath: 'f32' }), { fuse });
        const got = await runOn(program, t);
        for (const o of Object.keys(want)) {
          const exact = want[o].dtype !== 'f32';
          assert.is(compare({ ...got[o], shape: want[o].shape }, want[o], exact ? 0 : 2e-5, exact ? 0 : 2e-5), '', `${name} seed ${seed} fused ${fuse} output ${o}`);
        }
      }
    }
  });
}

gpu('tiny DeFCN forward (64x64, batch 2): CUDA equals the reference interpreter within 1e-3', async () => {
  const { program, diagnostics } = checkFiles(['models/defcn.fd']);
  if (!program) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const graph = lower(program, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [2, 3, 64, 64] } }, args: { depth: 0, width: 4, C: 16, K: 3, groups: 4 } });
  const params = initParams(graph, 5);
  const image = randomTensor([2, 3, 64, 64], 11, -1, 1);
  const want = interpret(graph, { image }, params);
  const exe = await cuda.load(compileGraph(graph, cudaTarget({ cudaMath: 'f32' })));
  await exe.setParams(params);
  const got = await exe.run({ image });
  for (const o of Object.keys(want)) assert.is(compare({ ...got[o], shape: want[o].shape }, want[o], 1e-3, 1e-3), '', o);
  exe.dispose();
  // The default GEMMs on this GPU (TF32 tensor cores from sm_80).
  const tc = await cuda.load(compileGraph(graph, cuda.target));
  await tc.setParams(params);
  const fast = await tc.run({ image });
  for (const o of Object.keys(want)) {
    if (want[o].dtype !== 'f32') continue;
    let scale = 1e-6, worst = 0;
    for (let i = 0; i < want[o].data.length; i++) {
      scale = Math.max(scale, Math.abs(want[o].data[i]));
      worst = Math.max(worst, Math.abs(fast[o].data[i] - want[o].data[i]));
    }
    assert.ok(worst <= 1e-2 * scale, `${o}: default GEMM math is ${worst} off (scale ${scale})`);
  }
  tc.dispose();
});

gpu('tiny training step: CUDA equals the reference (scalars 1e-3 rel, state 1e-3 of scale)', async () => {
  const step = tinyStep();
  const params = initParams(step.graph, 3);
  const batch = fixedBatch(step.graph, 3);
  // The step compiles to CUDA kernels (every op has one): any error fails.
  const runner = await runtimeRunner(step, params, new CudaRuntime(undefined, undefined, { math: 'f32' }));
  const ref = referenceRunner(step, params);
  const rc = await runner.step(batch, 0.01, 1), rr = await ref.step(batch, 0.01, 1);
  for (const t of [...step.terms, 'grad_norm']) {
    assert.ok(Math.abs(rc.scalars[t] - rr.scalars[t]) <= 1e-3 * Math.max(1, Math.abs(rr.scalars[t])), `${t}: cuda ${rc.scalars[t]} vs reference ${rr.scalars[t]}`);
  }
  const sc = await runner.getState(), sr = await ref.getState();
  for (const [k, t] of sr) {
    let scale = 1e-3;
    for (const v of t.data) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < t.data.length; i++) assert.ok(Math.abs(sc.get(k)!.data[i] - t.data[i]) <= 1e-3 * scale, `${k}[${i}]`);
  }
  runner.dispose();
});

/** A program around one hand-written CUDA kernel writing B0[A0] = 1. */
function handProgram(block: number, index: number): { program: Program; source: string } {
  const kernel = handKernel('k0_poke', [{ dtype: 'f32', access: 'w' }], 1, block);
  const source = `extern "C" __global__ void k0_poke(float* B0, long long A0) { if (threadIdx.x == 0) B0[A0] = 1.0f; }\n`;
  return {
    source,
    program: { buffers: [{ id: 0, bytes: 16, dtype: 'f32', role: 'output', name: 'y', shape: [4] }], kernels: [kernel],
      launches: [{ kernel: 0, buffers: [0], args: [index], grid: 1 }], inputs: {}, outputs: { y: 0 }, params: {}, peakBytes: 16 },
  };
}

gpu('device errors: OOM names the size; a block too large for the kernel is refused at load naming it; an illegal address resets the context and a reload works', async () => {
  const dev = openCuda();
  assert.throws(() => deviceAllocator(dev.native).acquire(2 ** 50, 'buffer 3 (huge)'), /cannot allocate buffer 3 \(huge\) on the GPU \(1\.0 PiB;.*out of GPU memory allocating 1125899906842624 bytes \(1\.0 PiB\); .* free of /);
  const ok = handProgram(32, 2);
  const good = await new CudaRuntime(() => ok.source).load(ok.program);
  assert.equal([...(await good.run({})).y.data], [0, 0, 1, 0]);
  const big = handProgram(4096, 0);
  let err: Error | undefined;
  try { await new CudaRuntime(() => big.source).load(big.program); } catch (e) { err = e as Error; }
  assert.match(err?.message ?? '', /^kernel k0_poke is scheduled for blocks of 4096 threads, but with \d+ registers per thread .* runs at most \d+/);
  assert.equal([...(await good.run({})).y.data], [0, 0, 1, 0], 'the device is still usable');
  const wild = handProgram(32, 2 ** 40);
  const crash = await new CudaRuntime(() => wild.source).load(wild.program);
  err = undefined;
  try { await crash.run({}); } catch (e) { err = e as Error; }
  assert.match(err?.message ?? '', /ILLEGAL_ADDRESS|LAUNCH_FAILED/);
  assert.match(err?.message ?? '', /context was reset/);
  let stale: Error | undefined;
  try { await good.run({}); } catch (e) { stale = e as Error; }
  assert.match(stale?.message ?? '', /load the program again/);
  const again = await new CudaRuntime(() => ok.source).load(ok.program);
  assert.equal([...(await again.run({})).y.data], [0, 0, 1, 0], 'a reload after the reset works');
  again.dispose();
});

/** Runs `f` with FUSEDET_CUDA_GRAPHS set (0: plain launches, 1: a graph from the first run). */
async function withGraphs<T>(value: '0' | '1', f: () => Promise<T>): Promise<T> {
  const saved = process.env.FUSEDET_CUDA_GRAPHS;
  process.env.FUSEDET_CUDA_GRAPHS = value;
  try { return await f(); } finally {
    if (saved === undefined) delete process.env.FUSEDET_CUDA_GRAPHS; else process.env.FUSEDET_CUDA_GRAPHS = saved;
  }
}

function tinyForward() {
  const { program, diagnostics } = checkFiles(['models/defcn.fd']);
  if (!program) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return lower(program, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [1, 3, 64, 64] } }, args: { depth: 0, width: 4, C: 16, K: 3, groups: 4 } });
}

gpu('CUDA graphs: replays of the tiny DeFCN forward equal plain launches exactly, for new inputs each run', async () => {
  const graph = tinyForward();
  const params = initParams(graph, 5);
  const program = compileGraph(graph, cudaTarget());
  const images = [11, 12, 13].map((seed) => randomTensor([1, 3, 64, 64], seed, -1, 1));
  const runAll = (mode: '0' | '1') => withGraphs(mode, async () => {
    const exe = await cuda.load(program);
    await exe.setParams(params);
    const outs = [];
    for (const image of images) outs.push(await exe.run({ image }));
    exe.dispose();
    return outs;
  });
  const plain = await runAll('0'), replayed = await runAll('1');
  images.forEach((_, i) => {
    for (const o of Object.keys(plain[i])) assert.is(compare(replayed[i][o], plain[i][o], 0, 0), '', `run ${i} output ${o}`);
  });
});

gpu('CUDA graphs: three training steps with in-place updates replayed as a graph equal plain launches (1e-6 of scale)', async () => {
  const step = tinyStep();
  const params = initParams(step.graph, 3);
  const batch = fixedBatch(step.graph, 3);
  const steps = (mode: '0' | '1') => withGraphs(mode, async () => {
    const runner = await runtimeRunner(step, params, cuda);
    const losses = [];
    for (let i = 0; i < 3; i++) losses.push((await runner.step(batch, 0.01, 1)).scalars);
    const state = await runner.getState();
    runner.dispose();
    return { losses, state };
  });
  const plain = await steps('0'), replayed = await steps('1');
  assert.equal(replayed.losses, plain.losses, 'the same loss terms each step');
  for (const [k, t] of plain.state) {
    let scale = 1e-3;
    for (const v of t.data) scale = Math.max(scale, Math.abs(v));
    const got = replayed.state.get(k)!;
    for (let i = 0; i < t.data.length; i++) assert.ok(Math.abs(got.data[i] - t.data[i]) <= 1e-6 * scale, `${k}[${i}]: graph ${got.data[i]} vs plain ${t.data[i]}`);
  }
});

gpu('the runtime exposes the compute capability; one below the minimum is refused naming the GPU and both versions', () => {
  const dev = openCuda();
  assert.is(cuda.computeCapability, dev.info.cc);
  assert.ok(dev.info.cc >= MIN_COMPUTE_CAPABILITY);
  assert.throws(() => dev.native.open(LIBCUDA_PATHS, 0, 999), (e: Error) => e.message === `${dev.info.name} has compute capability ${Math.floor(dev.info.cc / 10)}.${dev.info.cc % 10}; fusedet's CUDA runtime needs 99.9 or newer`);
  assert.is(dev.native.generation(), dev.info.generation, 'the refusal left the open device alone');
});

test.run();
