// Training-step time and peak memory: fusedet's compiled step on the CPU
// runtime vs the same network in PyTorch on CPU (bench/train_torch.py), each
// in its own child process (peak RSS is per process), in the same run.
// Two kinds of step: on fixed per-location targets (DeFCNTrain.loss_fixed vs
// the same graph in PyTorch), and on ground truth with the assignment inside
// (DeFCNTrain.loss: POTO's match, 3DMF, Quality-ATSS in the one compiled
// program) vs the PyTorch step with the DeFCN authors' host assignment
// (quality on the device, .cpu(), scipy linear_sum_assignment per image).
// Also `node dist/bench/train.js --child CONFIG_JSON`: the fusedet side.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface TrainBenchConfig {
  name: string;
  depth: number; width: number; C: number; K: number; groups: number;
  batch: number; size: number;
  warmup: number; iters: number;
  /** Ground truth per image: the step assigns (DeFCNTrain.loss); absent: fixed targets (loss_fixed). */
  gt?: { boxes: number[][][]; classes: number[][] };
}

export const TINY: TrainBenchConfig = { name: 'tiny DeFCN (TinyResNet w4, C16, K3) 1×64×64', depth: 0, width: 4, C: 16, K: 3, groups: 4, batch: 1, size: 64, warmup: 2, iters: 5 };
export const R50: TrainBenchConfig = { name: 'ResNet-50-FPN DeFCN (C256, K80) 1×320×320', depth: 50, width: 64, C: 256, K: 80, groups: 32, batch: 1, size: 320, warmup: 1, iters: 3 };

/**
 * COCO-like ground truth, the same on both sides (it travels in the config
 * JSON): `count` boxes per image, sides 12 px up to half the image (squared
 * uniform, so most are small, as in COCO), inside the image, random classes.
 */
export function cocoLikeGt(batch: number, size: number, count: number, K: number, seed = 5): NonNullable<TrainBenchConfig['gt']> {
  let s = seed >>> 0;
  const next = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const boxes: number[][][] = [], classes: number[][] = [];
  for (let b = 0; b < batch; b++) {
    boxes.push([]); classes.push([]);
    for (let i = 0; i < count; i++) {
      const w = 12 + next() ** 2 * (size / 2 - 12), h = 12 + next() ** 2 * (size / 2 - 12);
      const x = next() * (size - w), y = next() * (size - h);
      boxes[b].push([x, y, x + w, y + h].map((v) => Math.round(v * 4) / 4));
      classes[b].push(Math.floor(next() * K));
    }
  }
  return { boxes, classes };
}

/** R50 at 320×320 with 16 GTs per image (the G bucket 16): POTO + 3DMF + Aux, assignment inside the step. */
export const R50_GT: TrainBenchConfig = { ...R50, name: 'ResNet-50-FPN DeFCN POTO+3DMF+Aux, assignment in the step (C256, K80) 1×320×320, 16 GTs', gt: cocoLikeGt(1, 320, 16, 80) };

export interface Side { seconds: number | null; peakRssMiB: number | null; error?: string; extra?: Record<string, unknown> }

function child(cmd: string, args: string[], timeoutMs: number): Side {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 24 });
  if (r.error) return { seconds: null, peakRssMiB: null, error: `${cmd}: ${r.error.message}` };
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    const j = JSON.parse(line) as { seconds?: number; peak_rss_mib?: number; peakRssMiB?: number; error?: string };
    if (j.error) return { seconds: null, peakRssMiB: null, error: j.error };
    return { seconds: j.seconds ?? null, peakRssMiB: j.peak_rss_mib ?? j.peakRssMiB ?? null, extra: j };
  } catch {
    return { seconds: null, peakRssMiB: null, error: `${cmd} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}` };
  }
}

/** A python that imports torch and scipy: FUSEDET_PYTHON, python3, or Debian's /usr/bin/python3 (python3-torch). */
function findTorchPython(): string | null {
  for (const py of [process.env.FUSEDET_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)) {
    if (spawnSync(py, ['-c', 'import torch, scipy'], { encoding: 'utf8' }).status === 0) return py;
  }
  return null;
}

/** Repetitions scaled by FUSEDET_BENCH_REPS (a factor, e.g. 0.5 while developing; at least one timed step). */
export function scaled(n: number): number {
  const f = Number(process.env.FUSEDET_BENCH_REPS);
  return Number.isFinite(f) && f > 0 ? Math.max(1, Math.round(n * f)) : n;
}

export function benchTrainConfig(c0: TrainBenchConfig): { ours: Side; torch: Side } {
  const c = { ...c0, iters: scaled(c0.iters) };
  const here = fileURLToPath(import.meta.url);
  const ours = child(process.execPath, [here, '--child', JSON.stringify(c)], 1_200_000);
  const py = findTorchPython();
  if (!py) return { ours, torch: { seconds: null, peakRssMiB: null, error: 'no python with torch and scipy found (set FUSEDET_PYTHON)' } };
  const torch = child(py, [fileURLToPath(new URL('../../bench/train_torch.py', import.meta.url)), JSON.stringify(c)], 1_200_000);
  return { ours, torch };
}

/** The ground-truth inputs of DeFCNTrain.loss: G = the bucket of the count (padded rows zero). */
function gtInputs(c: TrainBenchConfig, G: number) {
  const gt = c.gt!;
  const boxes = new Float32Array(c.batch * G * 4), classes = new Int32Array(c.batch * G), count = new Int32Array(c.batch);
  gt.boxes.forEach((bs, b) => {
    count[b] = bs.length;
    bs.forEach((box, i) => { boxes.set(box, (b * G + i) * 4); classes[b * G + i] = gt.classes[b][i]; });
  });
  return {
    gt_boxes: { dtype: 'f32' as const, shape: [c.batch, G, 4], data: boxes },
    gt_classes: { dtype: 'i32' as const, shape: [c.batch, G], data: classes },
    gt_count: { dtype: 'i32' as const, shape: [c.batch], data: count },
  };
}

/** The fusedet side, in this (child) process. */
async function runOurs(c: TrainBenchConfig): Promise<void> {
  const { checkFiles } = await import('../dsl/index.js');
  const { lower } = await import('../compiler/lower.js');
  const { differentiate } = await import('../compiler/autodiff.js');
  const { DEFAULT_SGD } = await import('../compiler/optimizer.js');
  const { buildTrainStep } = await import('../compiler/train-step.js');
  const { initParams } = await import('../compiler/init.js');
  const { defcnTargetTypes, fixedBatch } = await import('../models/fixed-batch.js');
  const { runtimeRunner } = await import('../models/step-runner.js');
  const { rng } = await import('../compiler/tensor.js');
  const { program } = checkFiles(['models/defcn-train.fd']);
  const args = { depth: c.depth, width: c.width, C: c.C, K: c.K, groups: c.groups };
  const image = { dtype: 'f32' as const, shape: [c.batch, 3, c.size, c.size] };
  const t0 = performance.now();
  let graph;
  if (c.gt) {
    const G = Math.max(...c.gt.boxes.map((b) => b.length));
    const types = { image, gt_boxes: { dtype: 'f32' as const, shape: [c.batch, G, 4] }, gt_classes: { dtype: 'i32' as const, shape: [c.batch, G] }, gt_count: { dtype: 'i32' as const, shape: [c.batch] } };
    // POTO + 3DMF + Aux (the module's defaults: rule 0, mf, aux 1 Quality-ATSS, alpha 0.8, centre prior 1.5).
    graph = lower(program!, { entry: 'DeFCNTrain', fn: 'loss', inputs: types, args });
  } else {
    graph = lower(program!, { entry: 'DeFCNTrain', fn: 'loss_fixed', inputs: { image, ...defcnTargetTypes(c.batch, c.K, c.size) }, args });
  }
  // FUSEDET_DEBUG=5 prints the backward graph, as in `fusedet train`: read here, at the edge.
  const { compileOptionsFromEnv } = await import('../runtime/compile-options.js');
  const debug = compileOptionsFromEnv().debug;
  const step = buildTrainStep(graph, { sgd: DEFAULT_SGD, differentiate: (g, l, o) => differentiate(g, l, { ...o, debug }) });
  let runner;
  try { runner = await runtimeRunner(step, initParams(step.graph, 0), 'cpu'); } catch (e) {
    process.stdout.write(JSON.stringify({ error: `the CPU runtime cannot run the step: ${(e as Error).message.split('\n')[0]}` }) + '\n');
    return;
  }
  const compileSeconds = (performance.now() - t0) / 1000;
  let batch;
  if (c.gt) {
    const next = rng(11);
    const data = new Float32Array(c.batch * 3 * c.size * c.size).map(() => next() * 2 - 1);
    const G = step.graph.values[step.graph.inputs.find((i) => i.name === 'gt_boxes')!.value].type.shape[1];
    batch = { image: { ...image, data }, ...gtInputs(c, G) };
  } else batch = fixedBatch(step.graph, 0);
  const times: number[] = [];
  let loss = NaN, finite = true, cpu0 = process.cpuUsage();
  for (let i = 0; i < c.warmup + c.iters; i++) {
    if (i === c.warmup) cpu0 = process.cpuUsage();
    const t1 = performance.now();
    const r = await runner.step(batch, 0.01, 1);
    times.push((performance.now() - t1) / 1000);
    loss = r.scalars.loss; finite &&= r.finite;
  }
  // Process CPU seconds per timed step (all threads): steadier than wall time on a shared machine.
  const used = process.cpuUsage(cpu0), cpu = (used.user + used.system) / 1e6 / c.iters;
  const sorted = times.slice(c.warmup).sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ seconds: sorted[Math.floor(sorted.length / 2)], best: sorted[0], cpu, peakRssMiB: process.resourceUsage().maxRSS / 1024, loss, finite, compileSeconds }) + '\n');
  runner.dispose();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--child') {
  await runOurs(JSON.parse(process.argv[3]) as TrainBenchConfig);
}
