// `npm run quality` in its tiny mode: the script runs end to end (scenes,
// two rows trained and evaluated with and without NMS), writes its JSON
// with the paper's shape checks into --out, and leaves bench/results alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shapeChecks } from '../../bench/quality.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-quality-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('shape checks follow the paper: FCOS gap ≥ 15 AP, DeFCN gap ≤ 0.5, DeFCN w/o ≥ FCOS w/ on crowd metrics', () => {
  const run = (AP: number, crowdAP50: number, mMR: number, recall: number) => ({ AP, AP50: 0, AR100: 0, crowdAP50, mMR, recall });
  const good = shapeChecks({ fcos: { nms: run(0.4, 0.8, 0.6, 0.9), noNms: run(0.2, 0.3, 0.9, 0.95) }, 'poto-3dmf-aux': { nms: run(0.41, 0.85, 0.5, 0.95), noNms: run(0.408, 0.86, 0.5, 0.96) } });
  assert.ok(Object.values(good).every((c) => c.ok), JSON.stringify(good));
  assert.is(Object.keys(good).length, 5);
  const bad = shapeChecks({ fcos: { nms: run(0.4, 0.8, 0.6, 0.9), noNms: run(0.3, 0.3, 0.9, 0.95) }, 'poto-3dmf-aux': { nms: run(0.41, 0.85, 0.5, 0.95), noNms: run(0.40, 0.79, 0.61, 0.89) } });
  assert.equal(Object.values(bad).map((c) => c.ok), [false, false, false, false, false]);
});

test('quality --tiny: rows trained and scored, JSON in --out, bench/results untouched', () => {
  const committed = 'bench/results/quality.json';
  const before = existsSync(committed) ? statSync(committed).mtimeMs : null;
  const out = join(dir, 'q');
  const r = spawnSync(process.execPath, ['dist/bench/quality.js', '--tiny', '--out', out], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout.slice(-2000) + r.stderr.slice(-2000));
  const j = JSON.parse(readFileSync(join(out, 'quality.json'), 'utf8'));
  assert.equal(Object.keys(j.rows), ['fcos', 'poto-3dmf-aux']);
  for (const row of Object.values(j.rows) as { steps: number; nms: Record<string, number>; noNms: Record<string, number> }[]) {
    assert.is(row.steps, 8);
    for (const k of ['AP', 'AP50', 'AR100', 'crowdAP50', 'mMR', 'recall']) assert.type(row.noNms[k], 'number');
  }
  assert.is(Object.keys(j.checks).length, 5);
  assert.match(r.stdout, /FCOS \(no centerness\)/);
  assert.is(existsSync(committed) ? statSync(committed).mtimeMs : null, before);
  const bad = spawnSync(process.execPath, ['dist/bench/quality.js', '--rows', 'yolo'], { encoding: 'utf8' });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /unknown row 'yolo'/);
});

test.run();
