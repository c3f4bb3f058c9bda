// Issue 4's CPU figures, each a ratio against a baseline measured in this run:
// (a) ResNet-50-FPN forward at 320×320 vs PyTorch CPU (Debian python3-torch,
// 2 threads), with GFLOP/s per kernel class against the GEMM peak measured
// here; (b) conv stacks vs tfjs-backend-wasm (SIMD); (c) max3d vs the same
// computation composed of resize + max + max pool.
import { ensureTorchBaseline, TORCH_PYTHON } from './torch-env.js';
import { execFileSync, execSync } from 'node:child_process';
import { compileGraph, type Program } from '../compiler/program.js';
import { CPU, type Target } from '../compiler/target.js';
import { randomTensor, type Tensor } from '../compiler/tensor.js';
import type { Executable, LaunchTime } from '../runtime/interface.js';
import { CpuRuntime } from '../runtime-cpu/runtime.js';
import { loadUnits, nativeOrThrow } from '../runtime-cpu/load.js';
import { GEMM_V16, gemmProgram, gemmSource } from './gemm-kernel.js';
import { benchGraph, convStackSrc, levelShapes, MAX3D_FUSED_SRC, MAX3D_UNFUSED_SRC, R50_FPN_SRC, timeRuns } from './tfjs/graphs.js';
import { tfjsConvStack, useBackend } from './tfjs/conv.js';
import type { BenchRow, BenchSuite } from './run.js';

const PYTHON = TORCH_PYTHON;
const SIZE = Number(process.env.FUSEDET_BENCH_R50_SIZE) || 320;

export async function gemmPeak(n = 512): Promise<number> {
  const exe = await loadUnits(gemmProgram(n, n, n, GEMM_V16), [gemmSource(GEMM_V16)]);
  const t = await timeRuns(exe, { a: randomTensor([n, n], 1), b: randomTensor([n, n], 2) }, 30);
  exe.dispose();
  return (2 * n ** 3) / t.best / 1e9;
}

export interface ClassRow { cls: string; launches: number; seconds: number; gflops: number }

/** Launch times summed by kernel class (the fused kernel's anchor op), GFLOP/s from the fusion report. */
export function byClass(program: Program, times: readonly LaunchTime[]): ClassRow[] {
  const rows = new Map<string, ClassRow & { flops: number }>();
  times.forEach((t, i) => {
    const r = program.report?.launches[i];
    const cls = r?.ops[0] ?? t.kernel;
    const row = rows.get(cls) ?? { cls, launches: 0, seconds: 0, flops: 0, gflops: 0 };
    row.launches++; row.seconds += t.seconds; row.flops += r?.flops ?? 0;
    rows.set(cls, row);
  });
  return [...rows.values()].map(({ flops, ...r }) => ({ ...r, gflops: flops / r.seconds / 1e9 })).sort((a, b) => b.seconds - a.seconds);
}

/** Loads with per-launch timing on (FUSEDET_DEBUG=2 at load), runs silently, returns the per-class breakdown. */
export async function classBreakdown(load: () => Promise<Executable>, program: Program, inputs: Parameters<Executable['run']>[0], params: Map<string, Tensor>): Promise<ClassRow[]> {
  const saved = process.env.FUSEDET_DEBUG;
  process.env.FUSEDET_DEBUG = '2';
  const exe = await load();
  process.env.FUSEDET_DEBUG = '0';
  try {
    await exe.setParams(params);
    await exe.run(inputs);
    await exe.run(inputs);
    return byClass(program, exe.lastTimes());
  } finally {
    if (saved === undefined) delete process.env.FUSEDET_DEBUG; else process.env.FUSEDET_DEBUG = saved;
    exe.dispose();
  }
}

function ensureTorch(notes: string[]): void {
  notes.push(...ensureTorchBaseline());
}

async function r50(rows: BenchRow[], notes: string[], raw: Record<string, unknown>): Promise<void> {
  const peak = await gemmPeak();
  raw.gemmPeakGflops = peak;
  ensureTorch(notes);
  const bg = benchGraph(R50_FPN_SRC, 'R50FPN', { image: [1, 3, SIZE, SIZE] });
  const program = compileGraph(bg.graph, CPU);
  const rt = new CpuRuntime();
  const exe = await rt.load(program);
  await exe.setParams(bg.params);
  const ours = await timeRuns(exe, bg.inputs, 5);
  exe.dispose();
  const torchOut = execFileSync(PYTHON, ['bench/torch/r50_fpn.py', '--size', String(SIZE), '--threads', '2', '--reps', '5'], { encoding: 'utf8' });
  const torch = JSON.parse(torchOut.trim().split('\n').pop()!) as { best: number; median: number; torch: string; sgemm512_gflops: number };
  const classes = await classBreakdown(() => rt.load(program), program, bg.inputs, bg.params);
  const flops = (program.report?.launches ?? []).reduce((s, l) => s + l.flops, 0);
  raw.r50 = { size: SIZE, kernels: program.kernels.length, launches: program.launches.length, gflop: flops / 1e9, ours, torch, classes };
  rows.push({
    what: `ResNet-50-FPN forward ${SIZE}×${SIZE}, batch 1 (R50FPN: models/resnet.fd ResNet(50) + models/fpn.fd FPN, as in DeFCN)`,
    ours: ours.best, baseline: torch.best, baselineName: `PyTorch ${torch.torch} CPU, 2 threads`, unit: 's', ratio: torch.best / ours.best,
    target: '≥ 1× (at least as fast)',
    notes: [`medians: ours ${ours.median.toFixed(3)} s, torch ${torch.median.toFixed(3)} s`, `${(flops / ours.best / 1e9).toFixed(1)} GFLOP/s overall (${(flops / 1e9).toFixed(2)} GFLOP)`],
  });
  notes.push(`GEMM peak measured in this run (bench/gemm-kernel.ts sgemm 512³, ${nativeOrThrow().threads()} threads): ${peak.toFixed(1)} GFLOP/s; PyTorch's own sgemm 512³ here: ${torch.sgemm512_gflops.toFixed(1)} GFLOP/s`);
  const total = classes.reduce((s, c) => s + c.seconds, 0);
  notes.push(`R50-FPN ${SIZE}² by kernel class (FUSEDET_DEBUG=2 per-launch times, sum ${(total * 1e3).toFixed(1)} ms): ` +
    classes.map((c) => `${c.cls} ${c.launches}× ${(c.seconds * 1e3).toFixed(1)} ms ${c.gflops.toFixed(1)} GFLOP/s (${(100 * c.gflops / peak).toFixed(0)}% of peak)`).join('; '));
}

async function convVsWasm(rows: BenchRow[], notes: string[], raw: Record<string, unknown>): Promise<void> {
  notes.push(...(await useBackend('wasm')));
  const cases = [
    { what: 'four 3×3 convs 64→64 (bias, ReLU) at 32×32', layers: 4, c: 64, hw: 32, reps: 20 },
    { what: 'one 3×3 conv 256→256 (bias, ReLU) at 64×64', layers: 1, c: 256, hw: 64, reps: 5 },
  ];
  const out: unknown[] = [];
  for (const k of cases) {
    const bg = benchGraph(convStackSrc(k.layers, k.c), 'ConvStack', { x: [1, k.c, k.hw, k.hw] });
    const exe = await new CpuRuntime().load(compileGraph(bg.graph, CPU));
    await exe.setParams(bg.params);
    const ours = await timeRuns(exe, bg.inputs, k.reps);
    exe.dispose();
    const theirs = await tfjsConvStack(k.layers, k.c, k.hw, k.hw, k.reps);
    const gflop = (2 * 9 * k.c * k.c * k.hw * k.hw * k.layers) / 1e9;
    out.push({ ...k, ours, theirs, gflop });
    rows.push({
      what: k.what, ours: ours.best, baseline: theirs.best, baselineName: 'tfjs-backend-wasm (SIMD)', unit: 's', ratio: theirs.best / ours.best, target: '≥ 5× faster',
      notes: [`ours ${(gflop / ours.best).toFixed(1)} GFLOP/s, tfjs ${(gflop / theirs.best).toFixed(1)} GFLOP/s`],
    });
  }
  raw.convVsWasm = out;
}

/**
 * Fused max3d vs its composition on a runtime, shared with the WebGPU suite.
 * Two baselines: the composition compiled with fusion off (every op its own
 * kernel, resized frames materialised: the "unfused" of issue 4), and with
 * fusion on (what the compiler makes of the composition by itself).
 */
export async function max3dRows(load: (p: Program) => Promise<Executable>, target: Target, c: number, h: number, w: number, reps: number, runtimeName: string): Promise<{ rows: BenchRow[]; raw: unknown }> {
  const shapes = Object.fromEntries(levelShapes(c, h, w).map((s, l) => [`p${l}`, s]));
  let first: Tensor[] | undefined;
  const timed = async (src: string, entry: string, fuse: boolean): Promise<{ best: number; median: number; launches: number; classes: ClassRow[]; maxAbsDiff: number }> => {
    const bg = benchGraph(src, entry, shapes);
    const program = compileGraph(bg.graph, target, { fuse });
    const exe = await load(program);
    const t = await timeRuns(exe, bg.inputs, reps);
    const classes = byClass(program, exe.lastTimes());
    // Same inputs (same seeds) in every variant: the outputs must agree, or the comparison is void.
    const outs = Object.values(await exe.run(bg.inputs));
    exe.dispose();
    first ??= outs;
    let maxAbsDiff = 0;
    outs.forEach((o, i) => o.data.forEach((v, j) => { maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - first![i].data[j])); }));
    return { ...t, launches: program.launches.length, classes, maxAbsDiff };
  };
  const fused = await timed(MAX3D_FUSED_SRC, 'Max3dFused', true);
  const unfused = await timed(MAX3D_UNFUSED_SRC, 'Max3dUnfused', false);
  const composedFused = await timed(MAX3D_UNFUSED_SRC, 'Max3dUnfused', true);
  const size = `${runtimeName}; 5 levels, C ${c}, P3 ${h}×${w}, tau 2, phi 3`;
  const row = (what: string, base: typeof unfused, name: string): BenchRow => ({
    what, ours: fused.best, baseline: base.best, baselineName: name, unit: 's', ratio: base.best / fused.best, target: '≥ 2×',
    notes: [`launches: max3d ${fused.launches}, baseline ${base.launches}; medians ${fused.median.toFixed(4)} s vs ${base.median.toFixed(4)} s; outputs agree within ${base.maxAbsDiff.toExponential(1)}`],
  });
  return {
    raw: { c, h, w, fused, unfused, composedFused },
    rows: [
      row(`max3d vs unfused resize + maximum + max_pool2d (${size})`, unfused, 'composition, fusion off, same runtime'),
      row(`max3d vs the same composition with compiler fusion on (${size})`, composedFused, 'composition, fusion on, same runtime'),
    ],
  };
}

export const cpuSuite: BenchSuite = {
  name: 'cpu',
  title: 'CPU runtime (issue 4): R50-FPN vs PyTorch CPU, convs vs tfjs-wasm, fused vs unfused max3d',
  async run() {
    const rows: BenchRow[] = [], notes: string[] = [], raw: Record<string, unknown> = {};
    const step = async (name: string, f: () => Promise<void>): Promise<void> => {
      try { await f(); } catch (e) {
        rows.push({ what: `${name}: failed`, ours: NaN, baseline: null, baselineName: '', unit: 's', ratio: null, notes: [(e as Error).message.split('\n')[0]] });
        notes.push(`${name} failed: ${(e as Error).message.split('\n').slice(0, 3).join(' / ')}`);
      }
    };
    if (process.env.FUSEDET_BENCH_CPU_SKIP_R50 !== '1') await step('R50-FPN vs PyTorch', () => r50(rows, notes, raw));
    await step('convs vs tfjs-wasm', () => convVsWasm(rows, notes, raw));
    await step('max3d fused vs unfused', async () => {
      const r = await max3dRows((p) => new CpuRuntime().load(p), CPU, 256, 100, 152, 10, 'CPU');
      rows.push(...r.rows); raw.max3d = r.raw;
      notes.push(...r.rows.map((x) => `${x.what}: ${(x.notes ?? []).join('; ')}`));
    });
    return { rows, raw, notes };
  },
};
