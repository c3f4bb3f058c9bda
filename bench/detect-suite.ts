// Issue 13's inference figure: end to end (image file → decode, resize,
// normalise, pad → network → post-processing inside the compiled `detect`
// entry → final boxes read back), batch 1:
//   - DeFCN without NMS (configs/table1-poto-3dmf-aux.json) vs FCOS with NMS
//     (configs/table1-fcos.json) on the CPU runtime at 320×320 and 800×1216;
//   - the same comparison on the WebGPU runtime with the CPU-sized configs
//     (configs/small-defcn.json vs configs/small-fcos.json: tiny ResNet, 64
//     FPN channels, 10 classes) at 128×128: Dawn runs on SwiftShader here, a
//     Vulkan on the CPU (~1 GFLOP/s), where R50-FPN is too slow for a bench
//     row (DeFCN at 64×64: 196 s for the first call, compiling the shaders
//     and one run, then 6-10 s per image, measured at load average 22 on 2
//     cores: minutes per model, so earlier runs left the row out);
//   - DeFCN vs torchvision's fcos_resnet50_fpn with its own transform,
//     post-processing and NMS on PyTorch CPU, 2 threads (bench/torch/detect_tv.py).
// Random weights on every side (fusedet: the models' own init rules,
// compiler/init.ts; torchvision: weights=None). Random heads put every score
// near the 0.01 prior, below the configs' 0.05 threshold, which would leave
// NMS nothing to do; so every side runs with score threshold 0: each level's
// top 1000 candidates reach the merge and NMS, as on a busy image. For the
// same reason fusedet's box-head bias is 1 (see timeFusedet).
// Env: FUSEDET_BENCH_REPS scales repetitions; FUSEDET_BENCH_DETECT_SIZES
// (e.g. "320x320"; "none": only WebGPU) limits the CPU sizes; FUSEDET_BENCH_DETECT_GPU_SIZE
// (default 128; 0 skips WebGPU).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchRow, BenchSuite } from './run.js';
import { ensureTorchBaseline, TORCH_PYTHON } from './torch-env.js';
import { scaled } from './train.js';

const DEFCN = 'table1-poto-3dmf-aux', FCOS = 'table1-fcos';
/** The WebGPU row's models: CPU-sized (see the top of this file). */
const GPU_DEFCN = 'small-defcn', GPU_FCOS = 'small-fcos';
const THREADS = 2;

/** Wall seconds per image (best, median) and the process's CPU seconds per image (all threads; steadier than wall time on a shared machine). */
interface Timing { best: number; median: number; cpu: number; detections: number; compileSeconds?: number }

/** A noisy gradient image (PNG) of w×h: decoding it costs what a photo's decode costs, roughly. */
async function testImage(dir: string, w: number, h: number): Promise<string> {
  const { writePng } = await import('../data/image.js');
  const data = new Uint8Array(w * h * 3);
  let s = 7;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[(y * w + x) * 3 + c] = (((x * (c + 1)) ^ (y * (3 - c))) & 255) * 0.7 + (s >>> 24) * 0.3;
  }
  const path = join(dir, `image-${w}x${h}.png`);
  await writePng(path, { width: w, height: h, data });
  return path;
}

/** One config's detector on random weights, its test size set to the image's (no resize), padded to 32 as torchvision pads. */
async function timeFusedet(configName: string, runtime: string, image: string, w: number, h: number, reps: number): Promise<Timing> {
  const { loadConfig } = await import('../models/config.js');
  const { Detector, detectArgs, lowerDetect } = await import('../models/detector.js');
  const { initParams } = await import('../compiler/init.js');
  const base = loadConfig(configName);
  const cfg = { ...base, data: { ...base.data, testShortSide: Math.min(w, h), testMaxSize: Math.max(w, h), sizeBucket: 32 } };
  const o = { scoreThreshold: 0 };
  const weights = initParams(lowerDetect(cfg, detectArgs(cfg, o), 1, 64, 64), cfg.schedule.seed);
  // The box head's bias 1 (init: 0): ltrb = relu(scale · (conv + 1)) · stride ≈ the stride, so every box is
  // non-empty as a trained head's are. With bias 0 about 15 of 16 random boxes have a zero side and the
  // post-processing drops them as empty, leaving the merge and NMS almost nothing to do.
  const bias = weights.get('head.box.bias');
  if (!bias) throw new Error(`${configName}: no head.box.bias among the detect entry's parameters`);
  bias.data.fill(1);
  const det = Detector.fromTensors(cfg, weights, { ...o, runtime });
  try {
    const t0 = performance.now();
    let out = await det.detectFile(image); // compiles this shape's program
    const compileSeconds = (performance.now() - t0) / 1000;
    const times: number[] = [];
    const c0 = process.cpuUsage();
    for (let r = 0; r < reps; r++) {
      const t1 = performance.now();
      out = await det.detectFile(image);
      times.push((performance.now() - t1) / 1000);
    }
    const c1 = process.cpuUsage(c0);
    times.sort((a, b) => a - b);
    return { best: times[0], median: times[Math.floor(times.length / 2)], cpu: (c1.user + c1.system) / 1e6 / reps, detections: out.detections.length, compileSeconds };
  } finally { det.dispose(); }
}

function timeTorchvision(image: string, w: number, h: number, reps: number): Timing & { input: number[]; torch: string; torchvision: string } {
  const out = execFileSync(TORCH_PYTHON, ['bench/torch/detect_tv.py', image, String(Math.min(w, h)), String(Math.max(w, h)), String(reps), String(THREADS), '0'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const ms = (t: Timing): string => `best ${(t.best * 1000).toFixed(1)} ms, median ${(t.median * 1000).toFixed(1)} ms, CPU time ${(t.cpu * 1000).toFixed(1)} ms per image, ${t.detections} detections`;

async function atSize(rows: BenchRow[], notes: string[], raw: Record<string, unknown>, dir: string, w: number, h: number, reps: number): Promise<void> {
  const image = await testImage(dir, w, h);
  const size = `${w}×${h}`;
  const defcn = await timeFusedet(DEFCN, 'cpu', image, w, h, reps);
  const fcos = await timeFusedet(FCOS, 'cpu', image, w, h, reps);
  const tv = timeTorchvision(image, w, h, reps);
  raw[`cpu ${size}`] = { defcn, fcos, torchvision: tv };
  rows.push({
    what: `${size} CPU runtime: DeFCN without NMS vs FCOS with NMS (fusedet, R50-FPN)`, ours: defcn.best * 1000, baseline: fcos.best * 1000,
    baselineName: 'fusedet FCOS + NMS, CPU runtime', unit: 'ms', ratio: fcos.best / defcn.best, notes: [`DeFCN ${ms(defcn)}`, `FCOS ${ms(fcos)}`],
  });
  rows.push({
    what: `${size} DeFCN without NMS (fusedet CPU runtime) vs torchvision fcos_resnet50_fpn + NMS`, ours: defcn.best * 1000, baseline: tv.best * 1000,
    baselineName: `torchvision ${tv.torchvision} FCOS + NMS, PyTorch ${tv.torch} CPU, ${THREADS} threads`, unit: 'ms', ratio: tv.best / defcn.best,
    target: '≥ 1.2×', notes: [`torchvision ${ms(tv)}, its input ${tv.input.join('×')}`],
  });
  const short = [['DeFCN', defcn], ['FCOS', fcos], ['torchvision', tv]].filter(([, t]) => (t as Timing).detections < 100).map(([n, t]) => `${n as string} ${(t as Timing).detections}`);
  if (short.length) notes.push(`WARNING ${size}: fewer than 100 detections (${short.join(', ')}): candidates were dropped before the merge/NMS, so that side's post-processing did less work than a busy image asks`);
  notes.push(`${size} by process CPU time per image (steadier than wall time on a shared machine): DeFCN ${(defcn.cpu * 1000).toFixed(0)} ms, FCOS + NMS ${(fcos.cpu * 1000).toFixed(0)} ms (${(fcos.cpu / defcn.cpu).toFixed(2)}×), torchvision FCOS + NMS ${(tv.cpu * 1000).toFixed(0)} ms (${(tv.cpu / defcn.cpu).toFixed(2)}×)`);
  notes.push(`${size}: fusedet compile on first call: DeFCN ${defcn.compileSeconds!.toFixed(1)} s, FCOS ${fcos.compileSeconds!.toFixed(1)} s (not in the times)`);
}

async function onWebGpu(rows: BenchRow[], notes: string[], raw: Record<string, unknown>, dir: string, s: number, reps: number): Promise<void> {
  const image = await testImage(dir, s, s);
  const defcn = await timeFusedet(GPU_DEFCN, 'webgpu', image, s, s, reps);
  const fcos = await timeFusedet(GPU_FCOS, 'webgpu', image, s, s, reps);
  raw[`webgpu ${s}×${s}`] = { configs: [GPU_DEFCN, GPU_FCOS], defcn, fcos };
  rows.push({
    what: `${s}×${s} WebGPU runtime (Dawn on SwiftShader, a CPU Vulkan): DeFCN without NMS vs FCOS with NMS (fusedet, the small CPU-sized configs ${GPU_DEFCN} / ${GPU_FCOS}, not R50-FPN)`,
    ours: defcn.best * 1000, baseline: fcos.best * 1000,
    baselineName: `fusedet FCOS + NMS (${GPU_FCOS}), WebGPU runtime`, unit: 'ms', ratio: fcos.best / defcn.best, notes: [`DeFCN ${ms(defcn)}`, `FCOS ${ms(fcos)}`],
  });
  notes.push(`${s}×${s} WebGPU: first call (compiling the shaders, then one run; not in the times): DeFCN ${defcn.compileSeconds!.toFixed(1)} s, FCOS ${fcos.compileSeconds!.toFixed(1)} s; ${GPU_DEFCN} / ${GPU_FCOS} (tiny ResNet, 64 FPN channels, 10 classes) because SwiftShader runs R50-FPN's shaders on the CPU`);
}

export const detectSuite: BenchSuite = {
  name: 'detect',
  title: 'End-to-end inference (image file to final boxes), batch 1: DeFCN without NMS vs FCOS with NMS, and vs torchvision FCOS + NMS',
  async run() {
    const rows: BenchRow[] = [], notes: string[] = ensureTorchBaseline(), raw: Record<string, unknown> = {};
    const dir = mkdtempSync(join(tmpdir(), 'fusedet-detect-'));
    const step = async (name: string, f: () => Promise<void>): Promise<void> => {
      try { await f(); } catch (e) {
        rows.push({ what: `${name}: failed`, ours: NaN, baseline: null, baselineName: '', unit: 'ms', ratio: null, notes: [(e as Error).message.split('\n')[0]] });
        notes.push(`${name} failed: ${(e as Error).message.split('\n').slice(0, 3).join(' / ')}`);
      }
    };
    // "none" (or empty) runs no CPU size: only the WebGPU row.
    const sizes = (process.env.FUSEDET_BENCH_DETECT_SIZES ?? '320x320,1216x800').split(',').filter((s) => s !== '' && s !== 'none').map((s) => s.split('x').map(Number) as [number, number]);
    try {
      for (const [w, h] of sizes) await step(`${w}×${h} CPU`, () => atSize(rows, notes, raw, dir, w, h, scaled(w * h > 320 * 320 ? 5 : 10)));
      const gpu = Number(process.env.FUSEDET_BENCH_DETECT_GPU_SIZE ?? 128);
      if (gpu > 0) await step(`${gpu}×${gpu} WebGPU`, () => onWebGpu(rows, notes, raw, dir, gpu, scaled(3)));
    } finally { rmSync(dir, { recursive: true, force: true }); }
    notes.push(`DeFCN vs FCOS here is network + post-processing: DeFCN's head adds 3DMF (a 3×3 256→256 conv on every level, max3d, GroupNorm, the filter conv) that ${FCOS} (no centerness) does not run, and drops FCOS's NMS`);
    notes.push(`R50-FPN configs ${DEFCN} and ${FCOS} with random weights (their init rules; torchvision weights=None, 80 classes), score threshold 0 everywhere (random heads score ≈ 0.01, below 0.05), fusedet's box-head bias 1 (boxes ≈ 2 strides wide; with 0 most random boxes are empty and dropped before NMS), top 1000 per level, 100 detections, NMS IoU 0.6; images padded to a multiple of 32, no resize (the image is the test size); PyTorch with OMP_WAIT_POLICY=PASSIVE (spinning OpenMP waits made it several times slower on this shared machine)`);
    return { rows, raw, notes };
  },
};
