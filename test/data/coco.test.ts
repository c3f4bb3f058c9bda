import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCoco, readCocoFile } from '../../data/coco.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-coco-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = {
  info: { year: 2017 },
  annotations: [
    { id: 900100000001, image_id: 42, category_id: 90, bbox: [1, 2, 3, 4], area: 7.5, iscrowd: 1, segmentation: { counts: 'abc', size: [9, 9] } },
    { id: 2, image_id: 7, category_id: 1, bbox: [10.5, 20.25, 30, 40], segmentation: [[1, 2, 3, 4, 5, 6]], ignore: 1 },
    { id: 3, image_id: 42, category_id: 1, bbox: [0, 0, 0, 5], area: 0, iscrowd: false },
  ],
  images: [{ id: 42, width: 4000, height: 3000, file_name: 'big.jpg' }, { id: 7, width: 1, height: 1, file_name: 'tiny.png' }, { id: 8 }],
  categories: [{ id: 90, name: 'toothbrush', supercategory: 'indoor' }, { id: 1, name: 'person' }],
};

test('reads images of any size, sparse ids, crowd, area and ignore into columns grouped by image', () => {
  const ds = parseCoco(JSON.stringify(GOOD), 'good.json');
  assert.equal(ds.images.map((im) => [im.id, im.width, im.height, im.fileName]), [[42, 4000, 3000, 'big.jpg'], [7, 1, 1, 'tiny.png'], [8, 0, 0, '']]);
  assert.equal(ds.categories.map((c) => [c.id, c.name]), [[90, 'toothbrush'], [1, 'person']]);
  const a = ds.annotations;
  assert.is(a.count, 3);
  // Image 42 (index 0) owns rows 0-1 in file order; image 7 row 2; image 8 none.
  assert.equal(ds.annotationRange(0), [0, 2]);
  assert.equal(ds.annotationRange(1), [2, 3]);
  assert.equal(ds.annotationRange(2), [3, 3]);
  assert.equal([...a.id], [900100000001, 3, 2]);
  assert.equal([...a.categoryIndex], [0, 1, 1]);
  assert.equal([...a.bbox.subarray(8, 12)], [10.5, 20.25, 30, 40]);
  assert.equal([...a.area], [7.5, 0, 30 * 40]);
  assert.equal([...a.iscrowd], [1, 0, 0]);
  assert.equal([...a.ignore], [0, 0, 1]);
  assert.equal([...a.recordIndex], [0, 2, 1]);
  assert.is(ds.imageIndexOf(7), 1);
  assert.is(ds.imageIndexOf(9), -1);
  assert.is(ds.categoryIndexOf(90), 0);
  assert.is(ds.skipped, 0);
});

test('readCocoFile streams from disk the same as parseCoco', async () => {
  const p = join(dir, 'good.json');
  writeFileSync(p, JSON.stringify(GOOD, null, 2));
  const ds = await readCocoFile(p);
  assert.is(ds.file, p);
  assert.equal([...ds.annotations.id], [900100000001, 3, 2]);
});

function withAnnotation(ann: object): string {
  return JSON.stringify({ ...GOOD, annotations: [GOOD.annotations[1], ann] });
}

const BAD: [string, string, string][] = [
  ['missing field', withAnnotation({ id: 5, image_id: 7, bbox: [0, 0, 1, 1] }), "annotations[1] (id 5): missing field 'category_id'"],
  ['missing bbox', withAnnotation({ id: 5, image_id: 7, category_id: 1 }), "annotations[1] (id 5): missing field 'bbox'"],
  ['negative size', withAnnotation({ id: 5, image_id: 7, category_id: 1, bbox: [0, 0, -2, 1] }), 'annotations[1] (id 5): \'bbox\' has a negative size'],
  ['short bbox', withAnnotation({ id: 5, image_id: 7, category_id: 1, bbox: [0, 0, 1] }), "annotations[1] (id 5): 'bbox' should hold 4 numbers"],
  ['wrong type', withAnnotation({ id: 5, image_id: '7', category_id: 1, bbox: [0, 0, 1, 1] }), "annotations[1] (id 5): 'image_id' should be a number, found a string"],
  ['unknown image', withAnnotation({ id: 5, image_id: 99, category_id: 1, bbox: [0, 0, 1, 1] }), 'annotations[1] (id 5): image_id 99 is not in "images"'],
  ['unknown category', withAnnotation({ id: 5, image_id: 7, category_id: 3, bbox: [0, 0, 1, 1] }), 'annotations[1] (id 5): category_id 3 is not in "categories"'],
  ['duplicate annotation id', withAnnotation({ id: 2, image_id: 7, category_id: 1, bbox: [0, 0, 1, 1] }), 'annotations[1] (id 2): duplicate annotation id 2'],
  ['image without id', JSON.stringify({ ...GOOD, images: [...GOOD.images, { width: 5 }] }), "images[3]: missing field 'id'"],
  ['duplicate image id', JSON.stringify({ ...GOOD, images: [...GOOD.images, { id: 7 }] }), 'images[3] (id 7): duplicate id 7'],
  ['record not an object', withAnnotation([1, 2]), 'annotations[1]: should be an object'],
];

for (const [name, text, want] of BAD) {
  test(`bad input (${name}) stops with one message naming the file and record; skipBad skips it`, () => {
    try {
      parseCoco(text, 'bad.json');
      assert.unreachable('should have thrown');
    } catch (e) {
      const err = e as Error & { exitCode?: number };
      assert.ok(err.message.startsWith('bad.json: '), err.message);
      assert.ok(err.message.includes(want), err.message);
      assert.ok(err.message.includes('--skip-bad'), err.message);
      assert.is(err.exitCode, 1);
    }
    const ds = parseCoco(text, 'bad.json', { skipBad: true });
    assert.is(ds.skipped, 1);
    assert.ok(ds.skippedExamples[0].includes(want), ds.skippedExamples[0]);
  });
}

test('malformed JSON names file, line and column, and cannot be skipped', async () => {
  const p = join(dir, 'broken.json');
  writeFileSync(p, '{\n  "images": [\n    {"id": 1,}\n  ]\n}\n');
  for (const skipBad of [false, true]) {
    try {
      await readCocoFile(p, { skipBad });
      assert.unreachable('should have thrown');
    } catch (e) {
      const err = e as Error & { exitCode?: number };
      assert.ok(err.message.startsWith(`${p}:3:14: malformed JSON`), err.message);
      assert.is(err.exitCode, 1);
    }
  }
});

for (const [what, text, want] of [
  ['an array', '[{"image_id": 1}]', 'found an array (an array is a results file: pass it as --dets)'],
  ['a number', '3', 'found a number'],
  ['no images', '{"annotations": [], "categories": []}', 'no "images" array'],
  ['images not an array', '{"images": {"id": 1}}', '"images" should be an array, found an object'],
] as const) {
  test(`wrong top-level type (${what}) is one clear error`, () => {
    try {
      parseCoco(text, 'top.json', { skipBad: true });
      assert.unreachable('should have thrown');
    } catch (e) {
      const err = e as Error & { exitCode?: number };
      assert.ok(err.message.includes('top.json') && err.message.includes(want), err.message);
      assert.is(err.exitCode, 1);
    }
  });
}

test.run();
