// Images for the Node entry: a file path, encoded bytes (PNG, JPEG, ... as
// sharp reads them) or decoded pixels, resized to the config's test size in
// one sharp pipeline — the same decode, EXIF rotation, alpha flattening and
// bilinear resize as data/image.ts, so the API, the CLI and evaluation see
// the same pixels. The only platform-specific part of the API.
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { imageSize, readResized } from '../data/image.js';
import { type PlanePool, pixelsToChw, resizeTarget, type Prepared, type Preprocess } from './core.js';
import { ImageInputError, as } from './errors.js';
import type { PixelsInput } from './types.js';

export async function prepareFile(path: string, p: Preprocess, pool?: PlanePool): Promise<Prepared> {
  if (!existsSync(path)) throw new ImageInputError(`${path}: cannot read image: no such file`);
  try {
    const { width, height } = await imageSize(path);
    const size = resizeTarget(width, height, p);
    const img = await readResized(path, size.width, size.height, false);
    return { chw: pixelsToChw(img.data, size.width, size.height, 3, p, pool), pooled: pool !== undefined, ...size, origW: width, origH: height };
  } catch (e) {
    throw as(ImageInputError, e) as Error;
  }
}

/** `name` is for messages only; `pool` lends the float planes (given back by detectAll). */
export async function prepareBytes(bytes: Uint8Array, name: string, p: Preprocess, pool?: PlanePool): Promise<Prepared> {
  if (bytes.length === 0) throw new ImageInputError(`${name}: cannot decode image: it is empty`);
  try {
    const m = await sharp(bytes, { failOn: 'error' }).metadata();
    if (!m.width || !m.height) throw new Error('no size in the header');
    const swap = (m.orientation ?? 1) >= 5;
    const width = swap ? m.height : m.width, height = swap ? m.width : m.height;
    const size = resizeTarget(width, height, p);
    const { data, info } = await sharp(bytes, { failOn: 'error' }).rotate().flatten({ background: { r: 0, g: 0, b: 0 } })
      .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    return { chw: pixelsToChw(data, size.width, size.height, info.channels, p, pool), pooled: pool !== undefined, ...size, origW: width, origH: height };
  } catch (e) {
    throw new ImageInputError(`${name}: cannot decode image (corrupt or not PNG/JPEG): ${(e as Error).message}`, { cause: e });
  }
}

export async function preparePixels(x: PixelsInput, p: Preprocess, pool?: PlanePool): Promise<Prepared> {
  const ch = x.channels ?? 4;
  if (!(Number.isInteger(x.width) && Number.isInteger(x.height) && x.width > 0 && x.height > 0)) throw new ImageInputError(`pixels: size ${x.width}×${x.height} is not a positive whole size`);
  if (x.data.length !== x.width * x.height * ch) throw new ImageInputError(`pixels: ${x.data.length} bytes, ${x.width}×${x.height}×${ch} needs ${x.width * x.height * ch}`);
  const size = resizeTarget(x.width, x.height, p);
  if (size.width === x.width && size.height === x.height) return { chw: pixelsToChw(x.data, x.width, x.height, ch, p, pool), pooled: pool !== undefined, ...size, origW: x.width, origH: x.height };
  const { data, info } = await sharp(Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength), { raw: { width: x.width, height: x.height, channels: ch } })
    .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer({ resolveWithObject: true });
  return { chw: pixelsToChw(data, size.width, size.height, info.channels, p, pool), pooled: pool !== undefined, ...size, origW: x.width, origH: x.height };
}
