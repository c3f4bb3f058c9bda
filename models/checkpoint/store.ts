// Training checkpoints: one safetensors file per saved step,
// DIR/step-00000100.safetensors, holding the weights (their graph names),
// the optimizer state (`opt.momentum.<param>`) and, in the metadata, the
// format tag, the model's identity, the step, the run's config and the data
// order / RNG state as JSON.
//
// Saving is atomic: the file is written under a hidden temporary name,
// fsynced, renamed over its final name and the directory fsynced, so a crash
// at any moment leaves every earlier checkpoint whole (the temporary file is
// ignored and removed by the next save). Loading validates the whole file
// (per-tensor digests included, safetensors.ts) against what the model
// expects before returning anything; newestIntact finds the newest
// checkpoint that passes, for --resume and the NaN guard.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../../compiler/tensor.js';
import { ConcreteType } from '../../compiler/types.js';
import { WriteFs, makeFolder, writeFileAtomicSync } from '../../io/files.js';
import { SafetensorsError, WriteHooks, encodeSafetensors, readSafetensors } from './safetensors.js';
import { FusedetError } from '../../io/errors.js';

export const CHECKPOINT_FORMAT = 'fusedet.checkpoint.v1';
const NAME = /^step-(\d{8,})\.safetensors$/;

export class CheckpointError extends FusedetError {
  constructor(message: string) { super(message); this.name = 'CheckpointError'; }
}

export interface CheckpointContent {
  step: number;
  /** Identity of the model: a checkpoint only loads into the same one. */
  model: string;
  /** The run's options (lr, schedule, batch...), for the record and for --resume. */
  config: unknown;
  /** Data order and RNG state: what a resumed run needs to draw the same batches. */
  state: unknown;
  /** Weights and optimizer state by name. */
  tensors: Map<string, Tensor>;
}

export interface Checkpoint extends CheckpointContent {
  path: string;
  /** Its tensors matched their recorded digests (false: written before checkpoints carried them). */
  verified: boolean;
}

export function checkpointPath(dir: string, step: number): string {
  return join(dir, `step-${String(step).padStart(8, '0')}.safetensors`);
}

export interface SaveOptions {
  /** Keep this many newest checkpoints (default 2; 0 keeps all). */
  keep?: number;
  hooks?: WriteHooks;
  /** The fs calls of the write (tests inject a full disk). */
  fs?: WriteFs;
}

/** Writes DIR/step-N.safetensors atomically; returns its path. */
export function saveCheckpoint(dir: string, c: CheckpointContent, opts: SaveOptions = {}): string {
  makeFolder(dir, 'checkpoint folder');
  for (const f of readdirSync(dir)) if (f.startsWith('.step-') && f.includes('.tmp')) rmSync(join(dir, f), { force: true });
  const final = checkpointPath(dir, c.step);
  const metadata = {
    format: CHECKPOINT_FORMAT, model: c.model, step: String(c.step),
    config: JSON.stringify(c.config ?? null), state: JSON.stringify(c.state ?? null),
  };
  // Temporary name .step-N.safetensors.tmp-PID beside it (io/files.ts), removed on any failure.
  writeFileAtomicSync(final, (write) => encodeSafetensors(c.tensors, metadata, write, opts.hooks), { what: 'checkpoint', size: checkpointBytes(c.tensors), ...(opts.fs ? { fs: opts.fs } : {}) });
  const keep = opts.keep ?? 2;
  if (keep > 0) {
    for (const old of listCheckpoints(dir).slice(0, -keep)) rmSync(old.path, { force: true });
  }
  return final;
}

/** About the bytes a checkpoint's data takes (the header adds a few KB), for the full-disk message. */
function checkpointBytes(tensors: Map<string, Tensor>): number {
  let n = 0;
  for (const t of tensors.values()) n += t.data.length * (t.dtype === 'f16' ? 2 : t.dtype === 'bool' ? 1 : 4);
  return n;
}

/** Complete checkpoints of a folder, oldest first (temporary files are not checkpoints). */
export function listCheckpoints(dir: string): { step: number; path: string }[] {
  if (!existsSync(dir)) return [];
  const out: { step: number; path: string }[] = [];
  for (const f of readdirSync(dir)) {
    const m = NAME.exec(f);
    if (m) out.push({ step: Number(m[1]), path: join(dir, f) });
  }
  return out.sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(dir: string): string | undefined {
  return listCheckpoints(dir).at(-1)?.path;
}

export interface Expectation {
  model: string;
  /** Every tensor the model needs, with its exact type. */
  tensors: Map<string, ConcreteType>;
}

const showT = (t: { dtype: string; shape: readonly number[] }): string => `${t.dtype}[${t.shape.join(', ')}]`;

function parseJson(path: string, key: string, text: string | undefined): unknown {
  if (text === undefined) throw new CheckpointError(`${path}: not a fusedet checkpoint (no '${key}' in its metadata)`);
  try { return JSON.parse(text); } catch {
    throw new CheckpointError(`${path}: metadata '${key}' is not JSON`);
  }
}

/**
 * Reads a checkpoint and checks it against the model: same identity, every
 * expected tensor present with its type, nothing extra. Throws CheckpointError
 * (or SafetensorsError for a damaged file) before anything is returned.
 */
export function loadCheckpoint(path: string, expect: Expectation): Checkpoint {
  const { tensors, metadata, verified } = readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`${path}: not a fusedet checkpoint (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected '${CHECKPOINT_FORMAT}')`);
  }
  if (metadata.model !== expect.model) {
    throw new CheckpointError(`${path}: written for model '${metadata.model}', not '${expect.model}'; use a checkpoint of this model or another --checkpoint-dir`);
  }
  const step = Number(metadata.step);
  if (!Number.isSafeInteger(step) || step < 0) throw new CheckpointError(`${path}: metadata step ${JSON.stringify(metadata.step)} is not a step number`);
  const missing = [...expect.tensors.keys()].filter((n) => !tensors.has(n));
  if (missing.length) {
    throw new CheckpointError(`${path}: missing tensor '${missing[0]}' (${showT(expect.tensors.get(missing[0])!)})${missing.length > 1 ? ` and ${missing.length - 1} more` : ''}`);
  }
  const extra = [...tensors.keys()].filter((n) => !expect.tensors.has(n));
  if (extra.length) {
    throw new CheckpointError(`${path}: unexpected tensor '${extra[0]}' (${showT(tensors.get(extra[0])!)}) that the model does not have${extra.length > 1 ? `, and ${extra.length - 1} more` : ''}`);
  }
  for (const [name, want] of expect.tensors) {
    const got = tensors.get(name)!;
    const same = got.dtype === want.dtype && got.shape.length === want.shape.length && got.shape.every((d, i) => d === want.shape[i]);
    if (!same) throw new CheckpointError(`${path}: tensor '${name}' is ${showT(got)}, the model expects ${showT(want)}`);
  }
  return {
    path, step, model: metadata.model, verified,
    config: parseJson(path, 'config', metadata.config),
    state: parseJson(path, 'state', metadata.state),
    tensors,
  };
}

export interface IntactScan {
  /** The newest checkpoint that loads and verifies, if any. */
  intact?: Checkpoint;
  /** Newer ones that are damaged, newest first, with the reason. */
  damaged: { path: string; reason: string }[];
}

/**
 * The newest checkpoint of DIR that is whole (digests match) and fits the
 * model. A damaged file (SafetensorsError) is skipped and listed; a file that
 * is whole but not this model's (CheckpointError) stops the search: that is a
 * wrong folder, not damage.
 */
export function newestIntact(dir: string, expect: Expectation): IntactScan {
  const damaged: IntactScan['damaged'] = [];
  for (const { path } of listCheckpoints(dir).reverse()) {
    try {
      return { intact: loadCheckpoint(path, expect), damaged };
    } catch (e) {
      if (!(e instanceof SafetensorsError) || !e.damaged) throw e;
      damaged.push({ path, reason: e.message.startsWith(path) ? e.message.slice(path.length).replace(/^: /, '') : e.message });
    }
  }
  return { damaged };
}

export { SafetensorsError };
