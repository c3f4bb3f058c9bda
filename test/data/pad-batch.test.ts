// padChwBatch (data/augment.ts): images of their own sizes zero-padded into
// one [B, 3, H, W] batch, top-left aligned; a lone image of exactly the
// batch's size is passed through without a copy. padImageBatch adds the
// info rows the detector programs rescale by, and api/core.ts padImages
// refuses an image larger than a program file's fixed input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { padChwBatch, padImageBatch } from '../../data/augment.js';
import { padImages } from '../../api/core.js';

const image = (width: number, height: number, base: number) => ({ width, height, chw: Float32Array.from({ length: 3 * width * height }, (_, i) => base + i) });

test('a lone image of the batch size is the batch itself', () => {
  const img = image(4, 2, 1);
  assert.is(padChwBatch([img], 1, 2, 4), img.chw);
});

test('smaller images are copied into zero padding, each plane row by row', () => {
  const a = image(2, 1, 1), b = image(3, 2, 100);
  const out = padChwBatch([a, b], 3, 2, 3);
  assert.is(out.length, 3 * 3 * 2 * 3);
  const at = (n: number, c: number, y: number, x: number): number => out[((n * 3 + c) * 2 + y) * 3 + x];
  for (let c = 0; c < 3; c++) {
    assert.equal([at(0, c, 0, 0), at(0, c, 0, 1), at(0, c, 0, 2)], [1 + 2 * c, 2 + 2 * c, 0], `image 0 plane ${c} row 0`);
    assert.equal([at(0, c, 1, 0), at(0, c, 1, 1), at(0, c, 1, 2)], [0, 0, 0], `image 0 plane ${c} row 1 is padding`);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) assert.is(at(1, c, y, x), 100 + c * 6 + y * 3 + x);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) assert.is(at(2, c, y, x), 0, 'the batch row past the images is zeros');
  }
  // Same size but a batch of two: a copy, the second image zeros.
  const lone = image(3, 2, 5);
  const two = padChwBatch([lone], 2, 2, 3);
  assert.is.not(two, lone.chw);
  assert.equal(Array.from(two.subarray(0, 18)), Array.from(lone.chw));
});

test('padImageBatch: sides padded to the divisor, info rows (scale x, scale y, original size)', () => {
  const a = { ...image(40, 30, 0), origW: 80, origH: 60 }, b = { ...image(33, 20, 0), origW: 33, origH: 20 };
  const { image: batch, info } = padImageBatch([a, b]);
  assert.equal(batch.shape, [2, 3, 32, 64]);
  assert.equal(Array.from(info.data as Float32Array), [2, 2, 80, 60, 1, 1, 33, 20]);
  assert.equal(padImageBatch([a], { divisor: 128 }).image.shape, [1, 3, 128, 128]);
});

test('padImageBatch into a fixed input: rows past the images describe a 1×1 image', () => {
  const a = { ...image(4, 2, 1), origW: 8, origH: 4 };
  const { image: batch, info } = padImageBatch([a], { fixed: { batch: 3, height: 4, width: 8 } });
  assert.equal(batch.shape, [3, 3, 4, 8]);
  assert.equal(Array.from(info.data as Float32Array), [2, 2, 8, 4, 1, 1, 1, 1, 1, 1, 1, 1]);
});

test('padImages: an image larger than a program file\'s input is refused, naming it', () => {
  const small = { ...image(4, 2, 1), origW: 4, origH: 2 }, wide = { ...image(9, 2, 1), origW: 9, origH: 2 };
  assert.throws(() => padImages([small, wide], { batch: 2, height: 4, width: 8 }), /image 1: resized to 9×2, larger than the program's input 8×4/);
  assert.equal(padImages([small], { batch: 1, height: 4, width: 8 }).image.shape, [1, 3, 4, 8]);
});

test.run();
