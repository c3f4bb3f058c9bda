// COCO "instances" files (images, annotations, categories) read as a stream:
// annotations land in typed columns, so a 1 GB file whose bulk is
// segmentation polygons costs tens of bytes per box, not the file's size.
//
// Stable API (`fusedet data check` and `fusedet eval` build on it):
//   readCocoFile(path, { skipBad }) -> CocoDataset
//   parseCoco(text, name, { skipBad }) -> CocoDataset (tests, small inputs)
//
// Field rules: `id`, `image_id`, `category_id` and `bbox` ([x, y, w, h],
// w and h >= 0) are required on annotations; `area` defaults to w*h (the
// file's value is kept when present: pycocotools' area ranges use it);
// `iscrowd` and `ignore` default to 0. Images need `id`; `width`, `height`
// (0 when absent) and `file_name` are kept. Categories need `id`; `name`
// defaults to the id. Ids are any finite numbers; they need not be dense.
import { JsonReader } from './json-stream.js';
import {
  BadRecords, DataError, F64Column, U8Column, describeTopLevel, kindOf, topLevelFound, readBoxField, readNumberField, recordName,
} from './json/records.js';

export interface CocoImage {
  readonly id: number;
  /** 0 when the file does not say. */
  readonly width: number;
  readonly height: number;
  readonly fileName: string;
}

export interface CocoCategory {
  readonly id: number;
  readonly name: string;
  readonly supercategory: string;
}

/**
 * Annotations as columns, grouped by image: image i owns rows
 * [imageStart[i], imageStart[i + 1]), in file order within the image.
 */
export interface CocoAnnotations {
  readonly count: number;
  readonly id: Float64Array;
  /** Index into CocoDataset.images. */
  readonly imageIndex: Int32Array;
  /** Index into CocoDataset.categories. */
  readonly categoryIndex: Int32Array;
  /** x, y, w, h for each row (4 numbers a row). */
  readonly bbox: Float64Array;
  readonly area: Float64Array;
  readonly iscrowd: Uint8Array;
  readonly ignore: Uint8Array;
  /** Position in the file's `annotations` array, for messages. */
  readonly recordIndex: Int32Array;
}

export interface CocoReadOptions {
  /** Drop bad records (counted in `skipped`) instead of stopping at the first. */
  skipBad?: boolean;
  /** The option that named the file ("--gt"), for messages about the file itself. */
  what?: string;
}

export class CocoDataset {
  private readonly imageById: Map<number, number>;
  private readonly categoryById: Map<number, number>;

  constructor(
    readonly file: string,
    readonly images: readonly CocoImage[],
    readonly categories: readonly CocoCategory[],
    readonly annotations: CocoAnnotations,
    readonly imageStart: Int32Array,
    /** Bad records dropped under skipBad. */
    readonly skipped: number,
    /** Up to five messages about skipped records. */
    readonly skippedExamples: readonly string[],
  ) {
    this.imageById = new Map(images.map((im, i) => [im.id, i]));
    this.categoryById = new Map(categories.map((c, i) => [c.id, i]));
  }

  /** Index of the image with this id, or -1. */
  imageIndexOf(id: number): number { return this.imageById.get(id) ?? -1; }
  /** Index of the category with this id, or -1. */
  categoryIndexOf(id: number): number { return this.categoryById.get(id) ?? -1; }

  /** Rows of image i in `annotations`: [start, end). */
  annotationRange(imageIndex: number): [number, number] {
    return [this.imageStart[imageIndex], this.imageStart[imageIndex + 1]];
  }
}

export async function readCocoFile(path: string, opts: CocoReadOptions = {}): Promise<CocoDataset> {
  const r = JsonReader.open(path, undefined, opts.what);
  try {
    return readCoco(r, opts);
  } finally {
    r.close();
  }
}

export function parseCoco(text: string, name: string, opts: CocoReadOptions = {}): CocoDataset {
  return readCoco(JsonReader.fromString(text, name), opts);
}

interface RawAnnotations {
  id: F64Column; imageId: F64Column; categoryId: F64Column; bbox: F64Column; area: F64Column;
  iscrowd: U8Column; ignore: U8Column; record: F64Column;
}

function readCoco(r: JsonReader, opts: CocoReadOptions): CocoDataset {
  const bad = new BadRecords(r.file, opts.skipBad ?? false);
  const top = describeTopLevel(r);
  if (top !== 'object') {
    const hint = top === 'array' ? ' (an array is a results file: pass it as --dets)' : '';
    throw new DataError(`${r.file}: expected a COCO object with "images", "annotations" and "categories", found ${top === 'array' ? 'an array' : topLevelFound(r)}${hint}`);
  }
  let images: CocoImage[] | null = null;
  let categories: CocoCategory[] | null = null;
  let raw: RawAnnotations | null = null;
  r.beginObject();
  for (let key = r.nextKey(); key !== null; key = r.nextKey()) {
    if (key === 'images') images = readArray(r, key, (i) => readImage(r, i, bad));
    else if (key === 'categories') categories = readArray(r, key, (i) => readCategory(r, i, bad));
    else if (key === 'annotations') raw = readAnnotations(r, bad);
    else r.skipValue();
  }
  r.expectEnd();
  if (!images) throw new DataError(`${r.file}: no "images" array: not a COCO instances file`);
  if (!categories) throw new DataError(`${r.file}: no "categories" array: not a COCO instances file`);
  images = dropDuplicates(images, 'images', bad);
  categories = dropDuplicates(categories, 'categories', bad);
  return assemble(r.file, images, categories, raw, bad);
}

function readArray<T>(r: JsonReader, key: string, readOne: (index: number) => T | null): T[] {
  if (kindOf(r) !== 'an array') r.reject(`"${key}" should be an array, found ${kindOf(r)}`);
  const out: T[] = [];
  r.beginArray();
  for (let i = 0; r.nextItem(); i++) {
    const v = readOne(i);
    if (v !== null) out.push(v);
  }
  return out;
}

/** Calls onKey for each key of a record object; false when the item is not an object. */
function forEachKey(r: JsonReader, onKey: (key: string) => void): boolean {
  if (kindOf(r) !== 'an object') { r.skipValue(); return false; }
  r.beginObject();
  for (let key = r.nextKey(); key !== null; key = r.nextKey()) onKey(key);
  return true;
}

function readImage(r: JsonReader, index: number, bad: BadRecords): CocoImage | null {
  let id = NaN, width = 0, height = 0, fileName = '';
  let problem: string | null = null;
  const isObject = forEachKey(r, (key) => {
    if (key === 'id' || key === 'width' || key === 'height') {
      const v = readNumberField(r, key);
      if (typeof v === 'string') problem ??= v;
      else if (key === 'id') id = v; else if (key === 'width') width = v; else height = v;
    } else if (key === 'file_name' && kindOf(r) === 'a string') fileName = r.readString();
    else r.skipValue();
  });
  if (!isObject) problem = 'should be an object';
  else if (Number.isNaN(id)) problem ??= "missing field 'id'";
  else if (!(width >= 0 && height >= 0)) problem ??= `negative size ${width}x${height}`;
  if (problem) { bad.report(recordName('images', index, id), problem); return null; }
  return { id, width, height, fileName };
}

function readCategory(r: JsonReader, index: number, bad: BadRecords): CocoCategory | null {
  let id = NaN, name: string | null = null, supercategory = '';
  let problem: string | null = null;
  const isObject = forEachKey(r, (key) => {
    if (key === 'id') {
      const v = readNumberField(r, key);
      if (typeof v === 'string') problem ??= v; else id = v;
    } else if (key === 'name' && kindOf(r) === 'a string') name = r.readString();
    else if (key === 'supercategory' && kindOf(r) === 'a string') supercategory = r.readString();
    else r.skipValue();
  });
  if (!isObject) problem = 'should be an object';
  else if (Number.isNaN(id)) problem ??= "missing field 'id'";
  if (problem) { bad.report(recordName('categories', index, id), problem); return null; }
  return { id, name: name ?? String(id), supercategory };
}

const REQUIRED = ['id', 'image_id', 'category_id', 'bbox'] as const;

function readAnnotations(r: JsonReader, bad: BadRecords): RawAnnotations {
  const cols: RawAnnotations = {
    id: new F64Column(), imageId: new F64Column(), categoryId: new F64Column(), bbox: new F64Column(),
    area: new F64Column(), iscrowd: new U8Column(), ignore: new U8Column(), record: new F64Column(),
  };
  if (kindOf(r) !== 'an array') r.reject(`"annotations" should be an array, found ${kindOf(r)}`);
  const box = new Float64Array(4);
  const seen = new Uint8Array(4);
  r.beginArray();
  for (let index = 0; r.nextItem(); index++) {
    let id = NaN, imageId = NaN, categoryId = NaN, area = NaN, iscrowd = 0, ignore = 0;
    let problem: string | null = null;
    seen.fill(0);
    const isObject = forEachKey(r, (key) => {
      switch (key) {
        case 'bbox': { seen[3] = 1; const p = readBoxField(r, key, box); if (p) problem ??= p; break; }
        case 'id': case 'image_id': case 'category_id': case 'area': case 'iscrowd': case 'ignore': {
          const v = readNumberField(r, key, key === 'iscrowd' || key === 'ignore');
          if (typeof v === 'string') { problem ??= v; break; }
          if (!Number.isFinite(v)) { problem ??= `'${key}' is not finite`; break; }
          if (key === 'id') { id = v; seen[0] = 1; } else if (key === 'image_id') { imageId = v; seen[1] = 1; }
          else if (key === 'category_id') { categoryId = v; seen[2] = 1; } else if (key === 'area') area = v;
          else if (key === 'iscrowd') iscrowd = v ? 1 : 0; else ignore = v ? 1 : 0;
          break;
        }
        default: r.skipValue();
      }
    });
    if (!isObject) problem = 'should be an object';
    else for (let k = 0; k < 4 && !problem; k++) if (!seen[k]) problem = `missing field '${REQUIRED[k]}'`;
    if (problem) { bad.report(recordName('annotations', index, id), problem); continue; }
    cols.id.push(id); cols.imageId.push(imageId); cols.categoryId.push(categoryId);
    for (let k = 0; k < 4; k++) cols.bbox.push(box[k]);
    cols.area.push(Number.isNaN(area) ? box[2] * box[3] : area);
    cols.iscrowd.push(iscrowd); cols.ignore.push(ignore); cols.record.push(index);
  }
  return cols;
}

function dropDuplicates<T extends { id: number }>(items: T[], array: string, bad: BadRecords): T[] {
  const seen = new Set<number>();
  const out: T[] = [];
  items.forEach((it, i) => {
    if (seen.has(it.id)) { bad.report(recordName(array, i, it.id), `duplicate id ${it.id}`); return; }
    seen.add(it.id);
    out.push(it);
  });
  return out;
}

/** Resolves ids to indices, drops dangling or duplicate annotations, groups rows by image. */
function assemble(file: string, images: CocoImage[], categories: CocoCategory[], raw: RawAnnotations | null, bad: BadRecords): CocoDataset {
  const imageById = new Map(images.map((im, i) => [im.id, i]));
  const catById = new Map(categories.map((c, i) => [c.id, i]));
  const n = raw ? raw.id.length : 0;
  const ids = raw ? raw.id.finish() : new Float64Array(0);
  const imageIds = raw ? raw.imageId.finish() : new Float64Array(0);
  const catIds = raw ? raw.categoryId.finish() : new Float64Array(0);
  const records = raw ? raw.record.finish() : new Float64Array(0);
  const imgIdx = new Int32Array(n), catIdx = new Int32Array(n);
  const keep = new Uint8Array(n);
  const seenIds = new Set<number>();
  const counts = new Int32Array(images.length + 1);
  for (let a = 0; a < n; a++) {
    const where = recordName('annotations', records[a], ids[a]);
    const ii = imageById.get(imageIds[a]);
    const ci = catById.get(catIds[a]);
    if (ii === undefined) { bad.report(where, `image_id ${imageIds[a]} is not in "images"`); continue; }
    if (ci === undefined) { bad.report(where, `category_id ${catIds[a]} is not in "categories"`); continue; }
    if (seenIds.has(ids[a])) { bad.report(where, `duplicate annotation id ${ids[a]}`); continue; }
    seenIds.add(ids[a]);
    imgIdx[a] = ii; catIdx[a] = ci; keep[a] = 1;
    counts[ii + 1]++;
  }
  for (let i = 0; i < images.length; i++) counts[i + 1] += counts[i];
  const imageStart = counts.slice();
  const m = counts[images.length];
  const bbox = raw ? raw.bbox.finish() : new Float64Array(0);
  const area = raw ? raw.area.finish() : new Float64Array(0);
  const iscrowd = raw ? raw.iscrowd.finish() : new Uint8Array(0);
  const ignore = raw ? raw.ignore.finish() : new Uint8Array(0);
  const out = {
    count: m, id: new Float64Array(m), imageIndex: new Int32Array(m), categoryIndex: new Int32Array(m),
    bbox: new Float64Array(4 * m), area: new Float64Array(m), iscrowd: new Uint8Array(m), ignore: new Uint8Array(m),
    recordIndex: new Int32Array(m),
  };
  // Counting sort by image: stable, so file order survives within an image
  // (pycocotools matches in that order, which decides ties).
  const next = counts;
  for (let a = 0; a < n; a++) {
    if (!keep[a]) continue;
    const row = next[imgIdx[a]]++;
    out.id[row] = ids[a]; out.imageIndex[row] = imgIdx[a]; out.categoryIndex[row] = catIdx[a];
    for (let k = 0; k < 4; k++) out.bbox[4 * row + k] = bbox[4 * a + k];
    out.area[row] = area[a]; out.iscrowd[row] = iscrowd[a]; out.ignore[row] = ignore[a];
    out.recordIndex[row] = records[a];
  }
  return new CocoDataset(file, images, categories, out, imageStart, bad.count, bad.examples);
}
