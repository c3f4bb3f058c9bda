// COCO results files: a JSON array of {image_id, category_id, bbox, score}
// (bbox as x, y, w, h), read as a stream into columns and written the same
// way. Extra fields (segmentation, keypoints) are skipped on read.
import { writeFileAtomic } from '../io/files.js';
import { JsonReader } from './json-stream.js';
import { BadRecords, DataError, F64Column, describeTopLevel, kindOf, topLevelFound, readBoxField, readNumberField, recordName } from './json/records.js';
import type { CocoDataset } from './coco.js';

/** Detections in file order, as columns. */
export interface Detections {
  readonly file: string;
  readonly count: number;
  readonly imageId: Float64Array;
  readonly categoryId: Float64Array;
  /** x, y, w, h per row. */
  readonly bbox: Float64Array;
  readonly score: Float64Array;
  /** Position in the file's array, for messages. */
  readonly recordIndex: Int32Array;
  readonly skipped: number;
  readonly skippedExamples: readonly string[];
}

/** What writeDetectionsFile needs: any object with these columns. */
export type DetectionRows = Pick<Detections, 'count' | 'imageId' | 'categoryId' | 'bbox' | 'score'>;

export interface DetectionReadOptions {
  skipBad?: boolean;
  /** The option that named the file ("--dets"), for messages about the file itself. */
  what?: string;
}

export async function readDetectionsFile(path: string, opts: DetectionReadOptions = {}): Promise<Detections> {
  const r = JsonReader.open(path, undefined, opts.what);
  try {
    return readDetections(r, opts);
  } finally {
    r.close();
  }
}

export function parseDetections(text: string, name: string, opts: DetectionReadOptions = {}): Detections {
  return readDetections(JsonReader.fromString(text, name), opts);
}

const FIELDS = ['image_id', 'category_id', 'bbox', 'score'] as const;

function readDetections(r: JsonReader, opts: DetectionReadOptions): Detections {
  const bad = new BadRecords(r.file, opts.skipBad ?? false);
  const top = describeTopLevel(r);
  if (top !== 'array') {
    const hint = top === 'object' ? ' (an object with "images" is a ground-truth file: pass it as --gt)' : '';
    throw new DataError(`${r.file}: expected a COCO results array [{"image_id", "category_id", "bbox", "score"}, ...], found ${topLevelFound(r)}${hint}`);
  }
  const imageId = new F64Column(), categoryId = new F64Column(), bbox = new F64Column(), score = new F64Column(), record = new F64Column();
  const box = new Float64Array(4);
  const vals = new Float64Array(3);
  const seen = new Uint8Array(4);
  r.beginArray();
  for (let index = 0; r.nextItem(); index++) {
    let problem: string | null = null;
    seen.fill(0);
    if (kindOf(r) !== 'an object') { r.skipValue(); problem = 'should be an object'; }
    else {
      r.beginObject();
      for (let key = r.nextKey(); key !== null; key = r.nextKey()) {
        if (key === 'bbox') { seen[2] = 1; const p = readBoxField(r, key, box); if (p) problem ??= p; continue; }
        const slot = key === 'image_id' ? 0 : key === 'category_id' ? 1 : key === 'score' ? 2 : -1;
        if (slot < 0) { r.skipValue(); continue; }
        const v = readNumberField(r, key);
        if (typeof v === 'string') { problem ??= v; continue; }
        if (!Number.isFinite(v)) { problem ??= `'${key}' is not finite`; continue; }
        vals[slot] = v;
        seen[slot === 2 ? 3 : slot] = 1;
      }
      for (let k = 0; k < 4 && !problem; k++) if (!seen[k]) problem = `missing field '${FIELDS[k]}'`;
    }
    if (problem) { bad.report(recordName('detections', index, undefined) + (seen[0] ? ` (image_id ${vals[0]})` : ''), problem); continue; }
    imageId.push(vals[0]); categoryId.push(vals[1]); score.push(vals[2]); record.push(index);
    for (let k = 0; k < 4; k++) bbox.push(box[k]);
  }
  r.expectEnd();
  return {
    file: r.file, count: imageId.length, imageId: imageId.finish(), categoryId: categoryId.finish(),
    bbox: bbox.finish(), score: score.finish(), recordIndex: Int32Array.from(record.finish()),
    skipped: bad.count, skippedExamples: bad.examples,
  };
}

/**
 * Detections whose image is in the ground truth, with that image's index.
 * A detection for an unknown image is a bad record (pycocotools refuses the
 * whole file); an unknown category is not: COCOeval evaluates only the
 * ground truth's categories and ignores the rest, and so do we.
 */
export interface ResolvedDetections {
  readonly dets: Detections;
  /** Rows of `dets` kept, in file order. */
  readonly rows: Int32Array;
  readonly imageIndex: Int32Array;
  readonly skipped: number;
  readonly skippedExamples: readonly string[];
  /** Kept detections whose category_id is not a category of the ground truth: evaluation ignores them (as COCOeval does). */
  readonly unknownCategory: number;
  /** Those category ids, up to 5. */
  readonly unknownCategoryIds: readonly number[];
}

/** "N detections of categories absent from the ground truth (ids ...) are ignored, as pycocotools does": '' when none. */
export function unknownCategoryNote(r: ResolvedDetections): string {
  if (!r.unknownCategory) return '';
  return `${r.unknownCategory} detection${r.unknownCategory === 1 ? '' : 's'} of categor${r.unknownCategoryIds.length === 1 ? 'y' : 'ies'} absent from the ground truth (category_id ${r.unknownCategoryIds.join(', ')}${r.unknownCategoryIds.length === 5 ? ', ...' : ''}) ignored, as pycocotools does`;
}

export function resolveDetections(dets: Detections, gt: CocoDataset, opts: DetectionReadOptions = {}): ResolvedDetections {
  const bad = new BadRecords(dets.file, opts.skipBad ?? false);
  const rows: number[] = [];
  const imageIndex: number[] = [];
  let unknown = 0;
  const unknownIds: number[] = [];
  for (let d = 0; d < dets.count; d++) {
    const ii = gt.imageIndexOf(dets.imageId[d]);
    if (ii < 0) {
      bad.report(recordName('detections', dets.recordIndex[d], undefined), `image_id ${dets.imageId[d]} is not in the ground truth ${gt.file}`);
      continue;
    }
    rows.push(d);
    imageIndex.push(ii);
    if (gt.categoryIndexOf(dets.categoryId[d]) < 0) {
      unknown++;
      if (unknownIds.length < 5 && !unknownIds.includes(dets.categoryId[d])) unknownIds.push(dets.categoryId[d]);
    }
  }
  return {
    dets, rows: Int32Array.from(rows), imageIndex: Int32Array.from(imageIndex), skipped: bad.count, skippedExamples: bad.examples,
    unknownCategory: unknown, unknownCategoryIds: unknownIds,
  };
}

export interface WriteOptions {
  /** Replace an existing file. */
  force?: boolean;
}

/** Writes a results array, a record per line, atomically (io/files.ts: temp file renamed at the end). */
export async function writeDetectionsFile(path: string, dets: DetectionRows, opts: WriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, (write) => {
    let chunk = '[';
    for (let d = 0; d < dets.count; d++) {
      const b = 4 * d;
      chunk += `${d ? ',\n' : '\n'}{"image_id": ${dets.imageId[d]}, "category_id": ${dets.categoryId[d]}, "bbox": [${dets.bbox[b]}, ${dets.bbox[b + 1]}, ${dets.bbox[b + 2]}, ${dets.bbox[b + 3]}], "score": ${dets.score[d]}}`;
      if (chunk.length > 1 << 20) { write(chunk); chunk = ''; }
    }
    write(chunk + '\n]\n');
  }, { what: 'detections', overwrite: opts.force === true });
}
