// Training-step time and peak memory: fusedet's compiled step on the CPU
// runtime vs the same graph in PyTorch on CPU (bench/train_torch.py), each in
// its own child process (peak RSS is per process), in the same run.
// Also `node dist/bench/train.js --child CONFIG_JSON`: the fusedet side.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface TrainBenchConfig {
  name: string;
  depth: number; width: number; C: number; K: number; groups: number;
  batch: number; size: number;
  warmup: number; iters: number;
}

export const TINY: TrainBenchConfig = { name: 'tiny DeFCN (TinyResNet w4, C16, K3) 1×64×64', depth: 0, width: 4, C: 16, K: 3, groups: 4, batch: 1, size: 64, warmup: 2, iters: 5 };
export const R50: TrainBenchConfig = { name: 'ResNet-50-FPN DeFCN (C256, K80) 1×320×320', depth: 50, width: 64, C: 256, K: 80, groups: 32, batch: 1, size: 320, warmup: 1, iters: 3 };

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

/** A python that imports torch: FUSEDET_PYTHON, python3, or Debian's /usr/bin/python3 (python3-torch). */
function findTorchPython(): string | null {
  for (const py of [process.env.FUSEDET_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)) {
    if (spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return py;
  }
  return null;
}

export function benchTrainConfig(c: TrainBenchConfig): { ours: Side; torch: Side } {
  const here = fileURLToPath(import.meta.url);
  const ours = child(process.execPath, [here, '--child', JSON.stringify(c)], 1_200_000);
  const py = findTorchPython();
  if (!py) return { ours, torch: { seconds: null, peakRssMiB: null, error: 'no python with torch found (set FUSEDET_PYTHON)' } };
  const torch = child(py, [fileURLToPath(new URL('../../bench/train_torch.py', import.meta.url)), JSON.stringify(c)], 1_200_000);
  return { ours, torch };
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
  const { program } = checkFiles(['models/defcn-train.fd']);
  const inputs = { image: { dtype: 'f32' as const, shape: [c.batch, 3, c.size, c.size] }, ...defcnTargetTypes(c.batch, c.K, c.size) };
  const graph = lower(program!, { entry: 'DeFCNTrain', fn: 'loss_fixed', inputs, args: { depth: c.depth, width: c.width, C: c.C, K: c.K, groups: c.groups } });
  const step = buildTrainStep(graph, { sgd: DEFAULT_SGD, differentiate });
  let runner;
  try { runner = await runtimeRunner(step, initParams(step.graph, 0), 'cpu'); } catch (e) {
    process.stdout.write(JSON.stringify({ error: `the CPU runtime cannot run the step: ${(e as Error).message.split('\n')[0]}` }) + '\n');
    return;
  }
  const batch = fixedBatch(step.graph, 0);
  const times: number[] = [];
  let loss = NaN;
  for (let i = 0; i < c.warmup + c.iters; i++) {
    const t0 = performance.now();
    const r = await runner.step(batch, 0.01, 1);
    times.push((performance.now() - t0) / 1000);
    loss = r.scalars.loss;
  }
  const sorted = times.slice(c.warmup).sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ seconds: sorted[Math.floor(sorted.length / 2)], peakRssMiB: process.resourceUsage().maxRSS / 1024, loss }) + '\n');
  runner.dispose();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--child') {
  await runOurs(JSON.parse(process.argv[3]) as TrainBenchConfig);
}
