// `fusedet demo --fast` end to end (issue 18: npm run demo had no test):
// scenes, both trainings, evaluation with and without NMS, the table, its
// JSON and the side-by-side drawing; the losses went down.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-demo-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const pngSize = (path: string): [number, number] => {
  const b = readFileSync(path);
  assert.ok(b.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10])), `${path} is a PNG`);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
};

test('demo --fast: table, JSON, drawing, loss curves; losses decrease', () => {
  const out = join(dir, 'demo');
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'demo', '--fast', '--out', out], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
  for (const f of ['table.txt', 'table.json', 'detections.png', 'defcn/loss.png', 'fcos/loss.png', 'scenes-train/annotations.json', 'scenes-test/annotations.json']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  const j = JSON.parse(readFileSync(join(out, 'table.json'), 'utf8'));
  assert.equal(j.models.map((m: { label: string }) => m.label), ['DeFCN (POTO+3DMF+Aux)', 'FCOS (no centerness)']);
  for (const m of j.models) {
    for (const run of [m.nms, m.noNms]) {
      for (const k of ['AP', 'AP50', 'AR100', 'crowdAP50', 'mMR', 'recall']) {
        assert.type(run[k], 'number', `${m.label} ${k}`);
        assert.ok(run[k] >= -1 && run[k] <= 1, `${m.label} ${k} = ${run[k]}`);
      }
      assert.ok(Number.isInteger(run.detections) && run.detections >= 0);
    }
  }
  // Every model kept some boxes without NMS, and NMS never adds any.
  for (const m of j.models) assert.ok(m.noNms.detections > 0 && m.nms.detections <= m.noNms.detections, `${m.label}: ${m.nms.detections} ≤ ${m.noNms.detections}`);
  for (const k of ['defcn', 'fcos']) assert.ok(j.losses[k].last < j.losses[k].first, `${k} loss ${j.losses[k].first} → ${j.losses[k].last}`);
  // The printed table is the JSON's, one row per model with 6 × (w/, w/o, Δ).
  const table = readFileSync(join(out, 'table.txt'), 'utf8');
  assert.match(r.stdout, /DeFCN \(POTO\+3DMF\+Aux\)/);
  const row = table.split('\n').find((l) => l.startsWith('DeFCN'))!;
  const cells = row.split('|').slice(1).map((c) => c.trim().split(/\s+/));
  assert.is(cells.length, 6);
  assert.is(Number(cells[0]![0]), Number((100 * j.models[0].nms.AP).toFixed(1)));
  assert.is(Number(cells[0]![1]), Number((100 * j.models[0].noNms.AP).toFixed(1)));
  const [w, h] = pngSize(join(out, 'detections.png'));
  assert.ok(w > 4 * 64 * 3 && h > 4 * 64 * 3, `${w}×${h}: 4 columns, 4 rows of 64 px scenes at 3×`);
});

test('demo refuses a folder it did not write, and bad flags', () => {
  const other = join(dir, 'other');
  mkdirSync(other);
  writeFileSync(join(other, 'thesis.tex'), '');
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'demo', '--fast', '--out', other], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /holds files the demo did not write/);
  assert.ok(existsSync(join(other, 'thesis.tex')));
  const b = spawnSync(process.execPath, ['dist/cli/main.js', 'demo', '--runtime', 'tpu'], { encoding: 'utf8' });
  assert.is(b.status, 2);
  assert.match(b.stderr, /--runtime must be/);
});

test.run();
