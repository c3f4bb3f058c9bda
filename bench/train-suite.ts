// The training suite: one compiled training step (forward + loss + backward
// + SGD) on the CPU runtime vs PyTorch CPU (bench/train.ts does the
// measuring): tiny config and ResNet-50-FPN at 320×320 on fixed targets, and
// R50 DeFCN (POTO + 3DMF + Aux) on ground truth with the assignment inside
// the compiled step vs PyTorch with the authors' host scipy assignment.
// Plus issue 12's per-image figure: the whole assignment of one image
// (quality, prior, match, aux) at 800×1333 with G = 100 as a compiled
// program (models/assign.fd AssignImage) vs numpy + scipy
// (bench/torch/assign_np.py).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchRow, BenchSuite } from './run.js';
import { R50, R50_GT, TINY, benchTrainConfig, scaled, type TrainBenchConfig } from './train.js';
import { ensureTorchBaseline, TORCH_PYTHON } from './torch-env.js';

const STRIDES = [8, 16, 32, 64, 128], K = 80;

/** AssignImage's inputs for one H×W image: random heads (scores around DeFCN's prior, boxes near their locations) and G COCO-like GTs. */
async function assignInputs(H: number, W: number, G: number, seed: number) {
  const { rng, tensor } = await import('../compiler/tensor.js');
  const next = rng(seed);
  const sizes: number[] = [], pts: number[] = [], strides: number[] = [];
  for (const s of STRIDES) {
    const h = Math.ceil(H / s), w = Math.ceil(W / s);
    sizes.push(h * w);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) { pts.push(j * s + Math.floor(s / 2), i * s + Math.floor(s / 2)); strides.push(s); }
  }
  const N = strides.length;
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const boxes: number[] = [];
  for (let n = 0; n < N; n++) {
    const s = strides[n], [x, y] = [pts[2 * n], pts[2 * n + 1]];
    const d = [0, 1, 2, 3].map(() => s * Math.exp(gauss() * 0.7) * 2);
    boxes.push(x - d[0], y - d[1], x + d[2], y + d[3]);
  }
  const gb: number[] = [], gc: number[] = [];
  for (let g = 0; g < G; g++) {
    const bw = 8 + next() ** 2 * (W / 2), bh = 8 + next() ** 2 * (H / 2), x1 = next() * (W - bw), y1 = next() * (H - bh);
    gb.push(x1, y1, x1 + bw, y1 + bh); gc.push(Math.floor(next() * K));
  }
  return {
    sizes, N,
    inputs: {
      points: tensor('f32', [N, 2], pts), strides: tensor('f32', [N], strides),
      cls_logits: tensor('f32', [N, K], Array.from({ length: N * K }, () => -4.6 + 2 * gauss())),
      filter_logits: tensor('f32', [N, 1], Array.from({ length: N }, () => gauss())),
      pred_boxes: tensor('f32', [N, 4], boxes), gt_boxes: tensor('f32', [G, 4], gb), gt_classes: tensor('f32', [G], gc), gt_count: tensor('i32', [1], [G]),
    },
  };
}

export interface AssignComparison {
  G: number; N: number; sizes: number[];
  ours: { best: number; median: number }; numpy: { best: number; median: number };
  /** POTO's matched totals (ours, scipy's) and the locations whose Quality-ATSS owner differs. */
  total: number; numpyTotal: number; auxDiffer: number;
}

/** The whole assignment of one H×W image with G GTs: AssignImage on the CPU runtime and bench/torch/assign_np.py on the same inputs. */
export async function compareAssign(H: number, W: number, G: number, reps: number, seed = 12): Promise<AssignComparison> {
  const { checkFilesOrThrow } = await import('../dsl/index.js');
  const { lower } = await import('../compiler/lower.js');
  const { compileGraph } = await import('../compiler/program.js');
  const { CPU } = await import('../compiler/target.js');
  const { CpuRuntime } = await import('../runtime-cpu/runtime.js');
  const { timeRuns } = await import('./tfjs/graphs.js');
  const { sizes, N, inputs } = await assignInputs(H, W, G, seed);
  const settings = { alpha: 0.8, quality: 0, prior: 0, radius: 1.5, aux_topk: 9, use_filter: true };
  const [n3, n4, n5, n6, n7] = sizes;
  const types = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape] }]));
  const graph = lower(checkFilesOrThrow(['models/assign.fd']), { entry: 'AssignImage', inputs: types, args: { n3, n4, n5, n6, n7, ...settings } });
  const exe = await new CpuRuntime().load(compileGraph(graph, CPU));
  let ours, out;
  try {
    ours = await timeRuns(exe, inputs, reps);
    out = await exe.run(inputs);
  } finally { exe.dispose(); }
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-assign-'));
  let np: { best: number; median: number; poto_total: number; aux_match: number[] };
  try {
    const shapes: Record<string, number[]> = {};
    for (const [k, t] of Object.entries(inputs)) if (t.dtype === 'f32') { writeFileSync(join(dir, `${k}.f32`), Buffer.from(Float32Array.from(t.data).buffer)); shapes[k] = [...t.shape]; }
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ shapes, sizes, ...settings }));
    np = JSON.parse(execFileSync(TORCH_PYTHON, ['bench/torch/assign_np.py', dir, String(Math.max(1, Math.round(reps / 3)))], { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n').pop()!);
  } finally { rmSync(dir, { recursive: true, force: true }); }
  const total = out.poto_total.data[0];
  let differ = 0;
  for (let n = 0; n < N; n++) if (out.aux_match.data[n] !== np.aux_match[n]) differ++;
  return { G, N, sizes, ours, numpy: { best: np.best, median: np.median }, total, numpyTotal: np.poto_total, auxDiffer: differ };
}

async function assignRow(rows: BenchRow[], notes: string[], raw: Record<string, unknown>): Promise<void> {
  const H = 800, W = 1333;
  const r = await compareAssign(H, W, 100, scaled(10));
  raw.assign = r;
  const { G, N, ours, numpy: np, total, numpyTotal, auxDiffer } = r;
  rows.push({
    what: `whole assignment of one image (POTO quality with 3DMF, centre prior, match, Quality-ATSS aux), ${H}×${W} (N = ${N}), G = ${G}, K = ${K}`,
    ours: ours.best * 1000, baseline: np.best * 1000, baselineName: 'numpy + scipy linear_sum_assignment', unit: 'ms', ratio: np.best / ours.best,
    notes: [`medians: ours ${(ours.median * 1000).toFixed(1)} ms, numpy ${(np.median * 1000).toFixed(1)} ms`],
  });
  notes.push(`assignment per image: POTO totals ours ${total.toFixed(4)} vs scipy ${numpyTotal.toFixed(4)}; Quality-ATSS owners differ at ${auxDiffer} of ${N} locations (float32 vs float64 near ties); ours is AssignImage compiled for the CPU runtime, input upload included`);
}

export const trainSuite: BenchSuite = {
  name: 'train',
  title: 'Training step: fusedet CPU runtime vs PyTorch CPU (DeFCN, SGD; with the assignment inside vs the authors\' scipy assignment)',
  async run() {
    const rows: BenchRow[] = [];
    const notes: string[] = ensureTorchBaseline();
    const raw: Record<string, unknown> = {};
    const configs: TrainBenchConfig[] = process.env.FUSEDET_BENCH_TRAIN === 'tiny' ? [TINY] : [TINY, R50, R50_GT];
    for (const c of configs) {
      const r = benchTrainConfig(c);
      raw[c.name] = r;
      const ratio = (a: number | null, b: number | null): number | null => (a && b ? b / a : null);
      const base = c.gt ? 'PyTorch CPU + scipy assignment on the host' : 'PyTorch CPU';
      rows.push({ what: `${c.name}: step time`, ours: r.ours.seconds ?? NaN, baseline: r.torch.seconds, baselineName: base, unit: 's', ratio: ratio(r.ours.seconds, r.torch.seconds), target: c.gt ? '≥ 1× (at least as fast)' : '≤ 1.5× PyTorch\'s time' });
      rows.push({ what: `${c.name}: peak RSS`, ours: r.ours.peakRssMiB ?? NaN, baseline: r.torch.peakRssMiB, baselineName: base, unit: 'MiB', ratio: ratio(r.ours.peakRssMiB, r.torch.peakRssMiB) });
      const cpu = (x: typeof r.ours): number | undefined => x.extra?.cpu as number | undefined;
      const co = cpu(r.ours), ct = cpu(r.torch);
      if (co && ct) notes.push(`${c.name}: process CPU time per step (all threads; steadier than wall time on a shared machine): fusedet ${co.toFixed(2)} s, ${base} ${ct.toFixed(2)} s (${(ct / co).toFixed(2)}×)`);
      if (r.ours.error) notes.push(`${c.name}: fusedet: ${r.ours.error}`);
      if (r.torch.error) notes.push(`${c.name}: PyTorch: ${r.torch.error}`);
    }
    if (process.env.FUSEDET_BENCH_TRAIN !== 'tiny') {
      try { await assignRow(rows, notes, raw); } catch (e) { notes.push(`assignment per image failed: ${(e as Error).message.split('\n').slice(0, 3).join(' / ')}`); }
    }
    notes.push('the R50 steps start from random weights (each side its own init); the GT step trains on 16 COCO-like boxes (12 px to half the image), the same on both sides; both sides use all cores; PyTorch with OMP_WAIT_POLICY=PASSIVE (spinning OpenMP waits made it several times slower on a shared machine)');
    return { rows, raw, notes };
  },
};
