// fusedet's side of `npm run gpu:bench` (run on an NVIDIA machine by
// tools/gpu/run.sh, bundled by tools/gpu/pack.mjs): the ResNet-50-FPN DeFCN
// forward at 1x3x800x1216 on the CUDA runtime. Reports load time (compile or
// cache), the median and best of N runs (wall time of run(): upload, every
// launch, download), with the launch list replayed as a CUDA graph and with
// plain launches, and the ten slowest kernels by CUDA events; writes
// bench/results/cuda-r50-fpn-800x1216-<gpu>.json.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { checkFiles } from '../../dsl/index.js';
import { initParams } from '../../compiler/init.js';
import { lower } from '../../compiler/lower.js';
import { compileGraph } from '../../compiler/program.js';
import { randomTensor } from '../../compiler/tensor.js';
import { openCuda, probeCuda } from '../../runtime-cuda/device.js';
import { CudaRuntime } from '../../runtime-cuda/runtime.js';
import { cudaMathFromEnv, cudaTarget } from '../../compiler/target.js';

const H = Number(process.env.BENCH_H ?? 800), W = Number(process.env.BENCH_W ?? 1216), ITERS = Number(process.env.BENCH_ITERS ?? 30);

async function main(): Promise<number> {
  const why = probeCuda();
  if (why) { console.error(`SKIP fusedet CUDA bench: ${why}`); return 3; }
  const dev = openCuda();
  const { program: fd, diagnostics } = checkFiles(['models/defcn.fd']);
  if (!fd) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const graph = lower(fd, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [1, 3, H, W] } }, args: { depth: 50 } });
  // The GEMM math this GPU gets by default (TF32 tensor cores from sm_80; FUSEDET_CUDA_MATH / FUSEDET_CUDA_TF32 change it).
  const math = cudaMathFromEnv(process.env);
  const program = compileGraph(graph, cudaTarget({ cudaMath: math, cudaCapability: dev.info.cc }));
  const gemms = math === 'f32' || dev.info.cc < 80 ? 'f32 FMA' : `${math} tensor cores (mma.sync), f32 accumulate`;
  const t0 = performance.now();
  const exe = await new CudaRuntime().load(program);
  const loadSeconds = (performance.now() - t0) / 1000;
  await exe.setParams(initParams(graph, 1));
  const image = randomTensor([1, 3, H, W], 7, -1, 1);
  for (let i = 0; i < 3; i++) await exe.run({ image });
  // The whole launch list as one CUDA graph (auto: from the second run) and
  // as plain launches, alternated so both see the same GPU state.
  const ms: number[] = [], plainMs: number[] = [];
  for (let i = 0; i < ITERS; i++) {
    for (const [mode, into] of [['auto', ms], ['0', plainMs]] as const) {
      process.env.FUSEDET_CUDA_GRAPHS = mode;
      const s = performance.now();
      await exe.run({ image });
      into.push(performance.now() - s);
    }
  }
  delete process.env.FUSEDET_CUDA_GRAPHS;
  ms.sort((a, b) => a - b);
  plainMs.sort((a, b) => a - b);
  process.env.FUSEDET_DEBUG = '2';
  await exe.run({ image });
  delete process.env.FUSEDET_DEBUG;
  const times = exe.lastTimes();
  const kernelMs = times.reduce((s, t) => s + t.seconds * 1e3, 0);
  const slowest = [...times].sort((a, b) => b.seconds - a.seconds).slice(0, 10).map((t) => ({ kernel: t.kernel, grid: t.grid, ms: t.seconds * 1e3 }));
  const result = {
    model: 'models/defcn.fd DeFCN depth 50 (ResNet-50-FPN, C 256, K 80, 3DMF), random weights', input: [1, 3, H, W], dtype: `f32 tensors; GEMMs: ${gemms}`,
    gpu: dev.info.name, cc: dev.info.cc, driverCuda: dev.info.driverVersion, compiler: dev.compiler.id,
    kernels: program.kernels.length, launches: program.launches.length, peakBytes: program.peakBytes,
    loadSeconds, compiledNow: exe.stats.compiled > 0,
    run: { median_ms: ms[ms.length >> 1], min_ms: ms[0], iters: ITERS, what: 'wall time of run(): input upload, all launches as one CUDA graph, output download' },
    runPlainLaunches: { median_ms: plainMs[plainMs.length >> 1], min_ms: plainMs[0], iters: ITERS, what: 'the same with FUSEDET_CUDA_GRAPHS=0 (one cuLaunchKernel per launch), alternated with the graph runs' },
    kernelSumMs: kernelMs, slowest,
  };
  console.log(`fusedet cuda: ${dev.info.name}: R50-FPN DeFCN ${H}x${W}: median ${result.run.median_ms.toFixed(2)} ms, best ${ms[0].toFixed(2)} ms, kernels sum ${kernelMs.toFixed(2)} ms (load ${loadSeconds.toFixed(1)} s)`);
  console.log(`  plain launches (FUSEDET_CUDA_GRAPHS=0): median ${result.runPlainLaunches.median_ms.toFixed(2)} ms, best ${plainMs[0].toFixed(2)} ms; ${program.launches.length} launches`);
  for (const s of slowest) console.log(`  ${s.ms.toFixed(3).padStart(9)} ms  ${s.kernel} grid ${s.grid}`);
  mkdirSync('bench/results', { recursive: true });
  const slug = dev.info.name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase();
  const path = `bench/results/cuda-r50-fpn-${H}x${W}-${slug}.json`;
  writeFileSync(path + '.tmp', JSON.stringify(result, null, 2) + '\n');
  renameSync(path + '.tmp', path);
  console.log(path);
  exe.dispose();
  return 0;
}

process.exitCode = await main();
