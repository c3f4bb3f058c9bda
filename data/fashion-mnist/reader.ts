// Fashion-MNIST items for the scene generator.
//
// Two sources, in this order:
//  1. the full training set (60,000 items) from Debian's dataset-fashion-mnist
//     package, /usr/share/datasets/fashion-mnist, when it is installed;
//  2. the subset shipped in the repository (data/fashion-mnist/subset.bin.gz,
//     100 items per class, built by tools/fashion-mnist-subset.mjs), so the
//     generator works where the package is not installed (CI).
// FUSEDET_FASHION_MNIST overrides the choice: `subset` forces the shipped
// subset (scenes then match across machines whatever is installed), a folder
// path reads the IDX files from that folder.
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FusedetError } from '../../io/errors.js';

export const FASHION_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

export interface FashionItems {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** count × rows·cols grey levels, 0 = background. */
  readonly pixels: Uint8Array;
  /** count labels in 0..9 (index into FASHION_CLASSES). */
  readonly labels: Uint8Array;
  /** Where the items came from, for the dataset's `info`. */
  readonly source: string;
}

export class FashionMnistError extends FusedetError {
  constructor(message: string) {
    super(message);
    this.name = 'FashionMnistError';
  }
}

export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
const SUBSET_NAME = 'subset.bin.gz';

/** The shipped subset lives in the source tree; this module may run from dist/. */
function subsetPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, SUBSET_NAME), resolve(here, '../../../data/fashion-mnist', SUBSET_NAME)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new FashionMnistError(`Fashion-MNIST subset not found (looked at ${candidates.join(', ')}); rebuild it with node tools/fashion-mnist-subset.mjs`);
  return found;
}

export function readSubset(file = subsetPath()): FashionItems {
  let buf: Buffer;
  try {
    buf = gunzipSync(readFileSync(file));
  } catch (e) {
    throw new FashionMnistError(`${file}: cannot read the Fashion-MNIST subset: ${(e as Error).message}`);
  }
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'FMNS' || buf[4] !== 1) {
    throw new FashionMnistError(`${file}: not a fusedet Fashion-MNIST subset (bad header); rebuild it with node tools/fashion-mnist-subset.mjs`);
  }
  const rows = buf[5]!, cols = buf[6]!, count = buf.readUInt32LE(8);
  if (buf.length !== 12 + count + count * rows * cols) throw new FashionMnistError(`${file}: truncated (header says ${count} items)`);
  const labels = new Uint8Array(buf.buffer, buf.byteOffset + 12, count);
  const pixels = new Uint8Array(buf.buffer, buf.byteOffset + 12 + count, count * rows * cols);
  return { count, rows, cols, pixels, labels, source: `fashion-mnist subset (${count} items, ${SUBSET_NAME})` };
}

function readIdx(file: string, magic: number): Buffer {
  let buf: Buffer;
  try {
    buf = gunzipSync(readFileSync(file));
  } catch (e) {
    throw new FashionMnistError(`${file}: cannot read: ${(e as Error).message}`);
  }
  if (buf.length < 8 || buf.readUInt32BE(0) !== magic) throw new FashionMnistError(`${file}: not an IDX file (magic ${magic.toString(16)} expected)`);
  return buf;
}

export function readIdxFolder(dir: string): FashionItems {
  const images = readIdx(join(dir, 'train-images-idx3-ubyte.gz'), 0x803);
  const labelBuf = readIdx(join(dir, 'train-labels-idx1-ubyte.gz'), 0x801);
  const count = images.readUInt32BE(4), rows = images.readUInt32BE(8), cols = images.readUInt32BE(12);
  if (labelBuf.readUInt32BE(4) !== count) throw new FashionMnistError(`${dir}: image and label counts differ`);
  if (images.length < 16 + count * rows * cols) throw new FashionMnistError(`${dir}: train-images-idx3-ubyte.gz is truncated`);
  return {
    count, rows, cols,
    pixels: new Uint8Array(images.buffer, images.byteOffset + 16, count * rows * cols),
    labels: new Uint8Array(labelBuf.buffer, labelBuf.byteOffset + 8, count),
    source: `fashion-mnist training set (${count} items, ${dir})`,
  };
}

let cached: { key: string; items: FashionItems } | undefined;

/** The items the generator draws from (see the header for the order). */
export function loadFashionItems(): FashionItems {
  const override = process.env['FUSEDET_FASHION_MNIST'];
  const key = override ?? '';
  if (cached && cached.key === key) return cached.items;
  let items: FashionItems;
  if (override === 'subset') items = readSubset();
  else if (override) items = readIdxFolder(override);
  else if (existsSync(join(DEBIAN_FASHION_MNIST, 'train-images-idx3-ubyte.gz'))) items = readIdxFolder(DEBIAN_FASHION_MNIST);
  else items = readSubset();
  cached = { key, items };
  return items;
}
