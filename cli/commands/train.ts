// `fusedet train --config C --data ANNOTATIONS --out DIR`: trains a detector
// config on a dataset (cli/commands/train-data.ts).
// `fusedet train MODEL.fd --entry NAME --fixed-batch --steps N ...`: trains
// any model with a loss entry (a function returning the loss first, then
// other scalar terms) with SGD on one fixed batch, checkpointing into
// --checkpoint-dir.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { parseArgSpecs, parseInputSpecs } from '../input-spec.js';
import type { SgdOptions } from '../../compiler/optimizer.js';
import type { ConcreteType } from '../../compiler/types.js';
import { listCheckpoints } from '../../models/checkpoint/store.js';
import type { Schedule } from '../../models/schedule.js';
import type { StepRunner } from '../../models/step-runner.js';

const usage = `usage: fusedet train MODEL.fd --entry NAME --fixed-batch --checkpoint-dir DIR [options]
       fusedet train --config C --data ANNOTATIONS --out DIR [options]

With --config: trains the config's training entry (configs/NAME.json; its
schedule, data pipeline and model) on COCO JSON or CrowdHuman .odgt with
their images: multi-scale, flip, one compiled step per batch shape.
Writes DIR/step-N.safetensors (they record the config), DIR/log.json,
DIR/loss.png and, with --val, DIR/eval.json and DIR/ap.png.

  --config C              a file or a name in configs/ (e.g. small-defcn)
  --data FILE             training annotations (.json COCO, .odgt CrowdHuman, or a
                          folder holding annotations.json / annotations.odgt)
  --images DIR            image folder (default: beside the annotations, or its images/)
  --out DIR               the run's folder
  --val FILE              evaluate on these annotations (COCO JSON, .odgt or a folder)
                          at the end and every --eval-every steps, both protocols
  --eval-every N          evaluate every N steps
  --steps N               override the config's schedule.steps
  --skip-bad              leave out images that are missing, do not decode (truncated/corrupt) or
                          have inconsistent boxes, and bad annotation records (one warning each, counted)
  --runtime, --resume, --force, --no-progress as below

With MODEL.fd: trains the entry module's loss function (it returns the loss first, then any
other scalar loss terms) with SGD + momentum. Prints each step's losses in a
progress bar on stderr; writes DIR/step-N.safetensors checkpoints, DIR/log.json
(every step's losses and lr) and DIR/loss.png.

options:
  --entry NAME            module to train (required)
  --fn NAME               its loss function (default: loss_fixed, the training entries'
                          fixed-target loss; their loss takes ground truth: --config)
  --fixed-batch           train on one fixed batch of per-location targets drawn from
                          --seed (no assignment: the overfit check; real data: --config)
  --input SPEC            an entry input type, e.g. image=f32[2,3,64,64] (repeatable);
                          default image=f32[B,3,S,S] from --batch/--size and, for
                          cls_target/box_target/box_weight_map, DeFCN's per-location maps
  --batch B               images per batch (default 2)
  --size S                image side, a multiple of 32 (default 64)
  --arg NAME=VALUE        constructor argument of the entry, e.g. K=3 (repeatable)
  --steps N               steps to train to (default 100)
  --lr X                  base learning rate (default 0.01)
  --warmup N              linear warm-up iterations from lr/1000 (default 0)
  --decay-steps A,B       multiply lr by 0.1 at these steps (default none)
  --momentum X            (default 0.9)
  --weight-decay X        on conv weights, biases, scales (default 1e-4)
  --weight-decay-norm X   on GroupNorm weight and bias (default 0)
  --clip X                clip gradients to global L2 norm X (default: off)
  --loss-scale X          loss scaling (default 1)
  --runtime R             cpu, webgpu, cuda, auto or reference (default cpu:
                          deterministic, so --resume is bit-identical there)
  --checkpoint-dir DIR    checkpoints, log.json, loss.png (required)
  --checkpoint-every N    save every N steps, and at the end (default 50)
  --resume                continue from DIR's newest checkpoint
  --resume-intact         with --resume: if the newest checkpoint is damaged, continue
                          from the newest intact one (without it --resume refuses)
  --allow-changed A,B     with --resume: accept these settings (lr, momentum, batch,
                          size, ...) differing from the checkpoint's (else refused)
  --force                 start over in a DIR that already holds checkpoints
  --seed K                seed of the parameters and the batch (default 0)
  --no-progress           no progress bar
`;

function num(name: string, raw: string | undefined, def: number, check: (v: number) => boolean = Number.isFinite): number {
  if (raw === undefined) return def;
  const v = Number(raw);
  if (!check(v)) throw new UserError(`fusedet train: --${name} '${raw}' is not valid`, 2);
  return v;
}
const count = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;

const train: Command = {
  name: 'train',
  summary: 'train a model\'s loss entry with SGD: progress, checkpoints, --resume, loss log and curve',
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv);
    if (values.config !== undefined) return configCommand(values, positionals);
    if (positionals.length === 0) throw new UserError(`fusedet train: no .fd file given (or give --config C --data ANNOTATIONS --out DIR)\n${usage}`, 2);
    return trainCommand(values, positionals);
  },
};

function parseFlags(argv: string[]) {
  try {
    return parseArgs({
      args: argv, allowPositionals: true,
      options: {
        entry: { type: 'string' }, fn: { type: 'string', default: 'loss_fixed' },
        'fixed-batch': { type: 'boolean', default: false }, data: { type: 'string' },
        input: { type: 'string', multiple: true, default: [] }, arg: { type: 'string', multiple: true, default: [] },
        batch: { type: 'string' }, size: { type: 'string' }, steps: { type: 'string' }, lr: { type: 'string' },
        warmup: { type: 'string' }, 'decay-steps': { type: 'string' }, momentum: { type: 'string' },
        'weight-decay': { type: 'string' }, 'weight-decay-norm': { type: 'string' }, clip: { type: 'string' },
        'loss-scale': { type: 'string' }, runtime: { type: 'string', default: 'cpu' },
        'checkpoint-dir': { type: 'string' }, 'checkpoint-every': { type: 'string' },
        resume: { type: 'boolean', default: false }, force: { type: 'boolean', default: false },
        'resume-intact': { type: 'boolean', default: false }, 'allow-changed': { type: 'string' },
        seed: { type: 'string' }, 'no-progress': { type: 'boolean', default: false },
        config: { type: 'string' }, out: { type: 'string' }, val: { type: 'string' }, 'eval-every': { type: 'string' },
        images: { type: 'string' }, 'skip-bad': { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new UserError(`fusedet train: ${(e as Error).message}\n${usage}`, 2);
  }
}

async function trainCommand(values: ReturnType<typeof parseFlags>['values'], positionals: string[]): Promise<number> {
  if (!values.entry) throw new UserError('fusedet train: --entry NAME is required (the module with the loss function)', 2);
  if (values.data !== undefined) throw new UserError('fusedet train: --data trains a detector config: give --config C --data ANNOTATIONS --out DIR (MODEL.fd takes --fixed-batch)', 2);
  if (!values['fixed-batch']) throw new UserError('fusedet train: give --fixed-batch (the only data source for now)', 2);
  const dir = values['checkpoint-dir'];
  if (!dir) throw new UserError('fusedet train: --checkpoint-dir DIR is required', 2);
  if (!['cpu', 'webgpu', 'cuda', 'auto', 'reference'].includes(values.runtime)) throw new UserError(`fusedet train: --runtime must be cpu, webgpu, cuda, auto or reference, not '${values.runtime}'`, 2);
  if (values.resume && values.force) throw new UserError('fusedet train: --resume and --force contradict each other', 2);
  if (values.resume && listCheckpoints(dir).length === 0) {
    throw new UserError(`fusedet train: --resume: ${dir} holds no checkpoint (step-*.safetensors); run without --resume to start`);
  }
  if (!values.resume && !values.force && listCheckpoints(dir).length > 0) {
    throw new UserError(`fusedet train: ${dir} already holds checkpoints; pass --resume to continue from the newest or --force to start over`);
  }
  const B = num('batch', values.batch, 2, (v) => count(v) && v > 0);
  const S = num('size', values.size, 64, (v) => count(v) && v > 0 && v % 32 === 0);
  const seed = num('seed', values.seed, 0, Number.isSafeInteger);
  const steps = num('steps', values.steps, 100, count);
  const decay = (values['decay-steps'] ?? '').split(',').filter((x) => x !== '').map((x) => num('decay-steps', x, 0, count));
  const schedule: Schedule = { lr: num('lr', values.lr, 0.01), warmup: num('warmup', values.warmup, 0, count), warmupFactor: 1e-3, milestones: decay, gamma: 0.1 };
  // DEFCN.md's defaults (compiler/optimizer.ts DEFAULT_SGD), repeated so flag errors need no compiler.
  const sgd: SgdOptions = {
    momentum: num('momentum', values.momentum, 0.9), weightDecay: num('weight-decay', values['weight-decay'], 1e-4),
    weightDecayNorm: num('weight-decay-norm', values['weight-decay-norm'], 0), clipNorm: num('clip', values.clip, 0, (v) => v >= 0),
  };
  const lossScale = num('loss-scale', values['loss-scale'], 1, (v) => v > 0);
  const every = num('checkpoint-every', values['checkpoint-every'], 50, count);

  const args = parseArgSpecs(values.arg);
  const given = parseInputSpecs(values.input);
  // Loaded after the flags are checked: a usage error costs no compiler start-up.
  const { checkFilesOrThrow } = await import('../../dsl/index.js');
  const { lower } = await import('../../compiler/lower.js');
  const { findFn } = await import('../../dsl/elab/call.js');
  const { initParams } = await import('../../compiler/init.js');
  const { buildTrainStep } = await import('../../compiler/train-step.js');
  const { defcnTargetTypes, fixedSource } = await import('../../models/fixed-batch.js');
  const { referenceRunner, runtimeRunner } = await import('../../models/step-runner.js');
  const { trainLoop } = await import('../../models/train.js');
  const program = checkFilesOrThrow(positionals);
  const K = typeof args.K === 'number' ? args.K : 80;
  const inputs: Record<string, ConcreteType> = { image: { dtype: 'f32', shape: [B, 3, S, S] }, ...defcnTargetTypes(B, K, S), ...given };
  // Only the inputs the entry takes.
  const decl = program.modules.get(values.entry);
  const fn = decl ? findFn(decl.items, values.fn) : undefined;
  const wanted = fn ? Object.fromEntries(fn.params.filter((p) => p.name in inputs).map((p) => [p.name, inputs[p.name]])) : given;
  const lossGraph = lower(program, { entry: values.entry, fn: values.fn, inputs: wanted, args });

  const { differentiate } = await import('../../compiler/autodiff.js');
  const { compileOptionsFromEnv } = await import('../../runtime/compile-options.js');
  // FUSEDET_DEBUG read here, at the edge (5: the graph after autodiff).
  const { debug } = compileOptionsFromEnv();
  const step = buildTrainStep(lossGraph, { sgd, differentiate: (g, loss, o) => differentiate(g, loss, { ...o, debug }) });
  let runner: StepRunner;
  if (values.runtime === 'reference') runner = referenceRunner(step, initParams(step.graph, seed));
  // Made after the runtime loads the step: one over the memory limit is refused before any parameter exists.
  else runner = await runtimeRunner(step, () => initParams(step.graph, seed), values.runtime);
  const modelId = `${basename(positionals[0])}:${values.entry}.${values.fn}`;
  const config = { model: positionals[0], entry: values.entry, fn: values.fn, args, inputs: wanted, steps, schedule, sgd, lossScale, seed, runtime: values.runtime, batch: B, size: S };
  try {
    const r = await trainLoop({
      step, runner, batches: fixedSource(step.graph, seed), modelId, config, steps, schedule, lossScale, dir,
      checkpointEvery: every, resume: values.resume, resumeIntact: values['resume-intact'],
      allowChanged: (values['allow-changed'] ?? '').split(',').filter((x) => x !== ''), progress: !values['no-progress'] && process.stderr.isTTY === true,
    });
    const first = r.log.find((e) => e.step === r.startStep), last = r.log.at(-1);
    const show = (e: typeof last): string => (e ? step.terms.map((t) => `${t} ${e.scalars[t].toPrecision(5)}`).join(', ') : '-');
    process.stdout.write(`trained steps ${r.startStep}..${steps - 1} on ${runner.where} in ${r.seconds.toFixed(1)} s` +
      ` (${((steps - r.startStep) / Math.max(r.seconds, 1e-9)).toFixed(2)} it/s)\n` +
      `first: ${show(first)}\nlast:  ${show(last)}\n` +
      `checkpoint ${r.checkpoint ?? '-'}\nlog ${r.logPath}\ncurve ${r.plotPath}\n`);
  } finally {
    runner.dispose();
  }
  return 0;
}

async function configCommand(values: ReturnType<typeof parseFlags>['values'], positionals: string[]): Promise<number> {
  if (positionals.length) throw new UserError(`fusedet train: --config trains the config's own model; drop '${positionals[0]}'`, 2);
  if (!['cpu', 'webgpu', 'cuda', 'auto', 'reference'].includes(values.runtime)) throw new UserError(`fusedet train: --runtime must be cpu, webgpu, cuda, auto or reference, not '${values.runtime}'`, 2);
  const formOnly = ['entry', 'fixed-batch', 'checkpoint-dir', 'input', 'arg', 'batch', 'size', 'lr', 'warmup', 'decay-steps', 'momentum',
    'weight-decay', 'weight-decay-norm', 'clip', 'loss-scale', 'seed', 'checkpoint-every'] as const;
  for (const flag of formOnly) {
    const v = values[flag];
    if (v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0)) {
      throw new UserError(`fusedet train: --${flag} is for the MODEL.fd form; with --config the config file sets it`, 2);
    }
  }
  const { trainOnData } = await import('./train-data.js');
  const r = await trainOnData({
    ...values, config: values.config!, data: values.data, out: values.out, val: values.val, images: values.images, skipBad: values['skip-bad'],
    evalEvery: values['eval-every'] === undefined ? undefined : num('eval-every', values['eval-every'], 0, (v) => count(v) && v > 0),
    steps: values.steps === undefined ? undefined : num('steps', values.steps, 0, (v) => count(v) && v > 0),
    runtime: values.runtime, resume: values.resume, force: values.force, progress: !values['no-progress'] && process.stderr.isTTY === true,
  });
  const first = r.log.find((e) => e.step === r.startStep), last = r.log.at(-1);
  const show = (e: typeof last): string => (e ? r.terms.map((t) => `${t} ${e.scalars[t].toPrecision(5)}`).join(', ') : '-');
  const ev = r.evals.at(-1);
  const stepSecs = Math.max(r.seconds - r.compileSeconds, 1e-9);
  process.stdout.write(`trained steps ${r.startStep}..${r.steps - 1} on ${r.where} in ${r.seconds.toFixed(1)} s` +
    ` (compiling ${r.compileSeconds.toFixed(1)} s; ${((r.steps - r.startStep) / stepSecs).toFixed(2)} it/s after)\n` +
    `first: ${show(first)}\nlast:  ${show(last)}\n` +
    (ev ? `eval at step ${ev.step}: ${Object.entries(ev.metrics).slice(0, 6).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}\n` : '') +
    `checkpoint ${r.checkpoint ?? '-'}\nlog ${r.dir}/log.json\ncurve ${r.dir}/loss.png${ev ? `\nAP curve ${r.dir}/ap.png` : ''}\n`);
  return 0;
}

export default train;
