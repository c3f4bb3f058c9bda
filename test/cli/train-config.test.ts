// `fusedet train --config ...` input errors: one message naming the file or
// the flag, a non-zero exit, no stack trace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-train-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function train(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'train', ...args], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('config, data and flag errors', () => {
  const bad = JSON.parse(readFileSync('configs/tiny-defcn.json', 'utf8'));
  bad.schedule.lr = 'fast';
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
  writeFileSync(join(dir, 'ann.json'), JSON.stringify({ images: [{ id: 1, file_name: 'nope.png', width: 64, height: 64 }], annotations: [], categories: [{ id: 1, name: 'a' }] }));
  const out = join(dir, 'run');
  const cases: [string[], number, RegExp][] = [
    [['--config', 'no-such-config', '--data', 'x.json', '--out', out], 1, /configs\/no-such-config\.json: cannot read the config/],
    [['--config', join(dir, 'bad.json'), '--data', 'x.json', '--out', out], 1, /bad\.json: schedule\.lr must be a number, not "fast"/],
    [['--config', 'tiny-defcn', '--out', out], 2, /--config needs --data ANNOTATIONS/],
    [['--config', 'tiny-defcn', '--data', 'x.json'], 2, /--config needs --out DIR/],
    [['--config', 'tiny-defcn', '--data', 'x.json', '--out', out, '--eval-every', '5'], 2, /--eval-every needs --val/],
    [['--config', 'tiny-defcn', '--data', 'x.json', '--out', out, '--lr', '0.1'], 2, /--lr is for the MODEL\.fd form/],
    [['--config', 'tiny-defcn', 'models/defcn-train.fd', '--data', 'x.json', '--out', out], 2, /drop 'models\/defcn-train\.fd'/],
    [['--config', 'tiny-defcn', '--data', 'x.json', '--out', out, '--resume'], 1, /holds no checkpoint/],
    [['--config', 'tiny-defcn', '--data', 'x.json', '--out', out, '--runtime', 'tpu'], 2, /--runtime must be/],
    [['--config', 'tiny-defcn', '--data', 'x.json', '--out', out, '--steps', '0'], 2, /--steps '0' is not valid/],
    [['--config', 'tiny-defcn', '--data', join(dir, 'missing.json'), '--out', out], 1, /missing\.json: no such annotation file/],
    [['--config', 'tiny-defcn', '--data', join(dir, 'ann.json'), '--out', out], 1, /nope\.png does not exist/],
  ];
  for (const [args, code, re] of cases) {
    const r = train(...args);
    assert.is(r.status, code, `${args.join(' ')}: ${r.out}`);
    assert.match(r.out, re);
    assert.not.match(r.out, /\n\s+at /, 'no stack trace');
  }
});

test('--val --eval-every: the weights so far scored on the val set at those steps and at the end, AP curve drawn', async () => {
  const { generateScenes } = await import('../../data/scenes.js');
  const scenes = join(dir, 'scenes');
  await generateScenes({ out: scenes, images: 8, size: 64, crowd: 0.8, seed: 2, force: false });
  const out = join(dir, 'val-run');
  const r = train('--config', 'tiny-fcos', '--data', scenes, '--out', out, '--steps', '4', '--val', join(scenes, 'annotations.json'), '--eval-every', '2', '--no-progress');
  assert.is(r.status, 0, r.out);
  const ev = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
  assert.equal(ev.evals.map((e: { step: number }) => e.step), [2, 4]);
  for (const e of ev.evals) for (const k of ['AP', 'AP50', 'AR100', 'crowdAP50', 'mMR', 'recall']) assert.type(e.metrics[k], 'number', k);
  assert.ok(existsSync(join(out, 'ap.png')) && existsSync(join(out, 'loss.png')));
  assert.match(r.out, /eval at step 4: AP /);
});

test.run();
