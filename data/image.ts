// Image decode and encode (sharp). Images travel as 8-bit RGB, interleaved
// (HWC), which is what decoders produce and PNG encoders take; the float CHW
// tensor a model consumes is made once, by the loader, after resizing.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../io/files.js';
import sharp from 'sharp';
import { FusedetError } from '../io/errors.js';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** height × width × 3 bytes, row-major, R G B. */
  readonly data: Uint8Array;
}

export class ImageError extends FusedetError {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

/** Reads a PNG or JPEG (anything sharp decodes) as RGB; alpha is composited onto black. */
export async function readImage(path: string): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageError(`${path}: cannot read image${code === 'ENOENT' ? ': no such file' : `: ${(e as Error).message}`}`);
  }
  return decodeImage(bytes, path);
}

/** `name` is only for messages (the file the bytes came from). */
export async function decodeImage(bytes: Uint8Array, name: string): Promise<RgbImage> {
  if (bytes.length === 0) throw new ImageError(`${name}: cannot decode image: the file is empty`);
  try {
    // rotate() with no angle applies the EXIF orientation, as COCO tools do
    // when they report width and height.
    const { data, info } = await sharp(bytes, { failOn: 'error' })
      .rotate()
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const { width, height, channels } = info;
    if (channels === 3) return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
    // Greyscale (and grey + alpha after flatten) come back with fewer channels.
    const rgb = new Uint8Array(width * height * 3);
    for (let p = 0; p < width * height; p++) {
      const v = data[p * channels]!;
      rgb[3 * p] = v; rgb[3 * p + 1] = channels >= 3 ? data[p * channels + 1]! : v; rgb[3 * p + 2] = channels >= 3 ? data[p * channels + 2]! : v;
    }
    return { width, height, data: rgb };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`${name}: cannot decode image (corrupt or not PNG/JPEG): ${(e as Error).message}`);
  }
}

/** Reads only the header: width and height without decoding pixels. */
export async function imageSize(path: string): Promise<{ width: number; height: number }> {
  try {
    const m = await sharp(path).metadata();
    if (!m.width || !m.height) throw new Error('no size in header');
    const swap = (m.orientation ?? 1) >= 5;
    return swap ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
  } catch (e) {
    throw new ImageError(`${path}: cannot read image header: ${(e as Error).message}`);
  }
}

/**
 * Decodes, resizes to exactly width × height (bilinear) and optionally
 * mirrors, in one sharp pipeline off the main thread: the loader's per-image
 * work. `expect` is the size the annotations give; a different size means
 * the boxes are for another picture, which is an error, not a resize.
 */
export async function readResized(
  path: string, width: number, height: number, flip: boolean, expect?: { width: number; height: number },
): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageError(`${path}: cannot read image${code === 'ENOENT' ? ': no such file' : `: ${(e as Error).message}`}`);
  }
  let pipeline: ReturnType<typeof sharp>;
  try {
    pipeline = sharp(bytes, { failOn: 'error' });
    if (expect) {
      const m = await pipeline.metadata();
      const swap = (m.orientation ?? 1) >= 5;
      const w = swap ? m.height : m.width, h = swap ? m.width : m.height;
      if (w !== expect.width || h !== expect.height) {
        throw new ImageError(`${path}: image is ${w}×${h} but its annotation says ${expect.width}×${expect.height}; the boxes would not fit it`);
      }
    }
    pipeline = pipeline.rotate().flatten({ background: { r: 0, g: 0, b: 0 } })
      .resize(width, height, { fit: 'fill', kernel: 'linear' });
    if (flip) pipeline = pipeline.flop();
    const { data, info } = await pipeline.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`${path}: cannot decode image (corrupt or not PNG/JPEG): ${(e as Error).message}`);
  }
}

/**
 * Float CHW planes, (v/255 − mean[c]) / std[c]. mean/std are on the 0..1
 * scale; the defaults leave values in 0..1.
 */
export function toFloatChw(img: RgbImage, mean: readonly number[] = [0, 0, 0], std: readonly number[] = [1, 1, 1]): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * std[c]!), shift = mean[c]! / std[c]!;
    for (let p = 0; p < n; p++) out[c * n + p] = img.data[3 * p + c]! * scale - shift;
  }
  return out;
}

/**
 * PNG bytes. Compression settings are fixed so the same pixels always give the
 * same bytes (the scene generator promises byte-identical output per seed).
 */
export async function encodePng(img: RgbImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

/** Writes to a temporary name and renames, so a reader never sees half a file. */
export async function writePng(path: string, img: RgbImage): Promise<void> {
  // Not fsynced: scenes write hundreds of these, and a lost one is regenerated.
  await writeFileAtomic(path, await encodePng(img), { what: 'image', durable: false });
}
