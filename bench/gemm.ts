// What a register-blocked f32 GEMM in plain C reaches on this machine through
// the CPU runtime (threads = FUSEDET_THREADS or cores), at 512³ and 1024³,
// beside the stand-alone C reference of bench/peak.ts (its own threads, every
// micro-tile it tries): the peaks the generated kernels are measured against.
// Usage: node dist/bench/gemm.js [--threads N] [--v8]
// Writes bench/results/gemm.json (temp file + rename).
import { writeFileAtomicSync } from '../io/files.js';
import { parseArgs } from 'node:util';
import { randomTensor } from '../compiler/tensor.js';
import { loadUnits, nativeOrThrow } from '../runtime-cpu/load.js';
import { GEMM_V16, GEMM_V8, gemmProgram, gemmSource } from './gemm-kernel.js';
import { cReferencePeak, cpuDescription } from './peak.js';

const { values } = parseArgs({ options: { threads: { type: 'string' }, v8: { type: 'boolean' }, sizes: { type: 'string' } } });
const native = nativeOrThrow();
if (values.threads) native.setThreads(Number(values.threads));
const shape = values.v8 ? GEMM_V8 : GEMM_V16;
const sizes = (values.sizes ?? '512,1024').split(',').map(Number);

const results: { size: number; threads: number; vectorWidth: number; gflops: number; seconds: number }[] = [];
for (const n of sizes) {
  const exe = await loadUnits(gemmProgram(n, n, n, shape), [gemmSource(shape)]);
  const inputs = { a: randomTensor([n, n], 1), b: randomTensor([n, n], 2) };
  await exe.run(inputs); // warm: page faults, thread start, caches
  // Many short runs: on a shared machine the best of them is the one nobody interrupted.
  const reps = Math.max(30, Math.round(6e10 / (2 * n * n * n)));
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await exe.run(inputs);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  const gflops = (2 * n * n * n) / best / 1e9;
  results.push({ size: n, threads: native.threads(), vectorWidth: shape.vectorWidth, gflops, seconds: best });
  process.stdout.write(`sgemm ${n}³ v${shape.vectorWidth} ${native.threads()} threads: ${gflops.toFixed(1)} GFLOP/s (best of ${reps}: ${(best * 1e3).toFixed(2)} ms, incl. output copy)\n`);
}
const cpu = cpuDescription();
const reference = sizes.map((n) => ({ size: n, tiles: cReferencePeak(n, native.threads()) }));
for (const r of reference) {
  process.stdout.write(`plain-C reference (bench/peak.ts) ${r.size}³: ${r.tiles.map((t) => `${t.mr}×${t.nrv * t.vectorWidth} ${t.gflops.toFixed(1)}`).join(', ')} GFLOP/s\n`);
}
process.stdout.write(`${cpu.model}, ${cpu.isa} (${cpu.vectorWidth} f32 lanes)\n`);
writeFileAtomicSync('bench/results/gemm.json', JSON.stringify({ kernel: 'sgemm', cpu, results, reference }, null, 2) + '\n', { what: 'bench results' });
