// COCO metrics against numbers computed by the public pycocotools COCOeval
// (tools/fixtures/coco/make_fixtures.py wrote expected.json).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { evaluateCocoFiles, formatCocoTable } from '../../eval/coco.js';

const root = fileURLToPath(new URL('../../../test/fixtures/coco/', import.meta.url));
const expected = JSON.parse(readFileSync(join(root, 'expected.json'), 'utf8')) as Record<string, { stats: number[]; perCategory: Record<string, number> }>;
const pairs = readdirSync(root).filter((n) => statSync(join(root, n)).isDirectory()).sort();

test('there are at least 20 fixture pairs, each with expected numbers', () => {
  assert.ok(pairs.length >= 20, `${pairs.length} pairs`);
  for (const p of pairs) assert.ok(expected[p], `no expected numbers for ${p}`);
});

// 1e-9: the same algorithm in doubles agrees with pycocotools to ~1e-15
// (measured 1.8e-15); 1e-4 would hide a wrong tie-break or interpolation.
const TOL = 1e-9;

for (const name of pairs) {
  test(`${name}: the 12 numbers and per-category AP equal pycocotools within 1e-9`, async () => {
    const { metrics } = await evaluateCocoFiles(join(root, name, 'gt.json'), join(root, name, 'dets.json'));
    const want = expected[name];
    metrics.stats.forEach((v, i) => {
      assert.ok(Math.abs(v - want.stats[i]) <= TOL, `stat ${i}: ours ${v}, pycocotools ${want.stats[i]}`);
    });
    for (const c of metrics.perCategory) {
      const w = want.perCategory[String(c.id)];
      assert.ok(w !== undefined && Math.abs(c.AP - w) <= TOL, `category ${c.id}: ours ${c.AP}, pycocotools ${w}`);
    }
    assert.is(metrics.perCategory.length, Object.keys(want.perCategory).length);
  });
}

test('the table has summarize()\'s 12 lines and layout', async () => {
  const { metrics } = await evaluateCocoFiles(join(root, 'hand-perfect', 'gt.json'), join(root, 'hand-perfect', 'dets.json'));
  const lines = formatCocoTable(metrics).trimEnd().split('\n');
  assert.is(lines.length, 12);
  assert.is(lines[0], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000');
  assert.is(lines[11], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 1.000');
});

test.run();
