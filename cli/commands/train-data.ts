// `fusedet train --config C --data ANNOTATIONS --out runs/NAME`: trains a
// config's training entry (models/config.ts) on a COCO JSON or .odgt
// dataset through data/loader.ts, one compiled step per batch shape
// (models/shape-runner.ts). Checkpoints record the config (name + model
// hash); --resume continues bit-identically on the CPU runtime (weights,
// momentum, step, data position). --val evaluates every --eval-every steps
// and at the end (models/evaluate.ts's evaluateDetector), drawing the AP
// curve beside the loss.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { listCheckpoints } from '../../models/checkpoint/store.js';
import type { ConcreteType } from '../../compiler/types.js';
import type { Tensor } from '../../compiler/tensor.js';
import type { LogEntry } from '../../models/loss-plot.js';

export interface DataTrainFlags {
  config: string;
  data?: string;
  out?: string;
  val?: string;
  evalEvery?: number;
  images?: string;
  /** Leave out (counted, one warning line each) images that are missing, do not decode, or have inconsistent boxes. */
  skipBad: boolean;
  /** Where --skip-bad's warning lines and count go (default: stderr). */
  warn?: (line: string) => void;
  steps?: number;
  runtime: string;
  resume: boolean;
  force: boolean;
  progress: boolean;
  /** Set by H6's --allow-changed when present; passed through untouched. */
  [extra: string]: unknown;
}

export interface EvalPoint { step: number; metrics: Record<string, number> }

export interface DataTrainResult {
  dir: string;
  log: LogEntry[];
  startStep: number;
  steps: number;
  seconds: number;
  where: string;
  compiles: number;
  /** Seconds spent lowering, compiling and loading steps (inside `seconds`). */
  compileSeconds: number;
  checkpoint?: string;
  evals: EvalPoint[];
  terms: string[];
  /** Images left out under --skip-bad, by reason. */
  skipped: { missing: number; undecodable: number; inconsistent: number; records: number };
}

/** Trains; returns what happened (the demo and the quality run read it). Prints nothing but the progress bar. */
export async function trainOnData(f: DataTrainFlags): Promise<DataTrainResult> {
  const { loadConfig, checkConfigModels, configRecord } = await import('../../models/config.js');
  const cfg = loadConfig(f.config);
  if (!f.data) throw new UserError('fusedet train: --config needs --data ANNOTATIONS (COCO JSON or .odgt)', 2);
  if (!f.out) throw new UserError('fusedet train: --config needs --out DIR (checkpoints, log, curves)', 2);
  if (f.evalEvery !== undefined && !f.val) throw new UserError('fusedet train: --eval-every needs --val ANNOTATIONS', 2);
  if (f.resume && f.force) throw new UserError('fusedet train: --resume and --force contradict each other', 2);
  const dir = f.out;
  if (f.resume && listCheckpoints(dir).length === 0) throw new UserError(`fusedet train: --resume: ${dir} holds no checkpoint (step-*.safetensors); run without --resume to start`);
  if (!f.resume && !f.force && listCheckpoints(dir).length > 0) throw new UserError(`fusedet train: ${dir} already holds checkpoints; pass --resume to continue from the newest or --force to start over`);
  if (f.val && !existsSync(f.val)) throw new UserError(`fusedet train: --val ${f.val}: no such annotation file`);
  checkConfigModels(cfg);

  const { openTrainingData, DatasetBatches, boxBucket } = await import('../../models/dataset-batches.js');
  const opened = await openTrainingData(f.data, { images: f.images, skipBad: f.skipBad });
  // Every image checked before the first step (boxes, then pixels): a bad one is an error naming it now, or,
  // under --skip-bad, a warning line and one image fewer.
  const { screenDataset } = await import('../../data/loader.js');
  const warn = f.warn ?? ((line: string) => { process.stderr.write(line + '\n'); });
  const screened = await screenDataset(opened.dataset, {
    classCount: opened.classNames.length, skipBad: f.skipBad,
    onBad: (b) => warn(`warning: --skip-bad: skipping ${b.file}: ${b.entry}: ${b.problem}`),
  });
  const skipped = { missing: opened.skippedFiles, undecodable: screened.undecodable, inconsistent: screened.inconsistent, records: opened.skippedRecords.count };
  // Records the annotation reader dropped (a negative-size box, an unknown category): one line each, as for images.
  for (const m of opened.skippedRecords.examples) warn(`warning: --skip-bad: skipping a record of ${f.data}: ${m}`);
  if (skipped.records > opened.skippedRecords.examples.length) warn(`warning: --skip-bad: ... and ${skipped.records - opened.skippedRecords.examples.length} more bad records in ${f.data}`);
  if (f.skipBad && (skipped.missing || screened.bad.length || skipped.records)) {
    warn(`--skip-bad: skipped ${skipped.missing + screened.bad.length} of ${opened.dataset.images.length + skipped.missing} images ` +
      `(${skipped.missing} missing, ${skipped.undecodable} undecodable, ${skipped.inconsistent} with inconsistent annotations)` +
      `${skipped.records ? ` and ${skipped.records} bad annotation record${skipped.records === 1 ? '' : 's'}` : ''}; training on ${screened.dataset.images.length}`);
  }
  if (screened.dataset.images.length === 0) throw new UserError(`fusedet train: ${f.data}: no usable images left (${screened.bad.length} skipped as bad)`);
  const data = { ...opened, dataset: screened.dataset };
  const K = cfg.train.args.K;
  if (typeof K === 'number' && data.classNames.length > K) {
    throw new UserError(`fusedet train: ${f.data} has ${data.classNames.length} classes (${data.classNames.slice(0, 5).join(', ')}…), more than the config's train.args.K = ${K} (${cfg.path})`);
  }
  const s = cfg.schedule;
  const steps = f.steps ?? s.steps;
  const batches = new DatasetBatches(data, cfg.data, s.batch, s.seed);

  const { checkFilesOrThrow } = await import('../../dsl/index.js');
  const { lower } = await import('../../compiler/lower.js');
  const { initParams } = await import('../../compiler/init.js');
  const { buildTrainStep } = await import('../../compiler/train-step.js');
  const { differentiate } = await import('../../compiler/autodiff.js');
  const { compileOptionsFromEnv } = await import('../../runtime/compile-options.js');
  const { referenceRunner, runtimeRunner } = await import('../../models/step-runner.js');
  const { ShapeRunner } = await import('../../models/shape-runner.js');
  const { trainLoop } = await import('../../models/train.js');
  const { writeLossPlot } = await import('../../models/loss-plot.js');

  const program = checkFilesOrThrow([cfg.train.source]);
  const sgd = { momentum: s.momentum, weightDecay: s.weightDecay, weightDecayNorm: s.weightDecayNorm, clipNorm: s.clip };
  // FUSEDET_DEBUG read here, at the edge (5: the graph after autodiff).
  const { debug } = compileOptionsFromEnv();
  const build = (inputs: Record<string, ConcreteType>) =>
    buildTrainStep(lower(program, { entry: cfg.train.module, fn: cfg.train.fn, inputs, args: cfg.train.args }), { sgd, differentiate: (g, loss, o) => differentiate(g, loss, { ...o, debug }) });
  // Any shape names the parameters (their types do not depend on the inputs).
  const side = Math.ceil(cfg.data.shortSides[0]! / cfg.data.sizeBucket) * cfg.data.sizeBucket, G = boxBucket(0, cfg.data.minBoxes);
  const nominal = build({
    image: { dtype: 'f32', shape: [s.batch, 3, side, side] }, gt_boxes: { dtype: 'f32', shape: [s.batch, G, 4] },
    gt_classes: { dtype: 'i32', shape: [s.batch, G] }, gt_count: { dtype: 'i32', shape: [s.batch] },
  });
  let compileSeconds = 0;
  const runner = new ShapeRunner({
    build, nominal, initial: initParams(nominal.graph, s.seed),
    open: async (step, state) => (f.runtime === 'reference' ? referenceRunner(step, state) : runtimeRunner(step, state, f.runtime)),
    onCompile: (_key, secs) => { compileSeconds += secs; },
  });

  // Evaluation during training: the weights so far, on --val, through the detector's inference entry.
  const evals: EvalPoint[] = [];
  const modelId = `${cfg.train.source}:${cfg.train.module}.${cfg.train.fn}#${cfg.modelHash}`;
  const evaluate = f.val ? await evaluator(cfg, f.val, f.runtime, dir, modelId, data.classNames) : undefined;
  const evalAt = async (step: number): Promise<void> => {
    if (!evaluate) return;
    const metrics = await evaluate(await runner.getState(), step);
    evals.push({ step, metrics });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'eval.json'), JSON.stringify({ config: cfg.name, val: f.val, evals }, null, 1));
    await writeLossPlot(join(dir, 'ap.png'), evals.map((e) => ({ step: e.step, lr: 0, scalars: e.metrics })), ['AP', 'AP50']);
  };
  let first: number | undefined;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ name: cfg.name, path: cfg.path, modelHash: cfg.modelHash, classes: data.classNames }, null, 1));
  try {
    const r = await trainLoop({
      step: runner.view, runner, batches, dir, steps, schedule: { lr: s.lr, warmup: s.warmup, warmupFactor: s.warmupFactor, milestones: s.milestones, gamma: s.gamma },
      modelId,
      config: { experiment: configRecord(cfg), data: f.data, val: f.val ?? null, classNames: data.classNames, schedule: { ...s, steps }, runtime: f.runtime },
      lossScale: 1, checkpointEvery: s.checkpointEvery, resume: f.resume, progress: f.progress,
      resumeIntact: f['resume-intact'] === true, allowChanged: String(f['allow-changed'] ?? '').split(',').filter((x) => x !== ''),
      async beforeStep(step) {
        if (first === undefined) first = step;
        else if (f.evalEvery && step % f.evalEvery === 0) await evalAt(step);
        await batches.prepare();
      },
    });
    if (evaluate && (evals.at(-1)?.step ?? -1) !== steps) await evalAt(steps);
    return {
      dir, log: r.log, startStep: r.startStep, steps, seconds: r.seconds, where: runner.where, compiles: runner.compiles, compileSeconds,
      checkpoint: r.checkpoint, evals, terms: runner.view.terms, skipped,
    };
  } finally {
    runner.dispose();
  }
}

type Evaluate = (state: Map<string, Tensor>, step: number) => Promise<Record<string, number>>;

/**
 * Scores the weights so far on --val (COCO JSON, .odgt or a folder; both
 * protocols where the ground truth allows) with the config's own
 * post-processing (NMS for FCOS, none for DeFCN): the state is written as
 * DIR/eval/step-N.safetensors and run by models/evaluate.ts's
 * evaluateDetector, as `fusedet eval --weights` would.
 */
async function evaluator(cfg: import('../../models/config.js').DetectorConfig, val: string, runtime: string, dir: string, modelId: string, classNames: string[]): Promise<Evaluate> {
  const { openTestSet, evaluateRun } = await import('./demo-eval.js');
  const { saveCheckpoint } = await import('../../models/checkpoint/store.js');
  const { configRecord } = await import('../../models/config.js');
  const test = await openTestSet(val);
  return async (state, step) => {
    const weights = saveCheckpoint(join(dir, 'eval'), { step, model: modelId, config: { experiment: configRecord(cfg), classNames }, state: null, tensors: state });
    const { metrics } = await evaluateRun({ config: cfg.path, weights, test, out: join(dir, 'eval'), runtime });
    return { ...metrics };
  };
}
