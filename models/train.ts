// The generic host loop, for any model with a loss entry: a batch in, one
// compiled step, a few scalars out. It owns the schedule, checkpoints (every
// N steps and at the end, atomic), --resume (weights, momentum, step and
// data position from the newest checkpoint: bit-identical continuation on a
// deterministic runtime), the NaN/Inf guard, the progress bar, the JSON log
// and the loss-curve PNG.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TrainStep } from '../compiler/train-step.js';
import { Tensor, scalar } from '../compiler/tensor.js';
import type { ConcreteType } from '../compiler/types.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint/store.js';
import type { BatchSource } from './fixed-batch.js';
import { LogEntry, writeLossPlot } from './loss-plot.js';
import { probeNonFinite } from './nan-probe.js';
import { Schedule, lrAt } from './schedule.js';
import type { StepRunner } from './step-runner.js';
import { FusedetError } from '../io/errors.js';

export class TrainError extends FusedetError {
  constructor(message: string) { super(message); this.name = 'TrainError'; }
}

export interface TrainLoopOptions {
  step: TrainStep;
  runner: StepRunner;
  batches: BatchSource;
  /** Identity written into checkpoints; only the same model's checkpoints load. */
  modelId: string;
  /** The run's options, recorded in checkpoints and the log. */
  config: Record<string, unknown>;
  steps: number;
  schedule: Schedule;
  lossScale: number;
  dir: string;
  checkpointEvery: number;
  resume: boolean;
  /** Draw the cli-progress bar on stderr. */
  progress: boolean;
  /** Called after each step (tests). */
  onStep?: (e: LogEntry) => void;
  /**
   * Awaited before step `step` draws its batch: a source that reads files
   * decodes it here (BatchSource.next is synchronous), and --eval-every
   * evaluates the weights of the steps done so far.
   */
  beforeStep?: (step: number) => Promise<void>;
}

export interface TrainSummary {
  startStep: number;
  log: LogEntry[];
  checkpoint?: string;
  seconds: number;
  logPath: string;
  plotPath: string;
}

interface LogFile { model: string; terms: string[]; config: unknown; entries: LogEntry[] }

function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 1));
  renameSync(tmp, path);
}

function readLog(path: string, upTo: number): LogEntry[] {
  if (!existsSync(path)) return [];
  try {
    const f = JSON.parse(readFileSync(path, 'utf8')) as LogFile;
    return f.entries.filter((e) => e.step < upTo);
  } catch {
    return [];
  }
}

const fmt = (v: number): string => (Number.isFinite(v) ? v.toPrecision(4) : String(v));

function stateTypes(step: TrainStep): Map<string, ConcreteType> {
  return new Map(step.graph.params.map((p) => [p.name, step.graph.values[p.value].type]));
}

export async function trainLoop(o: TrainLoopOptions): Promise<TrainSummary> {
  const logPath = join(o.dir, 'log.json'), plotPath = join(o.dir, 'loss.png');
  let start = 0;
  let log: LogEntry[] = [];
  if (o.resume) {
    const path = latestCheckpoint(o.dir);
    if (!path) throw new TrainError(`--resume: ${o.dir} holds no checkpoint (step-*.safetensors); run without --resume to start`);
    const ck = loadCheckpoint(path, { model: o.modelId, tensors: stateTypes(o.step) });
    await o.runner.setState(ck.tensors);
    try { o.batches.restore((ck.state as { data?: unknown } | null)?.data); } catch (e) {
      throw new TrainError(`${path}: ${(e as Error).message}; resume with the same data options`);
    }
    start = ck.step;
    log = readLog(logPath, start);
    if (start >= o.steps) throw new TrainError(`--resume: ${path} is at step ${start}, already at --steps ${o.steps}; give more --steps`);
  }

  type Bar = { start(total: number, value: number, payload?: object): void; update(value: number, payload?: object): void; stop(): void };
  let bar: Bar | null = null;
  if (o.progress) {
    const { default: progress } = await import('cli-progress');
    const terms = o.step.terms.map((t) => `${t} {${t}}`).join(' ');
    bar = new progress.SingleBar({
      stream: process.stderr, hideCursor: true,
      format: `train [{bar}] {value}/{total} | {rate} it/s | ${terms} | lr {lr} | ETA {eta_formatted}`,
    }, progress.Presets.shades_classic);
    bar.start(o.steps, start, { rate: '-', lr: '-', ...Object.fromEntries(o.step.terms.map((t) => [t, '-'])) });
  }
  const saveLog = (): void => writeJsonAtomic(logPath, { model: o.modelId, terms: o.step.terms, config: o.config, entries: log } satisfies LogFile);
  let lastCheckpoint: string | undefined;
  const save = async (completed: number): Promise<void> => {
    // The log first: a kill between the two leaves a log ahead of the newest
    // checkpoint (resume drops the extra entries), never one behind it.
    const tensors = await o.runner.getState();
    saveLog();
    lastCheckpoint = saveCheckpoint(o.dir, {
      step: completed, model: o.modelId, config: o.config,
      state: { data: o.batches.state() }, tensors,
    });
  };

  const t0 = performance.now();
  try {
    for (let s = start; s < o.steps; s++) {
      await o.beforeStep?.(s);
      const inputs: Record<string, Tensor> = o.batches.next();
      const lr = lrAt(o.schedule, s);
      const r = await o.runner.step(inputs, lr, o.lossScale);
      const entry: LogEntry = { step: s, lr, scalars: r.scalars };
      if (!r.finite) {
        bar?.stop(); bar = null;
        saveLog();
        const term = [...o.step.terms, 'grad_norm'].find((t) => !Number.isFinite(r.scalars[t]));
        const what = term === 'grad_norm' || term === undefined
          ? `the gradient norm is ${r.scalars.grad_norm}${r.firstNonFinite ? `; first non-finite tensor: the update of '${r.firstNonFinite}'` : ''}`
          : `loss term '${term}' is ${r.scalars[term]}`;
        const state = await o.runner.getState();
        const probe = probeNonFinite(o.step.graph, { ...inputs, lr: scalar('f32', lr), loss_scale: scalar('f32', o.lossScale) }, state);
        const kept = latestCheckpoint(o.dir);
        throw new TrainError(`step ${s}: non-finite training step: ${what}${probe ? `; first non-finite value: ${probe}` : ''}. Stopped without applying it; ${kept ? `last good checkpoint ${kept} is intact` : 'no checkpoint was written yet'}. Lower --lr or add --clip`);
      }
      log.push(entry);
      o.onStep?.(entry);
      const done = s + 1;
      if (bar) {
        const secs = (performance.now() - t0) / 1000;
        bar.update(done, { rate: ((done - start) / Math.max(secs, 1e-9)).toFixed(2), lr: lr.toExponential(2), ...Object.fromEntries(o.step.terms.map((t) => [t, fmt(r.scalars[t])])) });
      }
      if (done === o.steps || (o.checkpointEvery > 0 && done % o.checkpointEvery === 0)) await save(done);
    }
  } finally {
    bar?.stop();
  }
  await writeLossPlot(plotPath, log, o.step.terms);
  return { startStep: start, log, checkpoint: lastCheckpoint, seconds: (performance.now() - t0) / 1000, logPath, plotPath };
}
