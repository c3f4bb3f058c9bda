#!/usr/bin/env node
// Builds data/fashion-mnist/subset.bin.gz, the Fashion-MNIST items shipped in
// the repository so the scene generator works without Debian's
// dataset-fashion-mnist package (CI does not install it).
//
// Takes the first N items of each class (default 100) from the training set,
// in file order, so the subset is reproducible from the same source files.
// Format (little-endian, then gzip -9):
//   "FMNS" | u8 version = 1 | u8 rows | u8 cols | u8 0 | u32 count
//   | count × u8 label | count × rows·cols × u8 pixel (row-major, 0 = background)
// Fashion-MNIST is © Zalando SE, MIT licence.
//
// Usage: node tools/fashion-mnist-subset.mjs [--per-class N] [--src DIR] [--out FILE]
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'per-class': { type: 'string', default: '100' },
    src: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    out: { type: 'string', default: 'data/fashion-mnist/subset.bin.gz' },
  },
});
const perClass = Number(values['per-class']);
if (!Number.isInteger(perClass) || perClass < 1 || perClass > 6000) throw new Error(`--per-class must be an integer in 1..6000, got ${values['per-class']}`);

function readIdx(file, magic) {
  const buf = gunzipSync(readFileSync(file));
  if (buf.readUInt32BE(0) !== magic) throw new Error(`${file}: not an IDX file with magic ${magic.toString(16)}`);
  return buf;
}
const images = readIdx(join(values.src, 'train-images-idx3-ubyte.gz'), 0x803);
const labels = readIdx(join(values.src, 'train-labels-idx1-ubyte.gz'), 0x801);
const n = images.readUInt32BE(4), rows = images.readUInt32BE(8), cols = images.readUInt32BE(12);
if (labels.readUInt32BE(4) !== n) throw new Error('image and label counts differ');

const picked = [];
const taken = new Array(10).fill(0);
for (let i = 0; i < n && picked.length < perClass * 10; i++) {
  const c = labels[8 + i];
  if (taken[c] < perClass) { taken[c]++; picked.push(i); }
}
const count = picked.length, px = rows * cols;
const out = Buffer.alloc(12 + count + count * px);
out.write('FMNS', 0, 'latin1');
out[4] = 1; out[5] = rows; out[6] = cols; out[7] = 0;
out.writeUInt32LE(count, 8);
picked.forEach((src, k) => {
  out[12 + k] = labels[8 + src];
  images.copy(out, 12 + count + k * px, 16 + src * px, 16 + (src + 1) * px);
});
const gz = gzipSync(out, { level: 9 });
writeFileSync(values.out + '.tmp', gz);
renameSync(values.out + '.tmp', values.out);
process.stdout.write(`${values.out}: ${count} items (${perClass} per class), ${gz.length} bytes\n`);
