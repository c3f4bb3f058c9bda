import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCoco } from '../../data/coco.js';
import { parseDetections, readDetectionsFile, resolveDetections, writeDetectionsFile } from '../../data/detections.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-dets-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function rejects(fn: () => Promise<unknown>, check: RegExp | ((e: Error) => boolean)): Promise<void> {
  try { await fn(); } catch (e) {
    const err = e as Error;
    assert.ok(check instanceof RegExp ? check.test(err.message) : check(err), err.message);
    return;
  }
  assert.unreachable('should have thrown');
}

const GT = parseCoco(JSON.stringify({
  images: [{ id: 3 }, { id: 11 }], categories: [{ id: 1 }], annotations: [],
}), 'gt.json');

test('reads results into columns in file order, skipping extra fields', () => {
  const d = parseDetections('[{"image_id": 11, "category_id": 1, "bbox": [1.5, 2, 3, 4], "score": 0.25, "segmentation": [[1, 2]]},\n'
    + ' {"score": 1, "bbox": [0, 0, 0, 0], "category_id": 77, "image_id": 3}]', 'd.json');
  assert.is(d.count, 2);
  assert.equal([...d.imageId], [11, 3]);
  assert.equal([...d.categoryId], [1, 77]);
  assert.equal([...d.bbox], [1.5, 2, 3, 4, 0, 0, 0, 0]);
  assert.equal([...d.score], [0.25, 1]);
});

test('write then read gives the same numbers bit for bit; existing output needs force', async () => {
  const rows = {
    count: 3, imageId: new Float64Array([3, 11, 11]), categoryId: new Float64Array([1, 1, 2]),
    bbox: new Float64Array([0.1, 0.2, 1 / 3, 2 / 3, 1e-9, 5e8, 7, 8, 0, 0, 0, 0]), score: new Float64Array([0.123456789012345, 1, 0]),
  };
  const p = join(dir, 'out.json');
  await writeDetectionsFile(p, rows);
  const back = await readDetectionsFile(p);
  assert.equal([...back.bbox], [...rows.bbox]);
  assert.equal([...back.score], [...rows.score]);
  assert.equal(JSON.parse(readFileSync(p, 'utf8')).length, 3);
  await rejects(() => writeDetectionsFile(p, rows), /exists; pass --force/);
  await writeDetectionsFile(p, { ...rows, count: 1 }, { force: true });
  assert.is((await readDetectionsFile(p)).count, 1);
  assert.not.ok(existsSync(`${p}.tmp-${process.pid}`));
});

const BAD: [string, string, string][] = [
  ['missing score', '[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1]}]', "detections[0] (image_id 3): missing field 'score'"],
  ['negative size', '[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, -1], "score": 0.5}]', "'bbox' has a negative size"],
  ['non-number score', '[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "high"}]', "'score' should be a number, found a string"],
];

for (const [name, text, want] of BAD) {
  test(`bad detection (${name}): one message, or skipped and counted`, () => {
    assert.throws(() => parseDetections(text, 'd.json'), (e: Error & { exitCode?: number }) => e.message.includes(`d.json: `) && e.message.includes(want) && e.exitCode === 1);
    const d = parseDetections(text, 'd.json', { skipBad: true });
    assert.is(d.count, 0);
    assert.is(d.skipped, 1);
  });
}

test('a detection for an unknown image is an error naming the record; skipBad drops it', () => {
  const d = parseDetections('[{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},'
    + '{"image_id": 4, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]', 'd.json');
  assert.throws(() => resolveDetections(d, GT), (e: Error) => e.message.includes('d.json: detections[1]: image_id 4 is not in the ground truth gt.json'));
  const r = resolveDetections(d, GT, { skipBad: true });
  assert.equal([...r.rows], [0]);
  assert.equal([...r.imageIndex], [0]);
  assert.is(r.skipped, 1);
});

test('an object where a results array belongs says which file it looks like', () => {
  assert.throws(() => parseDetections('{"images": []}', 'd.json'), /d\.json: expected a COCO results array.*ground-truth file: pass it as --gt/);
});

test('malformed results JSON reports line and column', async () => {
  const p = join(dir, 'bad.json');
  writeFileSync(p, '[\n {"image_id": 1, "bbox": [0, 0, 1 1]}\n]');
  await rejects(() => readDetectionsFile(p), (e: Error) => e.message.startsWith(`${p}:2:35: malformed JSON`));
});

test.run();
