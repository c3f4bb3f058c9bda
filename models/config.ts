// Experiment configs (configs/*.json): one file names everything a run of a
// detector needs — which .fd module to train and which to run for inference
// (with constructor arguments), the SGD schedule, the data pipeline and the
// post-processing — so a row of the paper's tables is one file, and weights
// can say which config made them (name + a hash of the model part).
//
//   const cfg = loadConfig('configs/small-defcn.json');
//   cfg.train  → { source, module, fn, args, prefix }   lower() this for the step
//   cfg.infer  → { source, module, fn, args }            lower() this for detection (fn 'detect')
//   cfg.schedule, cfg.data, cfg.inference              plain numbers
//   cfg.modelHash                                       stored in checkpoints
//
// Every field is checked on load; a bad one is a ConfigError naming the file
// and the field (`configs/x.json: schedule.lr must be a positive number`).
// Unknown fields are errors too: a misspelt option must not be ignored.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkFilesOrThrow } from '../dsl/index.js';
import { findFn } from '../dsl/elab/call.js';
import { FusedetError } from '../io/errors.js';

export class ConfigError extends FusedetError {
  constructor(message: string) { super(message); this.name = 'ConfigError'; }
}

/** A module of a .fd file with constructor arguments (what `lower` takes). */
export interface ModelRef {
  /** .fd path, relative to the working directory (the repository root). */
  source: string;
  module: string;
  fn: string;
  args: Record<string, number | boolean>;
}

export interface TrainRef extends ModelRef {
  /** Name prefix of the inference module's parameters inside the training module ("net."). */
  prefix: string;
}

export interface ScheduleConfig {
  /** Base learning rate at this batch size. */
  lr: number;
  momentum: number;
  /** On conv weights, biases and scales. */
  weightDecay: number;
  /** On GroupNorm weight and bias. */
  weightDecayNorm: number;
  /** Linear warm-up iterations, from lr · warmupFactor. */
  warmup: number;
  warmupFactor: number;
  steps: number;
  /** lr × gamma at each of these steps. */
  milestones: number[];
  gamma: number;
  /** Images per step. */
  batch: number;
  /** Global gradient-norm clip; 0 = off. */
  clip: number;
  checkpointEvery: number;
  /** Seed of the initial weights and the data order. */
  seed: number;
}

export interface DataConfig {
  /** Training short sides, one drawn per image (multi-scale). */
  shortSides: number[];
  maxSize: number;
  testShortSide: number;
  testMaxSize: number;
  flip: boolean;
  /** Per channel on the 0..1 scale: (v/255 − mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
  /**
   * Batch height and width are padded up to a multiple of this (a multiple
   * of 32): each distinct (H, W, G) is one compiled step, so coarser buckets
   * mean fewer compiles for a little more padding.
   */
  sizeBucket: number;
  /** G (box slots per image) is the next power of two ≥ max(minBoxes, most boxes in the batch). */
  minBoxes: number;
  /** An image with more usable boxes than this is an error naming it (the step's memory grows with G). */
  maxBoxes: number;
}

export interface InferenceConfig {
  /** Detections kept per image: 100 (COCO) or 500 (CrowdHuman). */
  detections: number;
  scoreThreshold: number;
  /** Candidates per level before the merge: min(topkPerLevel, H_l · W_l). */
  topkPerLevel: number;
  /** Class-aware NMS IoU threshold (suppress IoU > this). */
  nmsIou: number;
  /** The model's own default: FCOS with NMS, DeFCN without. */
  nms: boolean;
  protocol: 'coco' | 'crowdhuman' | 'both';
  /** 3D Max Filtering as post-processing on a detector trained without it (Table 5, FCOS + 3DMF*). */
  maxFilterPost: boolean;
  /** NMS within each pyramid level only (Table 2's "per scale" rows); false: across all levels. */
  nmsPerLevel: boolean;
  /**
   * Table 2's spatial range per scale: k (odd) drops a box only near a
   * higher-ranked one, within a k×k window of locations (models/postprocess.fd);
   * 0 = unlimited (∞×∞). Needs nmsPerLevel.
   */
  nmsRange: number;
}

export interface DetectorConfig {
  /** File name without .json: what checkpoints record. */
  name: string;
  path: string;
  description: string;
  /** Where the row comes from and what the paper measured (free-form, for reports). */
  paper: Record<string, unknown> | null;
  train: TrainRef;
  infer: ModelRef;
  schedule: ScheduleConfig;
  data: DataConfig;
  inference: InferenceConfig;
  /** sha256 (16 hex) of the canonical JSON of { train, infer }: two configs with the same hash build the same weights. */
  modelHash: string;
}

/** What a checkpoint records of its config (TrainLoopOptions.config.experiment). */
export interface ConfigRecord { name: string; modelHash: string; train: TrainRef; infer: ModelRef }

type Json = unknown;

class Reader {
  constructor(private readonly file: string) {}
  fail(field: string, msg: string): never { throw new ConfigError(`${this.file}: ${field} ${msg}`); }

  object(v: Json, field: string, allowed: readonly string[]): Record<string, Json> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'must be an object');
    const o = v as Record<string, Json>;
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(field ? `${field}.${k}` : k, `is not a known field (known: ${allowed.join(', ')})`);
    }
    return o;
  }
  num(o: Record<string, Json>, field: string, key: string, opts: { min?: number; max?: number; int?: boolean; def?: number; gt?: number } = {}): number {
    const v = o[key] ?? opts.def;
    const f = field ? `${field}.${key}` : key;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(f, v === undefined ? 'is required (a number)' : `must be a number, not ${JSON.stringify(v)}`);
    if (opts.int && !Number.isSafeInteger(v)) this.fail(f, `must be an integer, not ${v}`);
    if (opts.min !== undefined && v < opts.min) this.fail(f, `must be ≥ ${opts.min}, not ${v}`);
    if (opts.gt !== undefined && !(v > opts.gt)) this.fail(f, `must be > ${opts.gt}, not ${v}`);
    if (opts.max !== undefined && v > opts.max) this.fail(f, `must be ≤ ${opts.max}, not ${v}`);
    return v;
  }
  str(o: Record<string, Json>, field: string, key: string, def?: string): string {
    const v = o[key] ?? def;
    if (typeof v !== 'string' || v === '') this.fail(field ? `${field}.${key}` : key, v === undefined ? 'is required (a string)' : `must be a non-empty string, not ${JSON.stringify(v)}`);
    return v;
  }
  bool(o: Record<string, Json>, field: string, key: string, def?: boolean): boolean {
    const v = o[key] ?? def;
    if (typeof v !== 'boolean') this.fail(`${field}.${key}`, v === undefined ? 'is required (true or false)' : `must be true or false, not ${JSON.stringify(v)}`);
    return v;
  }
  nums(o: Record<string, Json>, field: string, key: string, opts: { len?: number; int?: boolean; min?: number; nonEmpty?: boolean; def?: number[] }): number[] {
    const v = o[key] ?? opts.def;
    const f = `${field}.${key}`;
    if (!Array.isArray(v)) this.fail(f, v === undefined ? 'is required (a list of numbers)' : 'must be a list of numbers');
    if (opts.len !== undefined && v.length !== opts.len) this.fail(f, `must have ${opts.len} numbers, has ${v.length}`);
    if (opts.nonEmpty && v.length === 0) this.fail(f, 'must not be empty');
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) this.fail(`${f}[${i}]`, `must be a number, not ${JSON.stringify(x)}`);
      if (opts.int && !Number.isSafeInteger(x)) this.fail(`${f}[${i}]`, `must be an integer, not ${x}`);
      if (opts.min !== undefined && x < opts.min) this.fail(`${f}[${i}]`, `must be ≥ ${opts.min}, not ${x}`);
    });
    return v as number[];
  }
  model(v: Json, field: string, defFn: string, withPrefix: boolean): ModelRef & { prefix?: string } {
    const o = this.object(v, field, withPrefix ? ['source', 'module', 'fn', 'args', 'prefix'] : ['source', 'module', 'fn', 'args']);
    const source = this.str(o, field, 'source');
    if (!source.endsWith('.fd')) this.fail(`${field}.source`, `must name a .fd file, not '${source}'`);
    const module = this.str(o, field, 'module');
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(module)) this.fail(`${field}.module`, `'${module}' is not a module name`);
    const args: Record<string, number | boolean> = {};
    const raw = this.object(o.args ?? {}, `${field}.args`, Object.keys(o.args ?? {}));
    for (const [k, a] of Object.entries(raw)) {
      if (typeof a !== 'boolean' && (typeof a !== 'number' || !Number.isFinite(a))) this.fail(`${field}.args.${k}`, `must be a number or true/false, not ${JSON.stringify(a)}`);
      args[k] = a;
    }
    const ref: ModelRef & { prefix?: string } = { source, module, fn: this.str(o, field, 'fn', defFn), args };
    if (withPrefix) {
      const p = o.prefix ?? 'net.';
      if (typeof p !== 'string') this.fail(`${field}.prefix`, 'must be a string');
      ref.prefix = p;
    }
    return ref;
  }
}

const SCHEDULE = ['lr', 'momentum', 'weightDecay', 'weightDecayNorm', 'warmup', 'warmupFactor', 'steps', 'milestones', 'gamma', 'batch', 'clip', 'checkpointEvery', 'seed'];
const DATA = ['shortSides', 'maxSize', 'testShortSide', 'testMaxSize', 'flip', 'mean', 'std', 'sizeBucket', 'minBoxes', 'maxBoxes'];
const INFERENCE = ['detections', 'scoreThreshold', 'topkPerLevel', 'nmsIou', 'nms', 'protocol', 'maxFilterPost', 'nmsPerLevel', 'nmsRange'];
const TOP = ['description', 'paper', 'train', 'infer', 'schedule', 'data', 'inference'];

/** Canonical JSON: keys sorted at every level, so the hash does not depend on the file's key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

export function modelHash(train: TrainRef, infer: ModelRef): string {
  return createHash('sha256').update(canonical({ train, infer })).digest('hex').slice(0, 16);
}

/** Checks a parsed config object; `file` names it in errors. */
export function parseConfig(value: unknown, file: string): DetectorConfig {
  const r = new Reader(file);
  const top = r.object(value, '', TOP);
  const train = r.model(top.train, 'train', 'loss', true) as TrainRef;
  const infer = r.model(top.infer, 'infer', 'detect', false);

  const s = r.object(top.schedule, 'schedule', SCHEDULE);
  const steps = r.num(s, 'schedule', 'steps', { int: true, min: 1 });
  const schedule: ScheduleConfig = {
    lr: r.num(s, 'schedule', 'lr', { gt: 0 }),
    momentum: r.num(s, 'schedule', 'momentum', { min: 0, max: 1, def: 0.9 }),
    weightDecay: r.num(s, 'schedule', 'weightDecay', { min: 0, def: 1e-4 }),
    weightDecayNorm: r.num(s, 'schedule', 'weightDecayNorm', { min: 0, def: 0 }),
    warmup: r.num(s, 'schedule', 'warmup', { int: true, min: 0, def: 0 }),
    warmupFactor: r.num(s, 'schedule', 'warmupFactor', { gt: 0, max: 1, def: 1e-3 }),
    steps,
    milestones: r.nums(s, 'schedule', 'milestones', { int: true, min: 1, def: [] }),
    gamma: r.num(s, 'schedule', 'gamma', { gt: 0, def: 0.1 }),
    batch: r.num(s, 'schedule', 'batch', { int: true, min: 1 }),
    clip: r.num(s, 'schedule', 'clip', { min: 0, def: 0 }),
    checkpointEvery: r.num(s, 'schedule', 'checkpointEvery', { int: true, min: 0, def: 1000 }),
    seed: r.num(s, 'schedule', 'seed', { int: true, def: 0 }),
  };
  schedule.milestones.forEach((m, i) => {
    if (i > 0 && m <= schedule.milestones[i - 1]) r.fail(`schedule.milestones[${i}]`, `must be after the one before (${schedule.milestones[i - 1]}), not ${m}`);
  });

  const d = r.object(top.data, 'data', DATA);
  const data: DataConfig = {
    shortSides: r.nums(d, 'data', 'shortSides', { int: true, min: 1, nonEmpty: true }),
    maxSize: r.num(d, 'data', 'maxSize', { int: true, min: 1 }),
    testShortSide: r.num(d, 'data', 'testShortSide', { int: true, min: 1 }),
    testMaxSize: r.num(d, 'data', 'testMaxSize', { int: true, min: 1 }),
    flip: r.bool(d, 'data', 'flip'),
    mean: r.nums(d, 'data', 'mean', { len: 3 }) as [number, number, number],
    std: r.nums(d, 'data', 'std', { len: 3 }) as [number, number, number],
    sizeBucket: r.num(d, 'data', 'sizeBucket', { int: true, min: 32, def: 32 }),
    minBoxes: r.num(d, 'data', 'minBoxes', { int: true, min: 1, def: 8 }),
    maxBoxes: r.num(d, 'data', 'maxBoxes', { int: true, min: 1, def: 512 }),
  };
  if (data.sizeBucket % 32 !== 0) r.fail('data.sizeBucket', `must be a multiple of 32 (the largest stride), not ${data.sizeBucket}`);
  data.std.forEach((v, i) => { if (!(v > 0)) r.fail(`data.std[${i}]`, `must be > 0, not ${v}`); });
  if (data.maxBoxes < data.minBoxes) r.fail('data.maxBoxes', `must be ≥ data.minBoxes (${data.minBoxes}), not ${data.maxBoxes}`);

  const n = r.object(top.inference, 'inference', INFERENCE);
  const protocol = r.str(n, 'inference', 'protocol', 'coco');
  if (!['coco', 'crowdhuman', 'both'].includes(protocol)) r.fail('inference.protocol', `must be coco, crowdhuman or both, not '${protocol}'`);
  const inference: InferenceConfig = {
    detections: r.num(n, 'inference', 'detections', { int: true, min: 1 }),
    scoreThreshold: r.num(n, 'inference', 'scoreThreshold', { min: 0, max: 1, def: 0.05 }),
    topkPerLevel: r.num(n, 'inference', 'topkPerLevel', { int: true, min: 1, def: 1000 }),
    nmsIou: r.num(n, 'inference', 'nmsIou', { gt: 0, max: 1, def: 0.6 }),
    nms: r.bool(n, 'inference', 'nms'),
    protocol: protocol as InferenceConfig['protocol'],
    maxFilterPost: r.bool(n, 'inference', 'maxFilterPost', false),
    nmsPerLevel: r.bool(n, 'inference', 'nmsPerLevel', false),
    nmsRange: r.num(n, 'inference', 'nmsRange', { int: true, min: 0, def: 0 }),
  };
  if (inference.nmsRange % 2 === 0 && inference.nmsRange > 0) r.fail('inference.nmsRange', `must be odd (a k×k window centred on the box's location) or 0 (unlimited), not ${inference.nmsRange}`);
  if (inference.nmsRange > 0 && !inference.nmsPerLevel) r.fail('inference.nmsRange', `(${inference.nmsRange}) is a spatial range within one pyramid level: it needs inference.nmsPerLevel true (Table 2 has no spatial range across scales)`);
  const paper = top.paper === undefined ? null : r.object(top.paper, 'paper', Object.keys(top.paper ?? {}));
  const description = top.description === undefined ? '' : r.str(top, '', 'description');
  const name = basename(file).replace(/\.json$/, '');
  return { name, path: file, description, paper, train, infer, schedule, data, inference, modelHash: modelHash(train, infer) };
}

/**
 * Reads a config by path, or by name from configs/ ('small-defcn' →
 * configs/small-defcn.json).
 */
export function loadConfig(pathOrName: string, dir = 'configs'): DetectorConfig {
  let path = /[\\/]|\.json$/.test(pathOrName) ? pathOrName : join(dir, `${pathOrName}.json`);
  // An installed fusedet run from another folder finds its own configs by name.
  if (path === join('configs', `${pathOrName}.json`) && !existsSync(path) && existsSync(join(PACKAGE_ROOT, path))) path = join(PACKAGE_ROOT, path);
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let known = '';
    try { known = `; configs in ${dir}/: ${listConfigs(dir).slice(0, 12).join(', ')}…`; } catch { /* no configs folder */ }
    throw new ConfigError(`${path}: cannot read the config (${code === 'ENOENT' ? 'no such file' : (e as Error).message})${known}`);
  }
  let value: unknown;
  try { value = JSON.parse(text); } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(value, path);
}

/** The package's own folder (configs/ and models/*.fd ship in it): dist/models/config.js is two levels down. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Where a config's model source is read from: the path as written when it
 * exists from the working folder (a checkout, a user's own models), else the
 * installed package's copy, so `npx fusedet detect` works from any folder.
 * The config (and its model hash) keeps the path as written.
 */
export function resolveSource(source: string): string {
  if (isAbsolute(source) || existsSync(source)) return source;
  const own = join(PACKAGE_ROOT, source);
  return existsSync(own) ? own : source;
}

/** Config names (without .json) in a folder, sorted. */
export function listConfigs(dir = 'configs'): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
}

/** The part of a config a checkpoint records: weights name the config they were trained with. */
export function configRecord(c: DetectorConfig): ConfigRecord {
  return { name: c.name, modelHash: c.modelHash, train: c.train, infer: c.infer };
}

/**
 * Checks that weights trained under `recorded` (a checkpoint's config
 * record) fit `c`: the same model part. Returns a message, or undefined when
 * they fit. Tensor-level mismatches are the checkpoint loader's to report.
 */
export function recordMismatch(recorded: unknown, c: DetectorConfig): string | undefined {
  const r = recorded as Partial<ConfigRecord> | null | undefined;
  if (!r || typeof r.modelHash !== 'string') return 'the weights do not record the config they were trained with';
  if (r.modelHash === c.modelHash) return undefined;
  return `the weights were trained with config '${r.name}' (model ${r.modelHash}), not '${c.name}' (model ${c.modelHash})`;
}

/**
 * Checks the config's model part against the .fd sources: each file
 * type-checks, names its module and function, and every constructor argument
 * is one the module declares. Errors name the config file and the field.
 */
const checked = new Map<string, ReturnType<typeof checkFilesOrThrow>>();

export function checkConfigModels(c: DetectorConfig): void {
  for (const [field, ref] of [['train', c.train], ['infer', c.infer]] as const) {
    let program;
    try {
      // Many configs share a source: check each (path, mtime) once per process.
      const key = `${ref.source}@${statSync(ref.source).mtimeMs}`;
      program = checked.get(key) ?? checkFilesOrThrow([ref.source]);
      checked.set(key, program);
    } catch (e) {
      throw new ConfigError(`${c.path}: ${field}.source '${ref.source}' does not check:\n${(e as Error).message}`);
    }
    const decl = program.modules.get(ref.module);
    if (!decl) throw new ConfigError(`${c.path}: ${field}.module: ${ref.source} has no module '${ref.module}' (modules: ${[...program.modules.keys()].join(', ')})`);
    if (!findFn(decl.items, ref.fn)) throw new ConfigError(`${c.path}: ${field}.fn: module ${ref.module} has no function '${ref.fn}'`);
    for (const name of Object.keys(ref.args)) {
      if (!decl.params.some((p) => p.name === name)) {
        throw new ConfigError(`${c.path}: ${field}.args.${name}: ${ref.module} has no constructor parameter '${name}' (its parameters: ${decl.params.map((p) => `${p.name}: ${p.type}`).join(', ')})`);
      }
    }
  }
}
