// The CrowdHuman protocol against numbers from the authors' evaluation code
// (tools/fixtures/crowdhuman/reference.py ran cvpods' crowdhumantools.py on
// these fixture pairs), plus the edge cases the reference cannot run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { evaluateCrowdHuman, evaluateCrowdHumanFiles, formatCrowdHumanTable } from '../../eval/crowdhuman.js';
import type { OdgtDetRecord, OdgtGtRecord } from '../../data/odgt.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/crowdhuman/', import.meta.url));

interface Case { name: string; gt: string; dets: string; classes: 'person' | 'agnostic' }
interface Expected { ap50: number; mMR: number; recall: number }
const cases = JSON.parse(readFileSync(join(FIX, 'cases.json'), 'utf8')) as Case[];
const doc = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as {
  cases: Record<string, Expected>;
  /** CrowdDet's APMRToolkits on the same pairs (same algorithm, second source). */
  crosscheck?: { cases: Record<string, Expected> };
};
const expected = doc.cases;

test('at least 12 fixture pairs have reference numbers', () => {
  assert.ok(cases.length >= 12, `${cases.length} cases`);
  for (const c of cases) assert.ok(expected[c.name], `no expected numbers for ${c.name}`);
});

// 1e-9: the references and this code agree to ~1e-16 (measured 1.1e-16);
// 1e-6 would let a different matching order pass.
const TOL = 1e-9;

for (const c of cases) {
  test(`matches the reference within 1e-9: ${c.name}`, async () => {
    const m = await evaluateCrowdHumanFiles(join(FIX, c.gt), join(FIX, c.dets), { classes: c.classes });
    for (const [source, e] of [['cvpods', expected[c.name]!], ['CrowdDet', doc.crosscheck?.cases[c.name]]] as const) {
      if (!e) continue;
      for (const k of ['ap50', 'mMR', 'recall'] as const) {
        assert.ok(Math.abs(m[k] - e[k]) <= TOL, `${c.name} ${k}: got ${m[k]}, ${source} ${e[k]}`);
      }
    }
  });
}

test('auto mode: class-agnostic for multi-class tags, person-only for person/mask files', async () => {
  const auto = async (name: string): Promise<boolean> =>
    (await evaluateCrowdHumanFiles(join(FIX, `${name}.gt.odgt`), join(FIX, `${name}.dets.odgt`), {})).classAgnostic;
  assert.is(await auto('seeded_multiclass'), true);
  assert.is(await auto('seeded_mask_regions'), false);
  const m = await evaluateCrowdHumanFiles(join(FIX, 'seeded_multiclass.gt.odgt'), join(FIX, 'seeded_multiclass.dets.odgt'), {});
  assert.ok(Math.abs(m.ap50 - expected.seeded_multiclass!.ap50) <= TOL);
});

const person = (id: string, boxes: [number, number, number, number][], tag = 'person'): OdgtGtRecord =>
  ({ id, width: 100, height: 100, line: 0, gtboxes: boxes.map((fbox) => ({ tag, fbox })) });
const dets = (id: string, ds: [number, number, number, number, number][]): OdgtDetRecord =>
  ({ id, line: 0, dtboxes: ds.map(([x, y, w, h, score]) => ({ box: [x, y, w, h], score })) });

test('a perfect detector: AP50 1 after the first point, recall 1, mMR 0', () => {
  const m = evaluateCrowdHuman([person('a', [[0, 0, 10, 10], [50, 50, 10, 10]])], [dets('a', [[0, 0, 10, 10, 0.9], [50, 50, 10, 10, 0.8]])]);
  // Trapezoid from the first point (recall 0.5) only: 0.5, not 1.
  assert.ok(Math.abs(m.ap50 - 0.5) < 1e-12, String(m.ap50));
  assert.is(m.recall, 1);
  assert.is(m.mMR, 0);
});

test('miss rates at the nine anchors: unreached anchors take the last point', () => {
  // A TP then an FP over 2 images: FPPI 0, then 0.5. Anchors up to 0.5 land
  // on the FP; 0.5623 and 1 are never reached and take the last point.
  const m = evaluateCrowdHuman(
    [person('a', [[0, 0, 10, 10], [50, 50, 10, 10]]), person('b', [])],
    [dets('a', [[0, 0, 10, 10, 0.9]]), dets('b', [[0, 0, 10, 10, 0.8]])],
  );
  assert.equal(m.missRateAtFppi.map((p) => p.fppi), [0.01, 0.0178, 0.0316, 0.0562, 0.1, 0.1778, 0.3162, 0.5623, 1]);
  assert.equal(m.missRateAtFppi.map((p) => p.missRate), Array(9).fill(0.5));
  assert.ok(Math.abs(m.mMR - 0.5) < 1e-12);
});

test('no detections at all: AP 0, recall 0, mMR 1 (the reference crashes here)', () => {
  const m = evaluateCrowdHuman([person('a', [[0, 0, 10, 10]])], []);
  assert.equal([m.ap50, m.recall, m.mMR], [0, 0, 1]);
});

test('person mode turns other tags into ignore regions and says so', () => {
  const gt = [person('a', [[0, 0, 10, 10]], 'cat')];
  const agn = evaluateCrowdHuman(gt, [dets('a', [[0, 0, 10, 10, 0.9]])]);
  assert.is(agn.classAgnostic, true);
  assert.is(agn.truePositives, 1);
  const p = evaluateCrowdHuman(gt, [dets('a', [[0, 0, 10, 10, 0.9]])], { classes: 'person' });
  assert.is(p.classAgnostic, false);
  assert.equal(p.tagsAsIgnore, ['cat']);
  assert.is(p.ignoredDetections, 1);
  assert.is(p.gtCounted, 0);
  assert.match(formatCrowdHumanTable(p), 'tags treated as ignore regions: cat');
});

test('boxes are clipped only when the image size is known', () => {
  // GT crosses the right border; the detection covers only the visible part.
  const gtRec = (size: boolean): OdgtGtRecord => ({ id: 'a', line: 0, gtboxes: [{ tag: 'person', fbox: [80, 0, 40, 20] }], ...(size ? { width: 100, height: 100 } : {}) });
  const d = [dets('a', [[80, 0, 20, 20, 0.9]])];
  assert.is(evaluateCrowdHuman([gtRec(true)], d).truePositives, 1);
  assert.is(evaluateCrowdHuman([gtRec(false)], d).truePositives, 0);
});

test('in-memory API rejects detections for an unknown image', () => {
  assert.throws(() => evaluateCrowdHuman([person('a', [])], [dets('zz', [])]), /"zz", which is not in the ground truth/);
});

test('table prints percentages', () => {
  const m = evaluateCrowdHuman([person('a', [[0, 0, 10, 10]])], [dets('a', [[0, 0, 10, 10, 0.9]])]);
  const t = formatCrowdHumanTable(m);
  assert.match(t, /AP50\s+0\.00/);
  assert.match(t, /recall\s+100\.00/);
});

test.run();
