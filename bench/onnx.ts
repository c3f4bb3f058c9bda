// The onnxruntime-node baseline: the bench's networks exported from
// torchvision by bench/torch/export_onnx.py (Debian's PyTorch) into a cache
// folder (.cache/onnx, not committed; FUSEDET_ONNX_CACHE moves it), run with
// onnxruntime's CPU execution provider, graph optimisation "all", and the
// same thread count as the other engines. The same script times the network
// in PyTorch, so one call yields both baselines of a row.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TORCH_PYTHON } from './torch-env.js';

export type OnnxNet = 'r50fpn' | 'fcos' | 'sgemm';
export interface Timing { best: number; median: number }

const SCRIPT = 'bench/torch/export_onnx.py';
const cacheDir = (): string => process.env.FUSEDET_ONNX_CACHE ?? '.cache/onnx';

/** The .onnx file of `net` at h×w (for sgemm: h×w times w×w), exported once into the cache. */
export function onnxModel(net: OnnxNet, h: number, w: number): string {
  mkdirSync(cacheDir(), { recursive: true });
  const path = join(cacheDir(), `${net}-${h}x${w}.onnx`);
  if (!existsSync(path)) {
    process.stdout.write(`bench: exporting ${net} ${h}×${w} to ${path} (torch.onnx, once)\n`);
    execFileSync(TORCH_PYTHON, [SCRIPT, 'export', net, String(h), String(w), path], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return path;
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | undefined;

/** onnxruntime-node, or a thrown Error saying why it is unavailable (the row then reports it). */
export async function ort(): Promise<Ort> {
  if (!ortModule) {
    try { ortModule = (await import('onnxruntime-node')) as Ort; } catch (e) {
      throw new Error(`onnxruntime-node is not installed or does not load here (npm install --save-dev onnxruntime-node): ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return ortModule;
}

/** Best and median seconds of `reps` onnxruntime runs (after one warm-up) of the model on seeded random inputs. */
export async function timeOnnx(path: string, shapes: Record<string, number[]>, threads: number, reps: number): Promise<Timing & { version: string }> {
  const o = await ort();
  const session = await o.InferenceSession.create(path, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  });
  try {
    let seed = 1;
    const feeds = Object.fromEntries(Object.entries(shapes).map(([name, dims]) => {
      const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; data[i] = seed / 2 ** 32 - 0.5; }
      return [name, new o.Tensor('float32', data, dims)];
    }));
    await session.run(feeds);
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push((performance.now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    return { best: times[0], median: times[Math.floor(times.length / 2)], version: o.env.versions.common ?? 'unknown' };
  } finally {
    await session.release();
  }
}

/** PyTorch's time for the same network (export_onnx.py time), Debian's torch, `threads` threads. */
export function timeTorch(net: OnnxNet, h: number, w: number, threads: number, reps: number): Timing & { torch: string } {
  const out = execFileSync(TORCH_PYTHON, [SCRIPT, 'time', net, String(h), String(w), '--threads', String(threads), '--reps', String(reps)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as Timing & { torch: string };
}

/** onnxruntime's sgemm n³ (a MatMul model), GFLOP/s: one of the bench's independent GEMM peaks. */
export async function onnxGemmGflops(n: number, threads: number): Promise<number> {
  // The best of two sessions: the first one a process creates measured 65-75 GFLOP/s in three runs
  // of four on the 2-core machine, the next ones 280 (its threads settle after a warm-up run of its own).
  let best = Infinity;
  for (let s = 0; s < 2; s++) best = Math.min(best, (await timeOnnx(onnxModel('sgemm', n, n), { a: [n, n], b: [n, n] }, threads, 30)).best);
  return (2 * n ** 3) / best / 1e9;
}
