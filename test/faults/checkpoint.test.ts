// Checkpoints and the training log under faults: bit flips, damaged newest
// checkpoint on --resume, changed settings on --resume, a damaged log.json,
// a full disk while writing either. The training step is the small conv +
// GroupNorm one on the reference interpreter (fast, no compiler).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initParams } from '../../compiler/init.js';
import { tensor } from '../../compiler/tensor.js';
import { fixedSource } from '../../models/fixed-batch.js';
import { referenceRunner } from '../../models/step-runner.js';
import { TrainLoopOptions, trainLoop } from '../../models/train.js';
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../models/checkpoint/store.js';
import { SafetensorsError } from '../../models/checkpoint/safetensors.js';
import { FileError } from '../../io/files.js';
import { smallStep } from '../train/tiny.js';
import { fullDisk } from './full-disk.js';

const root = mkdtempSync(join(tmpdir(), 'fusedet-ckfault-'));
let n = 0;
const fresh = (): string => join(root, `d${n++}`);
const step = smallStep();
const SCHEDULE = { lr: 0.01, warmup: 0, warmupFactor: 1e-3, milestones: [], gamma: 0.1 };

function opts(dir: string, over: Partial<TrainLoopOptions> = {}): TrainLoopOptions & { notes: string[] } {
  const notes: string[] = [];
  return {
    step, runner: referenceRunner(step, initParams(step.graph, 0)), batches: fixedSource(step.graph, 0),
    modelId: 'small', config: { lr: 0.01, batch: 1, steps: 4 }, steps: 4, schedule: SCHEDULE, lossScale: 1,
    dir, checkpointEvery: 1, resume: false, progress: false, warn: (l) => notes.push(l), notes, ...over,
  };
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<Error> {
  try { await p; } catch (e) {
    assert.match((e as Error).message, re);
    assert.is((e as { exitCode?: number }).exitCode, 1, 'a user-facing error');
    return e as Error;
  }
  throw new Error(`expected ${re}`);
}

/** Flips one bit in the data of the file's last tensor. */
function flipLastByte(path: string): void {
  const b = readFileSync(path);
  b[b.length - 3] ^= 0x10;
  writeFileSync(path, b);
}

test('a bit flip in tensor data is an error naming the tensor (was: loaded silently)', () => {
  const dir = fresh();
  const p = saveCheckpoint(dir, { step: 1, model: 'small', config: {}, state: {}, tensors: new Map([['w', tensor('f32', [4], [1, 2, 3, 4])], ['m', tensor('f32', [2], [5, 6])]]) });
  assert.ok(loadCheckpoint(p, { model: 'small', tensors: new Map([['w', { dtype: 'f32', shape: [4] }], ['m', { dtype: 'f32', shape: [2] }]]) }).verified);
  flipLastByte(p);
  assert.throws(() => loadCheckpoint(p, { model: 'small', tensors: new Map() }), (e: Error) => e instanceof SafetensorsError && /tensor 'm' is damaged: its 8 bytes do not match the SHA-256/.test(e.message));
});

test('a checkpoint without digests (older fusedet) still loads, said "unverified" once', async () => {
  const dir = fresh();
  await trainLoop(opts(dir, { steps: 2 }));
  // Rewrite the newest without the digest key, as an older writer did.
  const p = listCheckpoints(dir).at(-1)!.path;
  const b = readFileSync(p);
  const hlen = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + hlen).toString());
  delete h.__metadata__['fusedet.sha256'];
  let text = JSON.stringify(h);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(p, Buffer.concat([len, Buffer.from(text), b.subarray(8 + hlen)]));
  const o = opts(dir, { resume: true });
  const r = await trainLoop(o);
  assert.is(r.startStep, 2);
  assert.is(o.notes.filter((l) => /unverified/.test(l)).length, 1, o.notes.join('\n'));
});

test('--resume with a damaged newest checkpoint refuses and names the intact one; resumeIntact takes it and sets the damaged one aside', async () => {
  const dir = fresh();
  await trainLoop(opts(dir, { steps: 3 }));
  const [older, newest] = listCheckpoints(dir).map((c) => c.path);
  flipLastByte(newest);
  await rejects(trainLoop(opts(dir, { resume: true, steps: 5 })), new RegExp(`newest checkpoint .*step-00000003\\.safetensors is damaged: tensor '.*' is damaged.*newest intact checkpoint is .*step-00000002\\.safetensors \\(step 2\\); pass --resume-intact`));
  const o = opts(dir, { resume: true, resumeIntact: true, steps: 4 });
  const r = await trainLoop(o);
  assert.is(r.startStep, 2);
  assert.match(o.notes.join('\n'), new RegExp(`continuing from ${older.replace(/[.]/g, '\\.')} \\(step 2\\); the damaged file is kept as .*step-00000003\\.safetensors\\.damaged`));
  assert.ok(existsSync(`${newest}.damaged`));
});

test('the NaN guard never calls a damaged checkpoint "the last good checkpoint"', async () => {
  const dir = fresh();
  // Steps 0-2 run and are saved (step-2, step-3 kept); step 3 goes non-finite,
  // and the newest file is damaged on disk just before (a bit flip).
  const inner = referenceRunner(step, initParams(step.graph, 0));
  let calls = 0;
  const runner = { ...inner, where: inner.where, step: async (i: Parameters<typeof inner.step>[0], lr: number, ls: number) => {
    const res = await inner.step(i, lr, ls);
    if (++calls < 4) return res;
    flipLastByte(listCheckpoints(dir).at(-1)!.path);
    return { ...res, finite: false };
  } };
  const e = await rejects(trainLoop(opts(dir, { steps: 5, runner })), /step 3: non-finite training step/);
  assert.match(e.message, /last good checkpoint \S*step-00000002\.safetensors is intact \(digests verified\); newer \S*step-00000003\.safetensors damaged \(tensor '.*' is damaged/);
  assert.not.match(e.message, /last good checkpoint \S*step-00000003/);
});

test('--resume refuses changed settings, printing old and new; --allow-changed accepts them', async () => {
  const dir = fresh();
  await trainLoop(opts(dir, { steps: 2 }));
  const changed = { lr: 0.05, batch: 4, steps: 6 };
  await rejects(trainLoop(opts(dir, { resume: true, steps: 6, config: changed })), /trained with other settings:\n  lr: 0\.01 in the checkpoint, 0\.05 now\n  batch: 1 in the checkpoint, 4 now\npass --allow-changed lr,batch/);
  await rejects(trainLoop(opts(dir, { resume: true, steps: 6, config: changed, allowChanged: ['lr'] })), /batch: 1 in the checkpoint, 4 now/);
  const r = await trainLoop(opts(dir, { resume: true, steps: 3, config: changed, allowChanged: ['lr', 'batch'] }));
  assert.is(r.startStep, 2);
  // --steps is expected to change: not a setting.
  const r2 = await trainLoop(opts(dir, { resume: true, steps: 4, config: { ...changed, steps: 99 }, allowChanged: ['lr', 'batch'] }));
  assert.is(r2.startStep, 3);
});

test('a damaged log.json is kept aside and said, not silently replaced', async () => {
  const dir = fresh();
  await trainLoop(opts(dir, { steps: 2 }));
  writeFileSync(join(dir, 'log.json'), '{"model": "small", "entries": [ {"step": 0, trunc');
  const o = opts(dir, { resume: true, steps: 3 });
  await trainLoop(o);
  const aside = readdirSync(dir).filter((f) => f.startsWith('log.json.damaged-'));
  assert.is(aside.length, 1);
  assert.is(readFileSync(join(dir, aside[0]), 'utf8'), '{"model": "small", "entries": [ {"step": 0, trunc');
  assert.match(o.notes.join('\n'), /log\.json is damaged: it is not JSON.*Kept it as .*log\.json\.damaged-/);
});

test('a full disk while writing a checkpoint or the log: clear message with the bytes, temp files removed, older files whole', async () => {
  const dir = fresh();
  await trainLoop(opts(dir, { steps: 1 }));
  const before = readFileSync(join(dir, 'log.json'), 'utf8');
  // Room for the log (about 500 bytes) but not for the checkpoint.
  let e = await rejects(trainLoop(opts(dir, { resume: true, steps: 2, fs: fullDisk(2000) })), /^checkpoint .*step-00000002\.safetensors: cannot write it: no space left on the device \(ENOSPC\); it needs \d+ bytes/);
  assert.instance(e, FileError);
  // No room at all: the log fails first.
  e = await rejects(trainLoop(opts(dir, { resume: true, steps: 2, fs: fullDisk(0) })), /^training log .*log\.json: cannot write it: no space left on the device \(ENOSPC\); it needs \d+ bytes/);
  assert.match((e as FileError).hint!, /free at least \d+ bytes/);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp')), []);
  assert.equal(listCheckpoints(dir).map((c) => c.step), [1]);
  assert.ok(existsSync(join(dir, 'log.json')));
  assert.ok(before.length > 0);
});

test('temporary files left by a killed writer (log.json.tmp-PID) are removed on the next run', async () => {
  const dir = fresh();
  await trainLoop(opts(dir, { steps: 1 }));
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(join(dir, `log.json.tmp-${dead}`), '{"half');
  writeFileSync(join(dir, `.log.json.tmp-${dead}`), '{"half');
  writeFileSync(join(dir, `.notes.tmp-${process.pid}`), 'mine');
  await trainLoop(opts(dir, { resume: true, steps: 2 }));
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')), [`.notes.tmp-${process.pid}`]);
});

test.run();
