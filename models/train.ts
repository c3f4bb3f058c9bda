// The generic host loop, for any model with a loss entry: a batch in, one
// compiled step, a few scalars out. It owns the schedule, checkpoints (every
// N steps and at the end, atomic), --resume (weights, momentum, step and
// data position from the newest checkpoint: bit-identical continuation on a
// deterministic runtime), the NaN/Inf guard, the progress bar, the JSON log
// and the loss-curve PNG.
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainStep } from '../compiler/train-step.js';
import { Tensor, scalar } from '../compiler/tensor.js';
import type { ConcreteType } from '../compiler/types.js';
import { WriteFs, removeStaleTemps, writeFileAtomicSync } from '../io/files.js';
import { Checkpoint, latestCheckpoint, newestIntact, saveCheckpoint } from './checkpoint/store.js';
import { changedSettings, formatChanges } from './resume-settings.js';
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
  /** With --resume and a damaged newest checkpoint: continue from the newest intact one instead of refusing. */
  resumeIntact?: boolean;
  /** Recorded settings (`lr`, `batch`, `schedule.lr`...) that --resume may find changed (--allow-changed). */
  allowChanged?: string[];
  /** Where notes go (a damaged file set aside, an unverified checkpoint); default stderr. */
  warn?: (line: string) => void;
  /** The fs calls of log and checkpoint writes (tests inject a full disk). */
  fs?: WriteFs;
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

/**
 * The log's entries before step UPTO. A log that does not parse is never
 * overwritten: it is renamed to log.json.damaged-TIME and the note says so
 * (the run's loss history would otherwise be lost without a word).
 */
function readLog(path: string, upTo: number, warn: (line: string) => void): LogEntry[] {
  if (!existsSync(path)) return [];
  let problem: string;
  try {
    const f = JSON.parse(readFileSync(path, 'utf8')) as Partial<LogFile>;
    if (f && Array.isArray(f.entries) && f.entries.every((e) => e && typeof e.step === 'number' && typeof e.scalars === 'object')) {
      return f.entries.filter((e) => e.step < upTo);
    }
    problem = 'it is JSON but not a fusedet training log (no "entries" list of steps)';
  } catch (e) {
    problem = `it is not JSON (${(e as Error).message})`;
  }
  const aside = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, aside);
  warn(`${path} is damaged: ${problem}. Kept it as ${aside}; the new log starts at step ${upTo} (the loss history before it is only in that file)`);
  return [];
}

/** The checkpoint --resume continues from: the newest, or with resumeIntact the newest whole one. */
function resumePoint(o: TrainLoopOptions, warn: (line: string) => void): Checkpoint {
  const scan = newestIntact(o.dir, { model: o.modelId, tensors: stateTypes(o.step) });
  const ck = scan.intact;
  if (scan.damaged.length) {
    const d = scan.damaged[0];
    const what = `the newest checkpoint ${d.path} is damaged: ${d.reason}`;
    if (!ck) throw new TrainError(`--resume: ${what}, and no intact checkpoint is left in ${o.dir}; start over with --force`);
    if (!o.resumeIntact) {
      throw new TrainError(`--resume: ${what}. The newest intact checkpoint is ${ck.path} (step ${ck.step}); pass --resume-intact to continue from it`);
    }
    // Set aside (not deleted: it may be recoverable), so it is neither resumed from nor kept instead of a good one.
    const aside = scan.damaged.map((x) => { renameSync(x.path, `${x.path}.damaged`); return `${x.path}.damaged`; });
    warn(`--resume-intact: ${what}; continuing from ${ck.path} (step ${ck.step}); the damaged file${aside.length > 1 ? 's are' : ' is'} kept as ${aside.join(', ')}`);
  }
  if (!ck) throw new TrainError(`--resume: ${o.dir} holds no checkpoint (step-*.safetensors); run without --resume to start`);
  if (!ck.verified) warn(`${ck.path}: written without per-tensor digests (an older fusedet); loaded unverified`);
  return ck;
}

/** What the NaN guard can promise: only a checkpoint that verifies is called good. */
function lastGood(o: TrainLoopOptions): string {
  if (!latestCheckpoint(o.dir)) return 'no checkpoint was written yet';
  let scan;
  try { scan = newestIntact(o.dir, { model: o.modelId, tensors: stateTypes(o.step) }); } catch (e) {
    return `the checkpoints in ${o.dir} do not load (${(e as Error).message})`;
  }
  const bad = scan.damaged.length ? `; newer ${scan.damaged.map((d) => d.path).join(', ')} damaged (${scan.damaged[0].reason})` : '';
  if (!scan.intact) return `no intact checkpoint is left${bad}`;
  return `last good checkpoint ${scan.intact.path} is intact (${scan.intact.verified ? 'digests verified' : 'unverified: written without digests'})${bad}`;
}

const fmt = (v: number): string => (Number.isFinite(v) ? v.toPrecision(4) : String(v));

function stateTypes(step: TrainStep): Map<string, ConcreteType> {
  return new Map(step.graph.params.map((p) => [p.name, step.graph.values[p.value].type]));
}

export async function trainLoop(o: TrainLoopOptions): Promise<TrainSummary> {
  const logPath = join(o.dir, 'log.json'), plotPath = join(o.dir, 'loss.png');
  const warn = o.warn ?? ((line: string) => { process.stderr.write(line + '\n'); });
  const fsOpt = o.fs ? { fs: o.fs } : {};
  // A run killed while writing left log.json.tmp-PID behind (the issue's full-disk case): its process is gone.
  removeStaleTemps(o.dir);
  let start = 0;
  let log: LogEntry[] = [];
  if (o.resume) {
    const ck = resumePoint(o, warn);
    const path = ck.path;
    const changes = changedSettings(ck.config, o.config, o.allowChanged ?? []);
    if (changes.length) {
      throw new TrainError(`--resume: ${path} was trained with other settings:\n${formatChanges(changes)}\npass --allow-changed ${[...new Set(changes.map((c) => c.name))].join(',')} to continue with the new values, or give the old ones`);
    }
    await o.runner.setState(ck.tensors);
    try { o.batches.restore((ck.state as { data?: unknown } | null)?.data); } catch (e) {
      throw new TrainError(`${path}: ${(e as Error).message}; resume with the same data options`);
    }
    start = ck.step;
    log = readLog(logPath, start, warn);
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
  const saveLog = (): void => writeFileAtomicSync(logPath, JSON.stringify({ model: o.modelId, terms: o.step.terms, config: o.config, entries: log } satisfies LogFile, null, 1), { what: 'training log', ...fsOpt });
  let lastCheckpoint: string | undefined;
  const save = async (completed: number): Promise<void> => {
    // The log first: a kill between the two leaves a log ahead of the newest
    // checkpoint (resume drops the extra entries), never one behind it.
    const tensors = await o.runner.getState();
    saveLog();
    lastCheckpoint = saveCheckpoint(o.dir, {
      step: completed, model: o.modelId, config: o.config,
      state: { data: o.batches.state() }, tensors,
    }, fsOpt);
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
        throw new TrainError(`step ${s}: non-finite training step: ${what}${probe ? `; first non-finite value: ${probe}` : ''}. Stopped without applying it; ${lastGood(o)}. Lower --lr or add --clip`);
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
