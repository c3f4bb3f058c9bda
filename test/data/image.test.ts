import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readImage, encodePng, writePng, toFloatChw, readResized, imageSize, ImageError } from '../../data/image.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-image-'));

/** 4×3 test card: pixel (x, y) = (10x, 20y, 7) */
function card(): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(4 * 3 * 3);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) data.set([10 * x, 20 * y, 7], 3 * (y * 4 + x));
  return { width: 4, height: 3, data };
}

async function expectImageError(p: Promise<unknown>, ...parts: string[]): Promise<void> {
  try {
    await p;
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, ImageError);
    assert.is((e as ImageError).exitCode, 1);
    for (const s of parts) assert.match((e as Error).message, s);
  }
}

test('PNG round trip is exact, and the same pixels give the same bytes', async () => {
  const path = join(dir, 'card.png');
  await writePng(path, card());
  const back = await readImage(path);
  assert.equal([back.width, back.height], [4, 3]);
  assert.equal(Array.from(back.data), Array.from(card().data));
  assert.ok((await encodePng(card())).equals(readFileSync(path)));
});

test('JPEG decodes to RGB of the right size, close to the source', async () => {
  const flat = { width: 16, height: 8, data: new Uint8Array(16 * 8 * 3).fill(128) };
  const path = join(dir, 'flat.jpg');
  writeFileSync(path, await sharp(flat.data, { raw: { width: 16, height: 8, channels: 3 } }).jpeg({ quality: 95 }).toBuffer());
  const img = await readImage(path);
  assert.equal([img.width, img.height, img.data.length], [16, 8, 16 * 8 * 3]);
  assert.ok(img.data.every((v) => Math.abs(v - 128) <= 2));
});

test('grey and grey+alpha PNGs become RGB; alpha is composited on black', async () => {
  const grey = join(dir, 'grey.png');
  writeFileSync(grey, await sharp(new Uint8Array([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer());
  const g = await readImage(grey);
  assert.equal(Array.from(g.data), [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
  const rgba = join(dir, 'rgba.png');
  writeFileSync(rgba, await sharp(new Uint8Array([200, 100, 50, 255, 200, 100, 50, 0]), { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer());
  const a = await readImage(rgba);
  assert.equal(Array.from(a.data), [200, 100, 50, 0, 0, 0]);
});

test('a corrupt, truncated, empty or missing file gives a clear error naming it', async () => {
  const junk = join(dir, 'junk.png');
  writeFileSync(junk, 'this is not an image');
  await expectImageError(readImage(junk), junk, 'cannot decode');
  const png = await encodePng({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).map((_, i) => (i * 31) & 255) });
  const cut = join(dir, 'cut.png');
  writeFileSync(cut, png.subarray(0, png.length >> 1));
  await expectImageError(readImage(cut), cut);
  const empty = join(dir, 'empty.png');
  writeFileSync(empty, '');
  await expectImageError(readImage(empty), empty, 'empty');
  await expectImageError(readImage(join(dir, 'nope.png')), 'nope.png', 'no such file');
  await expectImageError(readResized(junk, 4, 4, false), junk);
  await expectImageError(imageSize(junk), junk);
});

test('readResized resizes, mirrors, and refuses an image whose size disagrees with its annotation', async () => {
  const path = join(dir, 'card2.png');
  await writePng(path, card());
  const same = await readResized(path, 4, 3, true);
  // Mirrored: column x holds the source's column 3 − x.
  for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) assert.is(same.data[3 * (y * 4 + x)], 10 * (3 - x));
  const big = await readResized(path, 8, 6, false, { width: 4, height: 3 });
  assert.equal([big.width, big.height], [8, 6]);
  assert.equal(await imageSize(path), { width: 4, height: 3 });
  await expectImageError(readResized(path, 8, 6, false, { width: 5, height: 3 }), path, '4×3', '5×3');
});

test('toFloatChw: planes, scale and normalisation', () => {
  const f = toFloatChw(card());
  assert.is(f.length, 36);
  assert.is(f[1], Math.fround(10 / 255)); // R plane, x = 1
  assert.is(f[12 + 4], Math.fround(20 / 255)); // G plane, y = 1
  const n = toFloatChw(card(), [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
  assert.ok(Math.abs(n[24]! - (7 / 255 - 0.5) / 0.25) < 1e-6);
});

test.run();
