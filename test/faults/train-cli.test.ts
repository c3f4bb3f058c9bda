// --resume through `fusedet train`: changed settings refused with old and
// new values, --allow-changed, a damaged newest checkpoint and
// --resume-intact. A three-weight model on the reference interpreter.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-traincli-'));
writeFileSync(join(dir, 'tiny.fd'), `module Tiny() {
  param w: f32[3] = ones
  fn loss(image: f32[B, 3, S, S]) -> f32[] {
    return mean(square(image * reshape(w, shape = (1, 3, 1, 1))), axes = (0, 1, 2, 3))
  }
}
`);
const ck = join(dir, 'ck');
function train(...extra: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'train', join(dir, 'tiny.fd'), '--entry', 'Tiny', '--fn', 'loss', '--fixed-batch',
    '--checkpoint-dir', ck, '--size', '32', '--batch', '1', '--runtime', 'reference', '--no-progress', ...extra], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('--resume: changed --lr/--batch refused with old and new; --allow-changed; damaged newest and --resume-intact', () => {
  let r = train('--steps', '2');
  assert.is(r.code, 0, r.err);
  r = train('--steps', '3', '--resume', '--lr', '0.05', '--batch', '2');
  assert.is(r.code, 1, r.err);
  assert.match(r.err, /trained with other settings:\n(.*\n)*  schedule\.lr: 0\.01 in the checkpoint, 0\.05 now\n  batch: 1 in the checkpoint, 2 now\npass --allow-changed inputs,lr,batch/);
  assert.not.match(r.err, /\n\s+at /);
  r = train('--steps', '3', '--resume', '--lr', '0.05', '--allow-changed', 'lr');
  assert.is(r.code, 0, r.err);
  const newest = join(ck, 'step-00000003.safetensors');
  const b = readFileSync(newest);
  b[b.length - 2] ^= 1;
  writeFileSync(newest, b);
  r = train('--steps', '4', '--resume', '--lr', '0.05', '--allow-changed', 'lr');
  assert.is(r.code, 1, r.err);
  assert.match(r.err, /step-00000003\.safetensors is damaged: tensor '.*' is damaged.*newest intact checkpoint is .*step-00000002\.safetensors \(step 2\); pass --resume-intact/);
  r = train('--steps', '4', '--resume', '--resume-intact', '--lr', '0.05', '--allow-changed', 'lr');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /trained steps 2\.\.3/);
  assert.match(r.err, /continuing from .*step-00000002\.safetensors.*kept as .*step-00000003\.safetensors\.damaged/);
  assert.ok(existsSync(`${newest}.damaged`));
});

test.run();
