// evaluateCrowdHumanFiles: detection formats, image id mapping, and bad
// input (unknown images, duplicates, malformed files) with file and line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateCrowdHumanFiles } from '../../eval/crowdhuman.js';
import { BadRecordLog, DataRecordError } from '../../data/odgt.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/crowdhuman/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fusedet-chfiles-'));
let n = 0;
function put(text: string, ext = '.odgt', name?: string): string {
  const p = join(dir, name ?? `f${n++}${ext}`);
  writeFileSync(p, text);
  return p;
}
async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.match((e as Error).message, re);
    assert.is((e as { exitCode?: number }).exitCode, 1);
    return;
  }
  assert.unreachable(`expected an error matching ${re}`);
}

const gtLines = [
  '{"ID":"a","width":100,"height":100,"gtboxes":[{"tag":"person","fbox":[0,0,20,20]},{"tag":"person","fbox":[50,50,20,20]}]}',
  '{"ID":"b","width":100,"height":100,"gtboxes":[{"tag":"person","fbox":[10,10,30,30]},{"tag":"person","fbox":[60,0,30,30],"extra":{"ignore":1}}]}',
];
const gt = put(gtLines.join('\n') + '\n');

test('odgt detections: unknown image ID → file, line, ID; --skip-bad counts it', async () => {
  const dets = put('{"ID":"a","dtboxes":[{"box":[0,0,20,20],"score":0.9}]}\n{"ID":"nope","dtboxes":[]}\n');
  await rejects(evaluateCrowdHumanFiles(gt, dets, {}), /f\d+\.odgt:2:1: detections for image ID "nope", which is not in the ground truth/);
  const bad = new BadRecordLog();
  const m = await evaluateCrowdHumanFiles(gt, dets, { skipBad: true, bad });
  assert.is(m.skipped, 1);
  assert.is(bad.count, 1);
  assert.is(m.truePositives, 1);
});

test('odgt detections: two records for one image is an error', async () => {
  const dets = put('{"ID":"a","dtboxes":[]}\n{"ID":"a","dtboxes":[]}\n');
  await rejects(evaluateCrowdHumanFiles(gt, dets, {}), /:2:1: second detection record for image ID "a"/);
});

test('ground truth: an image twice is an error, skipped with --skip-bad', async () => {
  const g = put(`${gtLines[0]}\n${gtLines[0]}\n`);
  const dets = put('{"ID":"a","dtboxes":[]}\n');
  await rejects(evaluateCrowdHumanFiles(g, dets, {}), /:2:1: image ID "a" appears a second time/);
  assert.is((await evaluateCrowdHumanFiles(g, dets, { skipBad: true })).images, 1);
});

test('COCO results: image_id as the odgt ID string; bad records located by line and column', async () => {
  const good = put(JSON.stringify([{ image_id: 'a', category_id: 1, bbox: [0, 0, 20, 20], score: 0.9 }, { image_id: 'b', category_id: 5, bbox: [10, 10, 30, 30], score: 0.8 }]), '.json');
  const m = await evaluateCrowdHumanFiles(gt, good, {});
  assert.equal([m.truePositives, m.falsePositives, m.gtCounted, m.gtIgnored], [2, 0, 3, 1]);
  const unknown = put('[\n {"image_id": "a", "bbox": [0, 0, 20, 20], "score": 0.9},\n {"image_id": 42, "bbox": [0, 0, 1, 1], "score": 0.5}\n]\n', '.json');
  await rejects(evaluateCrowdHumanFiles(gt, unknown, {}), /f\d+\.json:3:2: result 1: image_id 42 is not in the ground truth/);
  const m2 = await evaluateCrowdHumanFiles(gt, unknown, { skipBad: true });
  assert.equal([m2.skipped, m2.detections], [1, 1]);
  const negative = put('[{"image_id": "a", "bbox": [0, 0, -2, 20], "score": 0.9}]', '.json');
  await rejects(evaluateCrowdHumanFiles(gt, negative, {}), /:1:2: result 0 \(image_id a\): 'bbox' has negative size/);
  const noScore = put('[{"image_id": "a", "bbox": [0, 0, 2, 20]}]', '.json');
  await rejects(evaluateCrowdHumanFiles(gt, noScore, {}), /:1:2: result 0 \(image_id a\): missing field 'score'/);
  const malformed = put('[\n {"image_id": "a", "bbox": [0, 0, 2, 20], "score": 0.9},\n {"image_id": "a" "bbox": []}\n]', '.json');
  await rejects(evaluateCrowdHumanFiles(gt, malformed, {}), /f\d+\.json:3:19: malformed JSON/);
});

test('a scenes folder: COCO image ids map to odgt IDs through file names; COCO GT alone works too', async () => {
  const sc = join(dir, 'scenes');
  mkdirSync(sc);
  const odgt = [
    '{"ID":"000000","width":64,"height":64,"gtboxes":[{"tag":"Bag","fbox":[0,0,20,20],"extra":{"ignore":0}},{"tag":"Coat","fbox":[30,30,20,20],"extra":{"ignore":1}}]}',
    '{"ID":"000001","width":64,"height":64,"gtboxes":[{"tag":"Shirt","fbox":[5,5,30,30],"extra":{"ignore":0}}]}',
  ];
  writeFileSync(join(sc, 'annotations.odgt'), odgt.join('\n') + '\n');
  writeFileSync(join(sc, 'annotations.json'), JSON.stringify({
    images: [{ id: 1, file_name: '000000.png', width: 64, height: 64 }, { id: 2, file_name: '000001.png', width: 64, height: 64 }],
    categories: [{ id: 1, name: 'Bag' }, { id: 2, name: 'Coat' }, { id: 3, name: 'Shirt' }],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 20, 20], area: 400, iscrowd: 0 },
      { id: 2, image_id: 1, category_id: 2, bbox: [30, 30, 20, 20], area: 400, iscrowd: 0 },
      { id: 3, image_id: 2, category_id: 3, bbox: [5, 5, 30, 30], area: 900, iscrowd: 0 },
    ],
  }));
  const results = put(JSON.stringify([
    { image_id: 1, category_id: 1, bbox: [0, 0, 20, 20], score: 0.9 },
    { image_id: 1, category_id: 2, bbox: [30, 30, 20, 20], score: 0.8 },
    { image_id: 2, category_id: 3, bbox: [5, 5, 30, 30], score: 0.7 },
  ]), '.json');
  const viaOdgt = await evaluateCrowdHumanFiles(join(sc, 'annotations.odgt'), results, {});
  assert.is(viaOdgt.classAgnostic, true);
  assert.equal([viaOdgt.truePositives, viaOdgt.ignoredDetections, viaOdgt.gtCounted], [2, 1, 2], 'the odgt ignore flag is used');
  const viaCoco = await evaluateCrowdHumanFiles(join(sc, 'annotations.json'), results, {});
  assert.equal([viaCoco.truePositives, viaCoco.ignoredDetections], [2, 1], 'the .odgt beside the COCO file gives the ignore flags');
  const alone = join(dir, 'alone.json');
  writeFileSync(alone, JSON.stringify({
    images: [{ id: 1, file_name: 'x.png', width: 64, height: 64 }],
    categories: [{ id: 1, name: 'Bag' }],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 20, 20], area: 400, iscrowd: 0 },
      { id: 2, image_id: 1, category_id: 1, bbox: [30, 30, 20, 20], area: 400, iscrowd: 1 },
    ],
  }));
  const cocoOnly = await evaluateCrowdHumanFiles(alone, results, { skipBad: true });
  assert.equal([cocoOnly.gtCounted, cocoOnly.gtIgnored, cocoOnly.truePositives, cocoOnly.ignoredDetections, cocoOnly.skipped], [1, 1, 1, 1, 1],
    'iscrowd becomes an ignore region; the image 2 detection is skipped');
});

test('a missing detections file is a clear error', async () => {
  try {
    await evaluateCrowdHumanFiles(gt, join(dir, 'none.odgt'), {});
    assert.unreachable('no error');
  } catch (e) {
    assert.instance(e, DataRecordError);
    assert.match((e as Error).message, /none\.odgt.*cannot open/);
  }
});

test('the fixture COCO results pair equals its odgt form', async () => {
  const m = await evaluateCrowdHumanFiles(join(FIX, 'seeded_coco_results.gt.odgt'), join(FIX, 'seeded_coco_results.dets.json'), {});
  assert.ok(m.detections > 50);
});

test.run();
