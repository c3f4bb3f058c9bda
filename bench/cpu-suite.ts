// Issues 4 and 16's CPU figures, each a ratio against a baseline measured in
// this run, every engine on the same thread count: (a) ResNet-50-FPN forward
// at 320×320 and the FCOS dense network at 320² and 800×1216 vs
// onnxruntime-node and PyTorch CPU (Debian python3-torch) on the same
// torchvision networks (bench/onnx-compare.ts), with GFLOP/s per kernel class
// against the highest GEMM peak measured here by independent references
// (bench/peak.ts); (b) conv stacks vs tfjs-backend-wasm (SIMD); (c) max3d vs
// the same computation composed of resize + max + max pool.
import { ensureTorchBaseline } from './torch-env.js';
import { compileGraph, type Program } from '../compiler/program.js';
import { CPU, cpuIsaProfile, cpuTarget, type Target } from '../compiler/target.js';
import { randomTensor, type Tensor } from '../compiler/tensor.js';
import type { Executable, LaunchTime } from '../runtime/interface.js';
import { CpuRuntime } from '../runtime-cpu/runtime.js';
import { loadUnits, nativeOrThrow } from '../runtime-cpu/load.js';
import { machineCpuIsa } from '../runtime-cpu/isa.js';
import { GEMM_V16, GEMM_V8, type GemmShape, gemmProgram, gemmSource } from './gemm-kernel.js';
import { cpuDescription, cReferencePeak, fmaCeiling, highestPeak, type PeakSource, type PeakTile } from './peak.js';
import { onnxGemmGflops, timeTorch } from './onnx.js';
import { compareNetwork } from './onnx-compare.js';
import { benchGraph, convStackSrc, levelShapes, MAX3D_FUSED_SRC, MAX3D_UNFUSED_SRC, R50_FPN_SRC, timeRuns } from './tfjs/graphs.js';
import { tfjsConvStack, useBackend } from './tfjs/conv.js';
import type { BenchRow, BenchSuite } from './run.js';

const SIZE = Number(process.env.FUSEDET_BENCH_R50_SIZE) || 320;

/** fusedet's hand GEMM at the CPU runtime's vector width (its profile: the machine's, or FUSEDET_CPU_ISA). */
export function gemmShape(): GemmShape {
  return new CpuRuntime().target.vectorWidth >= 16 ? GEMM_V16 : GEMM_V8;
}

export async function gemmPeak(n = 512): Promise<number> {
  const s = gemmShape();
  const exe = await loadUnits(gemmProgram(n, n, n, s), [gemmSource(s)]);
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

/**
 * Loads with per-launch timing on (FUSEDET_DEBUG=2 at load), runs silently,
 * returns the per-class breakdown of each launch's best time over `runs`
 * runs after a warm-up (one run's times on this shared machine swung by 20%
 * between runs minutes apart; the other engines' peaks are bests too).
 */
export async function classBreakdown(load: () => Promise<Executable>, program: Program, inputs: Parameters<Executable['run']>[0], params: Map<string, Tensor>, runs = 5): Promise<ClassRow[]> {
  const saved = process.env.FUSEDET_DEBUG;
  process.env.FUSEDET_DEBUG = '2';
  const exe = await load();
  process.env.FUSEDET_DEBUG = '0';
  try {
    await exe.setParams(params);
    await exe.run(inputs);
    let best: LaunchTime[] | undefined;
    for (let r = 0; r < runs; r++) {
      await exe.run(inputs);
      const t = exe.lastTimes();
      best = best ? best.map((b, i) => (t[i].seconds < b.seconds ? t[i] : b)) : [...t];
    }
    return byClass(program, best!);
  } finally {
    if (saved === undefined) delete process.env.FUSEDET_DEBUG; else process.env.FUSEDET_DEBUG = saved;
    exe.dispose();
  }
}

/** Every GEMM peak measurable here (sgemm 512³, the runtime's thread count): fusedet's, the plain-C reference, PyTorch's, onnxruntime's. */
async function peaks(threads: number, notes: string[], raw: Record<string, unknown>): Promise<PeakSource & { ceiling?: number }> {
  const sources: PeakSource[] = [];
  const add = async (name: string, f: () => Promise<number> | number): Promise<void> => {
    try { sources.push({ name, gflops: await f() }); } catch (e) { notes.push(`GEMM peak ${name} failed: ${(e as Error).message.split('\n')[0]}`); }
  };
  await add(`fusedet's sgemm (bench/gemm-kernel.ts, v${gemmShape().vectorWidth}, through the runtime)`, () => gemmPeak());
  let tiles: PeakTile[] = [];
  await add('plain-C register-blocked sgemm (bench/peak.ts, cc -O3 -march=native, best tile)', () => {
    tiles = cReferencePeak(512, threads);
    return Math.max(...tiles.map((t) => t.gflops));
  });
  await add('PyTorch sgemm', () => { const t = timeTorch('sgemm', 512, 512, threads, 30); return (2 * 512 ** 3) / t.best / 1e9; });
  await add('onnxruntime-node sgemm (MatMul)', () => onnxGemmGflops(512, threads));
  const top = highestPeak(sources);
  let ceiling = NaN;
  try { ceiling = fmaCeiling(threads); } catch (e) { notes.push(`FMA ceiling failed: ${(e as Error).message.split('\n')[0]}`); }
  raw.gemmPeaks = { sources, tiles, highest: top, fmaCeiling: ceiling };
  if (Number.isFinite(ceiling)) {
    notes.push(`the machine's multiply-add ceiling on ${threads} threads (bench/peak.ts: the reference micro-kernel on L1-resident operands, all threads at once): ${ceiling.toFixed(1)} GFLOP/s; ` +
      `the highest GEMM peak is ${(100 * top.gflops / ceiling).toFixed(0)}% of it`);
  }
  notes.push(`GEMM peaks measured in this run (512³, ${threads} threads): ${sources.map((p) => `${p.name} ${p.gflops.toFixed(1)} GFLOP/s`).join('; ')}; ` +
    `C reference tiles ${tiles.map((t) => `${t.mr}×${t.nrv * t.vectorWidth} ${t.gflops.toFixed(0)}`).join(', ')}. Kernel classes are reported against the highest: ${top.name}, ${top.gflops.toFixed(1)} GFLOP/s`);
  return { ...top, ceiling };
}

async function r50(rows: BenchRow[], notes: string[], raw: Record<string, unknown>, peak: PeakSource & { ceiling?: number }, threads: number): Promise<void> {
  const cmp = await compareNetwork({ net: 'r50fpn', h: SIZE, w: SIZE, reps: 5, what: `R50-FPN ${SIZE}²`, targetOrt: '≥ 1× (at least as fast)', targetTorch: '≥ 1.5×' }, threads, notes);
  // The machine beside each figure that depends on it.
  for (const row of cmp.rows) row.notes = [...(row.notes ?? []), machineNote()];
  rows.push(...cmp.rows);
  const bg = benchGraph(R50_FPN_SRC, 'R50FPN', { image: [1, 3, SIZE, SIZE] });
  const program = compileGraph(bg.graph, new CpuRuntime().target);
  // A runtime made inside the load: it reads FUSEDET_DEBUG (per-launch timing) when constructed.
  const classes = await classBreakdown(() => new CpuRuntime().load(program), program, bg.inputs, bg.params);
  raw.r50 = { ...(cmp.raw as object), kernels: program.kernels.length, classes };
  const total = classes.reduce((s, c) => s + c.seconds, 0);
  notes.push(`R50-FPN ${SIZE}² by kernel class (FUSEDET_DEBUG=2 per-launch times, each the best of 5 runs, sum ${(total * 1e3).toFixed(1)} ms; % of the highest GEMM peak, ${peak.gflops.toFixed(1)} GFLOP/s): ` +
    classes.map((c) => `${c.cls} ${c.launches}× ${(c.seconds * 1e3).toFixed(1)} ms ${c.gflops.toFixed(1)} GFLOP/s (${(100 * c.gflops / peak.gflops).toFixed(0)}%)`).join('; '));
  const conv = classes.filter((c) => c.cls.startsWith('conv2d'));
  const convSeconds = conv.reduce((s, c) => s + c.seconds, 0);
  if (!(convSeconds > 0)) throw new Error('no per-launch times for the convolutions (FUSEDET_DEBUG=2 timing gave none)');
  const convGflops = conv.reduce((s, c) => s + c.gflops * c.seconds, 0) / convSeconds;
  await avx2Fallback(rows, notes, raw, cmp.rows, bg, program);
  rows.push({
    what: `R50-FPN ${SIZE}² convolutions as a class (${conv.reduce((s, c) => s + c.launches, 0)} launches), against the highest GEMM peak measured in this run`,
    ours: convGflops, baseline: peak.gflops, baselineName: peak.name, unit: 'GFLOP/s', ratio: convGflops / peak.gflops, target: '≥ 0.85 of the peak',
    notes: [
      ...(Number.isFinite(peak.ceiling) ? [`${(100 * convGflops / peak.ceiling!).toFixed(0)}% of the machine's multiply-add ceiling measured in this run (${peak.ceiling!.toFixed(1)} GFLOP/s)`] : []),
      // A Winograd convolution's launches report its direct form's work once (its transforms and 16 GEMMs do 2.25× fewer multiply-adds).
      ...(program.report?.launches.some((l) => l.ops[0] === 'conv2d' && l.flops === 0)
        ? ['convolutions run by Winograd F(2×2, 3×3) count their direct form\'s work (an effective rate; they multiply 2.25× less)'] : []),
    ],
  });
}

/** CPU model, vector ISA and width, and the profile fusedet's kernels were shaped for. */
function machineNote(): string {
  const cpu = cpuDescription(), t = new CpuRuntime().target;
  return `CPU ${cpu.model}, ${cpu.isa}, ${cpu.vectorWidth} f32 lanes; kernels shaped for ${t.cpuIsa} (${t.vectorWidth} lanes, register tile ${t.registerTile.rows}×${t.registerTile.cols})`;
}

/**
 * The R50-FPN forward with the AVX2 profile's kernels (8 lanes, 6×16 tiles:
 * what FUSEDET_CPU_ISA=avx2 or an AVX2-only machine gets), on this machine:
 * its outputs against the default profile's, its time against
 * onnxruntime-node's from the same run. Skipped where the default already is
 * AVX2 (or narrower).
 */
async function avx2Fallback(rows: BenchRow[], notes: string[], raw: Record<string, unknown>, ortRows: readonly BenchRow[], bg: ReturnType<typeof benchGraph>, program: Program): Promise<void> {
  if (new CpuRuntime().target.cpuIsa !== 'avx512') return;
  const ort = ortRows.find((r) => r.baselineName.startsWith('onnxruntime') && r.baseline !== null);
  const run = async (p: Program): Promise<{ best: number; median: number; outs: Tensor[] }> => {
    const exe = await new CpuRuntime().load(p);
    try {
      await exe.setParams(bg.params);
      const t = await timeRuns(exe, bg.inputs, 5);
      return { ...t, outs: Object.values(await exe.run(bg.inputs)) };
    } finally { exe.dispose(); }
  };
  const wide = await run(program);
  const avx2 = await run(compileGraph(bg.graph, cpuTarget(cpuIsaProfile('avx2'))));
  // Relative to each output's largest magnitude: the profiles sum K in different chunk orders.
  let worst = 0;
  wide.outs.forEach((o, i) => {
    let scale = 0;
    o.data.forEach((v) => { scale = Math.max(scale, Math.abs(v)); });
    o.data.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - avx2.outs[i].data[j]) / Math.max(scale, 1e-30)); });
  });
  const agree = worst <= 1e-4;
  raw.avx2Fallback = { best: avx2.best, median: avx2.median, defaultBest: wide.best, maxRelDiff: worst };
  if (!agree) notes.push(`AVX2 profile: R50-FPN outputs differ from the AVX-512 profile's by ${worst.toExponential(2)} of their scale`);
  rows.push({
    what: `ResNet-50-FPN forward ${SIZE}×${SIZE} with the AVX2 profile's kernels (FUSEDET_CPU_ISA=avx2: 8 lanes, 6×16 tiles) on this AVX-512 machine`,
    ours: avx2.best, baseline: ort?.baseline ?? null, baselineName: ort?.baselineName ?? 'onnxruntime-node (not measured)', unit: 's',
    ratio: ort?.baseline ? ort.baseline / avx2.best : null, target: 'correct; reported (no speed target)',
    notes: [
      `outputs ${agree ? 'agree with' : 'DIFFER from'} the AVX-512 profile's: max |difference| ${worst.toExponential(2)} of each output's largest value`,
      `AVX-512 profile in this run ${wide.best.toFixed(4)} s: the AVX2 profile is ${(avx2.best / wide.best).toFixed(2)}× its time`,
      `medians: AVX2 profile ${avx2.median.toFixed(4)} s, AVX-512 profile ${wide.median.toFixed(4)} s`,
      machineNote(),
    ],
  });
}

/** The FCOS dense network at 320² and 800×1216 against onnxruntime-node and PyTorch. */
async function fcos(rows: BenchRow[], notes: string[], raw: Record<string, unknown>, threads: number): Promise<void> {
  const out: unknown[] = [];
  for (const [h, w, reps] of [[320, 320, 5], [800, 1216, 2]]) {
    const cmp = await compareNetwork({ net: 'fcos', h, w, reps, what: `FCOS ${h}×${w}`, targetOrt: '≥ 1× (at least as fast)', targetTorch: '' }, threads, notes);
    rows.push(...cmp.rows);
    out.push(cmp.raw);
  }
  raw.fcos = out;
}

async function convVsWasm(rows: BenchRow[], notes: string[], raw: Record<string, unknown>): Promise<void> {
  notes.push(...(await useBackend('wasm')));
  const cases = [
    // ~1 ms a run: on a shared host about half the runs wait on a descheduled thread (200 runs here:
    // best 1.0 ms, median 1.8), so the best of 20 was often a slow one; 100 cost 0.1 s on our side, 1 s on tfjs's.
    { what: 'four 3×3 convs 64→64 (bias, ReLU) at 32×32', layers: 4, c: 64, hw: 32, reps: 100 },
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
  title: 'CPU runtime (issues 4, 16): R50-FPN and FCOS vs onnxruntime-node and PyTorch CPU, convs vs the highest GEMM peak and tfjs-wasm, fused vs unfused max3d',
  async run() {
    const rows: BenchRow[] = [], notes: string[] = [], raw: Record<string, unknown> = {};
    const step = async (name: string, f: () => Promise<void>): Promise<void> => {
      try { await f(); } catch (e) {
        rows.push({ what: `${name}: failed`, ours: NaN, baseline: null, baselineName: '', unit: 's', ratio: null, notes: [(e as Error).message.split('\n')[0]] });
        notes.push(`${name} failed: ${(e as Error).message.split('\n').slice(0, 3).join(' / ')}`);
      }
    };
    const threads = nativeOrThrow().threads();
    const cpu = cpuDescription();
    const t = new CpuRuntime().target;
    const profile = `${t.cpuIsa} (${t.vectorWidth} lanes, GEMM register tile ${t.registerTile.rows}×${t.registerTile.cols})`;
    notes.push(`CPU: ${cpu.model}, ${cpu.isa} (${cpu.vectorWidth} f32 lanes); fusedet's kernels shaped for ${profile}` +
      `${t.cpuIsa !== machineCpuIsa() ? ` (forced by FUSEDET_CPU_ISA; this machine's would be ${machineCpuIsa()})` : ''}; ${threads} threads for every engine`);
    raw.cpu = { ...cpu, threads, profile: { cpuIsa: t.cpuIsa, vectorWidth: t.vectorWidth, registerTile: t.registerTile } };
    notes.push(...ensureTorchBaseline());
    let peak: PeakSource & { ceiling?: number } = { name: 'none', gflops: NaN };
    await step('GEMM peaks', async () => { peak = await peaks(threads, notes, raw); });
    if (process.env.FUSEDET_BENCH_CPU_SKIP_R50 !== '1') await step('R50-FPN vs onnxruntime-node and PyTorch', () => r50(rows, notes, raw, peak, threads));
    if (process.env.FUSEDET_BENCH_CPU_SKIP_FCOS !== '1') await step('FCOS dense vs onnxruntime-node and PyTorch', () => fcos(rows, notes, raw, threads));
    await step('convs vs tfjs-wasm', () => convVsWasm(rows, notes, raw));
    await step('max3d fused vs unfused', async () => {
      const r = await max3dRows((p) => new CpuRuntime().load(p), CPU, 256, 100, 152, 10, 'CPU');
      rows.push(...r.rows); raw.max3d = r.raw;
      notes.push(...r.rows.map((x) => `${x.what}: ${(x.notes ?? []).join('; ')}`));
    });
    return { rows, raw, notes };
  },
};
