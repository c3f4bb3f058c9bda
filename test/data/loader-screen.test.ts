// data/loader.ts's screenDataset: the check of a training set before the
// first step. Each kind of bad image (truncated PNG, truncated JPEG, an empty
// file, pixels of another size than the record, an unreadable header, a box
// outside the image, a box of negative size, a class outside the dataset's,
// a non-finite box) stops the run with one message naming the file and the
// entry; with skipBad each is reported once, counted by kind and left out,
// and the good images stay in order. Fixtures are written at run time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { BadSampleError, fromCoco, screenDataset, type BadSample, type LoaderDataset } from '../../data/loader.js';
import { parseCoco } from '../../data/coco.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-screen-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A noisy 64×48 picture (a realistic compressed size, so a cut lands inside the pixel data). */
async function picture(format: 'png' | 'jpeg'): Promise<Buffer> {
  const data = Buffer.alloc(64 * 48 * 3);
  let s = 9;
  for (let i = 0; i < data.length; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; data[i] = s >>> 24; }
  const img = sharp(data, { raw: { width: 64, height: 48, channels: 3 } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 90 }).toBuffer();
}

interface Fixture { name: string; bytes: Buffer; width?: number; height?: number; box?: number[]; cls?: number }

async function fixtures(): Promise<Fixture[]> {
  const png = await picture('png'), jpeg = await picture('jpeg');
  return [
    { name: 'good-0.png', bytes: png },
    { name: 'truncated.png', bytes: png.subarray(0, Math.floor(png.length * 0.7)) },
    { name: 'good-1.jpg', bytes: jpeg },
    { name: 'truncated.jpg', bytes: jpeg.subarray(0, Math.floor(jpeg.length * 0.7)) },
    { name: 'empty.png', bytes: Buffer.alloc(0) },
    { name: 'other-size.png', bytes: png, width: 32, height: 48 },
    { name: 'outside.png', bytes: png, box: [40, 10, 70, 30] },
    { name: 'negative.png', bytes: png, box: [30, 10, 20, 30] },
    { name: 'unknown-class.png', bytes: png, cls: 7 },
    { name: 'not-finite.png', bytes: png, box: [NaN, 1, 5, 5] },
    { name: 'good-2.png', bytes: png, box: [-0.5, 0, 64.5, 48] },
  ];
}

/** The fixtures as a LoaderDataset: one box per image, 3 classes. */
async function dataset(): Promise<{ ds: LoaderDataset; expected: Map<string, RegExp> }> {
  const fx = await fixtures();
  for (const f of fx) writeFileSync(join(dir, f.name), f.bytes);
  const images = fx.map((f, i) => ({ id: i + 1, file: join(dir, f.name), width: f.width ?? 64, height: f.height ?? 48 }));
  const ds: LoaderDataset = {
    images,
    boxesOf(id) {
      const f = fx[id - 1]!;
      return { boxes: Float32Array.from(f.box ?? [4, 4, 20, 20]), classes: Int32Array.from([f.cls ?? 1]), names: [`annotations[${id}]`] };
    },
  };
  const expected = new Map<string, RegExp>([
    ['truncated.png', /the image: cannot decode image \(corrupt, truncated or not PNG\/JPEG\)/],
    ['truncated.jpg', /the image: cannot decode image \(corrupt, truncated or not PNG\/JPEG\)/],
    ['empty.png', /the image: cannot decode image: the file is empty/],
    ['other-size.png', /the image: image is 64×48 but its record says 32×48/],
    ['outside.png', /annotations\[7\]: box \[40, 10, 70, 30\] \(x1, y1, x2, y2\) lies outside the 64×48 image/],
    ['negative.png', /annotations\[8\]: box \[30, 10, 20, 30\] \(x1, y1, x2, y2\) has negative size \(-10 × 20\)/],
    ['unknown-class.png', /annotations\[9\]: class 7 is not one of the dataset's 3 categories/],
    ['not-finite.png', /annotations\[10\]: box \[NaN, 1, 5, 5\] is not finite/],
  ]);
  return { ds, expected };
}

test('without skipBad each bad image is one error naming the file and the entry', async () => {
  const { ds, expected } = await dataset();
  for (const [name, re] of expected) {
    // A dataset of the good images and this one bad image.
    const one: LoaderDataset = { images: ds.images.filter((im) => /good/.test(im.file) || im.file.endsWith(`/${name}`)), boxesOf: ds.boxesOf };
    try {
      await screenDataset(one, { classCount: 3, skipBad: false });
      assert.unreachable(`${name} passed`);
    } catch (e) {
      assert.instance(e, BadSampleError, name);
      const m = (e as Error).message;
      assert.ok(m.startsWith(join(dir, name) + ': '), `${name}: the message starts with the file: ${m}`);
      assert.match(m, re, name);
      assert.not.match(m, /\n/, 'one line');
      assert.match((e as BadSampleError).hint ?? '', /--skip-bad/);
      assert.is((e as BadSampleError).exitCode, 1);
    }
  }
});

test('with skipBad each bad image is reported once, counted by kind and left out; the good ones stay, in order', async () => {
  const { ds, expected } = await dataset();
  const seen: BadSample[] = [];
  const r = await screenDataset(ds, { classCount: 3, skipBad: true, onBad: (b) => seen.push(b), concurrency: 3 });
  assert.equal(r.dataset.images.map((im) => im.file.split('/').pop()), ['good-0.png', 'good-1.jpg', 'good-2.png']);
  assert.is(r.bad.length, expected.size);
  assert.equal(seen, r.bad);
  assert.equal(r.bad.map((b) => b.file.split('/').pop()), [...expected.keys()], 'dataset order');
  for (const b of r.bad) assert.match(`${b.file.split('/').pop()}: ${b.entry}: ${b.problem}`, expected.get(b.file.split('/').pop()!)!);
  assert.is(r.undecodable, 4);
  assert.is(r.inconsistent, 4);
  assert.is(r.dataset.boxesOf(r.dataset.images[2]!.id).classes[0], 1, 'boxes still found by id');
});

test('a clean dataset comes back as it is', async () => {
  const { ds } = await dataset();
  const clean: LoaderDataset = { images: ds.images.filter((im) => /good/.test(im.file)), boxesOf: ds.boxesOf };
  const r = await screenDataset(clean, { classCount: 3, skipBad: false });
  assert.is(r.dataset, clean);
  assert.is(r.bad.length, 0);
});

test('COCO: an image without a size whose header cannot be read, and a box outside the image, are named by file and record', async () => {
  writeFileSync(join(dir, 'garbage.png'), 'not an image at all');
  writeFileSync(join(dir, 'fine.png'), await picture('png'));
  const coco = parseCoco(JSON.stringify({
    images: [{ id: 1, file_name: 'garbage.png' }, { id: 2, file_name: 'fine.png', width: 64, height: 48 }],
    annotations: [{ id: 11, image_id: 1, category_id: 5, bbox: [1, 1, 5, 5] }, { id: 12, image_id: 2, category_id: 5, bbox: [50, 2, 20, 5] }],
    categories: [{ id: 5, name: 'thing' }],
  }), 'ann.json');
  const ds = await fromCoco(coco, dir);
  const r = await screenDataset(ds, { classCount: 1, skipBad: true });
  assert.is(r.dataset.images.length, 0);
  assert.match(`${r.bad[0]!.file}: ${r.bad[0]!.entry}: ${r.bad[0]!.problem}`, /garbage\.png: the image: cannot read image header/);
  assert.match(`${r.bad[1]!.file}: ${r.bad[1]!.entry}: ${r.bad[1]!.problem}`, /fine\.png: annotations\[1\] \(id 12\): box \[50, 2, 70, 7\] .* lies outside the 64×48 image/);
  assert.ok(readFileSync(join(dir, 'fine.png')).length > 0);
});

test.run();
