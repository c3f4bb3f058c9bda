import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError, Expectation, latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../models/checkpoint/store.js';
import { SafetensorsError } from '../../models/checkpoint/safetensors.js';
import { Tensor, tensor } from '../../compiler/tensor.js';

const root = mkdtempSync(join(tmpdir(), 'fusedet-ckpt-'));
let n = 0;
const freshDir = (): string => join(root, `d${n++}`);

function weights(v: number): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ['conv.weight', tensor('f32', [2, 1, 1, 2], [v, v + 1, v + 2, v + 3])],
    ['conv.bias', tensor('f32', [2], [v, -v])],
    ['opt.momentum.conv.weight', tensor('f32', [2, 1, 1, 2], [0.5, 0.5, 0.5, v])],
    ['opt.momentum.conv.bias', tensor('f32', [2], [0, v])],
  ]);
}
const expect: Expectation = {
  model: 'Tiny@abc',
  tensors: new Map([...weights(0)].map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape] }])),
};
const content = (step: number) => ({ step, model: 'Tiny@abc', config: { lr: 0.01 }, state: { rng: [1, 2, step] }, tensors: weights(step) });

function failsWith(fn: () => unknown, cls: Function, re: RegExp): void {
  try { fn(); } catch (e) {
    assert.instance(e, cls);
    assert.is((e as { exitCode: number }).exitCode, 1);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected ${re}`);
}

test('save then load gives every tensor, step, config and state back', () => {
  const dir = freshDir();
  const p = saveCheckpoint(dir, content(100));
  assert.match(p, /step-00000100\.safetensors$/);
  const c = loadCheckpoint(p, expect);
  assert.is(c.step, 100);
  assert.equal(c.config, { lr: 0.01 });
  assert.equal(c.state, { rng: [1, 2, 100] });
  assert.equal(Array.from(c.tensors.get('opt.momentum.conv.bias')!.data), [0, 100]);
  assert.equal(readdirSync(dir).filter((f) => f.includes('tmp')), []);
});

test('keeps the newest two; latest is the highest step', () => {
  const dir = freshDir();
  for (const s of [10, 20, 30]) saveCheckpoint(dir, content(s));
  assert.equal(listCheckpoints(dir).map((c) => c.step), [20, 30]);
  assert.match(latestCheckpoint(dir)!, /step-00000030/);
  assert.is(latestCheckpoint(freshDir()), undefined);
});

test('another model, missing, extra, wrong shape and wrong dtype tensors are clear errors', () => {
  const dir = freshDir();
  const p = saveCheckpoint(dir, content(1));
  failsWith(() => loadCheckpoint(p, { ...expect, model: 'Other@def' }), CheckpointError, /written for model 'Tiny@abc', not 'Other@def'/);
  const more = new Map(expect.tensors); more.set('head.scale', { dtype: 'f32', shape: [5] });
  failsWith(() => loadCheckpoint(p, { ...expect, tensors: more }), CheckpointError, /missing tensor 'head.scale' \(f32\[5\]\)/);
  const fewer = new Map(expect.tensors); fewer.delete('conv.bias');
  failsWith(() => loadCheckpoint(p, { ...expect, tensors: fewer }), CheckpointError, /unexpected tensor 'conv.bias'/);
  const shaped = new Map(expect.tensors); shaped.set('conv.bias', { dtype: 'f32', shape: [3] });
  failsWith(() => loadCheckpoint(p, { ...expect, tensors: shaped }), CheckpointError, /tensor 'conv.bias' is f32\[2\], the model expects f32\[3\]/);
  const typed = new Map(expect.tensors); typed.set('conv.bias', { dtype: 'i32', shape: [2] });
  failsWith(() => loadCheckpoint(p, { ...expect, tensors: typed }), CheckpointError, /tensor 'conv.bias' is f32\[2\], the model expects i32\[2\]/);
  for (const msg of [/missing/, /written for/]) void msg;
});

test('a truncated checkpoint or a plain safetensors file is refused, naming the file', () => {
  const dir = freshDir();
  const p = saveCheckpoint(dir, content(1));
  const cut = join(dir, 'cut.safetensors');
  writeFileSync(cut, readFileSync(p).subarray(0, readFileSync(p).length - 3));
  failsWith(() => loadCheckpoint(cut, expect), SafetensorsError, new RegExp(`^${cut.replace(/[.]/g, '\\.')}: truncated: tensor 'opt.momentum.conv.bias'`));
});

// A crash mid-write: a real child process writes a checkpoint over an
// existing one's directory and SIGKILLs itself after the first tensor.
test('a process killed while writing leaves the previous checkpoint whole', () => {
  const dir = freshDir();
  const good = saveCheckpoint(dir, content(5));
  const store = fileURLToPath(new URL('../../models/checkpoint/store.js', import.meta.url));
  const tensorMod = fileURLToPath(new URL('../../compiler/tensor.js', import.meta.url));
  const script = `
    const { saveCheckpoint } = await import(${JSON.stringify(store)});
    const { tensor } = await import(${JSON.stringify(tensorMod)});
    const t = new Map([['conv.weight', tensor('f32', [2,1,1,2], [9,9,9,9])], ['conv.bias', tensor('f32', [2], [9,9])]]);
    saveCheckpoint(${JSON.stringify(dir)}, { step: 6, model: 'Tiny@abc', config: {}, state: {}, tensors: t },
      { hooks: { afterTensor: () => process.kill(process.pid, 'SIGKILL') } });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.is(r.signal, 'SIGKILL', r.stderr);
  // The half-written file exists only under its temporary name.
  assert.ok(readdirSync(dir).some((f) => f.startsWith('.step-00000006') && f.includes('.tmp')));
  assert.not.ok(existsSync(join(dir, 'step-00000006.safetensors')));
  assert.is(latestCheckpoint(dir), good);
  assert.is(loadCheckpoint(good, expect).step, 5);
  // The next save cleans the leftover up.
  saveCheckpoint(dir, content(7));
  assert.equal(readdirSync(dir).filter((f) => f.includes('tmp')), []);
});

test('a write that fails part way removes its temporary file', () => {
  const dir = freshDir();
  saveCheckpoint(dir, content(1));
  assert.throws(() => saveCheckpoint(dir, content(2), { hooks: { afterTensor: () => { throw new Error('disk full'); } } }), /disk full/);
  assert.equal(readdirSync(dir), ['step-00000001.safetensors']);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
