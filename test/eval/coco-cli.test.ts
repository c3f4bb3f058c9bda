// `fusedet eval` end to end, as a user runs it: exit codes, stdout, stderr.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/coco/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fusedet-eval-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function fusedet(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const gt = join(fixtures, 'gen-basic', 'gt.json');
const dets = join(fixtures, 'gen-basic', 'dets.json');
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as Record<string, { stats: number[] }>;

test('prints the 12-line table, numbers as pycocotools rounds them', () => {
  const r = fusedet('eval', '--gt', gt, '--dets', dets);
  assert.is(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.is(lines.length, 12);
  lines.forEach((l, i) => assert.ok(l.endsWith(`= ${expected['gen-basic'].stats[i].toFixed(3)}`), l));
});

test('--json gives the named numbers', () => {
  const r = fusedet('eval', '--gt', gt, '--dets', dets, '--json');
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out) as Record<string, number>;
  assert.ok(Math.abs(j.AP - expected['gen-basic'].stats[0]) < 1e-12);
  assert.ok(Math.abs(j.ARl - expected['gen-basic'].stats[11]) < 1e-12);
});

test('malformed JSON: exit 1, file:line:col, no stack', () => {
  const p = join(dir, 'broken.json');
  writeFileSync(p, '[\n  {"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": .5}\n]\n');
  const r = fusedet('eval', '--gt', gt, '--dets', p);
  assert.is(r.code, 1);
  assert.ok(r.err.startsWith(`${p}:2:68: malformed JSON: expected a number`), r.err);
  assert.not.ok(r.err.includes('    at '), r.err);
});

test('a detection for an unknown image fails; --skip-bad skips it and says how many', () => {
  const p = join(dir, 'unknown-image.json');
  const good = JSON.parse(readFileSync(dets, 'utf8')) as object[];
  writeFileSync(p, JSON.stringify([...good, { image_id: 12345, category_id: 1, bbox: [0, 0, 1, 1], score: 0.1 }]));
  const bad = fusedet('eval', '--gt', gt, '--dets', p);
  assert.is(bad.code, 1);
  assert.ok(bad.err.includes(`detections[${good.length}]: image_id 12345 is not in the ground truth`), bad.err);
  const skipped = fusedet('eval', '--gt', gt, '--dets', p, '--skip-bad');
  assert.is(skipped.code, 0, skipped.err);
  assert.ok(skipped.err.includes('skipped 0 bad record(s) in') && skipped.err.includes(`and 1 in ${p}`), skipped.err);
  assert.ok(skipped.out.includes(`= ${expected['gen-basic'].stats[0].toFixed(3)}`));
});

test('bad GT record with --skip-bad is counted on stderr', () => {
  const p = join(dir, 'gt-bad.json');
  const g = JSON.parse(readFileSync(gt, 'utf8')) as { annotations: object[] };
  g.annotations.push({ id: 99999, image_id: 1, category_id: 1, bbox: [0, 0, -1, 1] });
  writeFileSync(p, JSON.stringify(g));
  const r = fusedet('eval', '--gt', p, '--dets', dets, '--skip-bad');
  assert.is(r.code, 0, r.err);
  assert.ok(r.err.includes('skipped 1 bad record(s)'), r.err);
  assert.ok(r.err.includes('(id 99999)'), r.err);
});

test('usage errors exit 2; a missing file exits 1', () => {
  assert.is(fusedet('eval', '--dets', dets).code, 2);
  assert.is(fusedet('eval', '--gt', gt, '--dets', dets, '--protocol', 'voc').code, 2);
  const missing = fusedet('eval', '--gt', join(dir, 'nope.json'), '--dets', dets);
  assert.is(missing.code, 1);
  assert.ok(missing.err.includes('no such file'), missing.err);
});

test('an .odgt ground truth goes to the CrowdHuman protocol (eval/crowdhuman.ts)', () => {
  const g = join(dir, 'gt.odgt'), d = join(dir, 'dets.odgt');
  writeFileSync(g, '{"ID": "a", "width": 100, "height": 100, "gtboxes": [{"tag": "person", "fbox": [10, 10, 20, 40], "extra": {"ignore": 0}}]}\n');
  writeFileSync(d, '{"ID": "a", "dtboxes": [{"box": [10, 10, 20, 40], "score": 0.9, "tag": "person"}]}\n');
  const r = fusedet('eval', '--gt', g, '--dets', d, '--json');
  assert.is(r.code, 0, r.err);
  const m = JSON.parse(r.out) as Record<string, unknown>;
  assert.ok('mMR' in m && !('AP75' in m), r.out);
});

test('GT and results swapped: the message says which is which', () => {
  const r = fusedet('eval', '--gt', dets, '--dets', gt);
  assert.is(r.code, 1);
  assert.ok(r.err.includes('pass it as --dets'), r.err);
});

test.run();
