// Detection files for the CrowdHuman protocol: odgt `dtboxes` lines
// (streamed) or a COCO results JSON array ([{image_id, bbox, score, ...}]),
// whose image ids are matched to odgt IDs as strings (image_id 7 ↔ ID "7").
// The category of a detection is not used: the protocol is single-class.
import { open } from 'node:fs/promises';
import {
  BadRecordLog, DataRecordError, readOdgtDets, type JsonValue,
} from '../../data/odgt.js';
import { JsonReader, JsonSyntaxError } from '../../data/json-stream.js';
import type { CrowdHumanAccumulator } from './score.js';

export interface DetsReadOptions {
  skipBad?: boolean;
  bad?: BadRecordLog;
  /** COCO image id (as a string) → odgt ID, tried when the id itself is not an ID. */
  idMap?: ReadonlyMap<string, string>;
}

/** True when the file's first non-blank character opens a JSON array. */
export async function looksLikeCocoResults(path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new DataRecordError(path, 0, 0, `cannot open: ${(e as Error).message}`);
  }
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    return head.startsWith('[');
  } finally {
    await fh.close();
  }
}

function toCorners(box: ArrayLike<number>, out: Float64Array, at: number): void {
  out[at] = box[0]!; out[at + 1] = box[1]!;
  out[at + 2] = box[0]! + box[2]!; out[at + 3] = box[1]! + box[3]!;
}

/** Streams odgt detections into the accumulator. */
export async function addOdgtDets(path: string, acc: CrowdHumanAccumulator, opts: DetsReadOptions): Promise<void> {
  for await (const r of readOdgtDets(path, opts)) {
    const img = acc.images.get(r.id);
    const problem = !img ? `detections for image ID ${JSON.stringify(r.id)}, which is not in the ground truth`
      : img.matched ? `second detection record for image ID ${JSON.stringify(r.id)} (one line per image)` : '';
    if (problem || !img) {
      const e = new DataRecordError(path, r.line, 1, problem);
      if (!opts.skipBad) throw e;
      opts.bad?.add(e);
      continue;
    }
    const boxes = new Float64Array(4 * r.dtboxes.length);
    const scores = new Float64Array(r.dtboxes.length);
    r.dtboxes.forEach((d, i) => { toCorners(d.box, boxes, 4 * i); scores[i] = d.score; });
    const size: { width?: number; height?: number } = {};
    if (r.width !== undefined) size.width = r.width;
    if (r.height !== undefined) size.height = r.height;
    acc.add(img, boxes, scores, size);
  }
}

/** A growable Float64 column (results files can hold millions of rows). */
class Column {
  data = new Float64Array(4096);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
}

function isFiniteNumber(x: JsonValue): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

type Checked = { ok: true; key: string } | { ok: false; problem: string };

/** Checks result `i`; on success its box and score are in `row`. */
function checkResult(d: JsonValue, i: number, acc: CrowdHumanAccumulator, opts: DetsReadOptions, row: number[]): Checked {
  const bad = (problem: string): Checked => ({ ok: false, problem });
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return bad(`result ${i} must be an object`);
  const id = d.image_id;
  if (id === undefined) return bad(`result ${i}: missing field 'image_id'`);
  if (typeof id !== 'number' && typeof id !== 'string') return bad(`result ${i}: 'image_id' must be a number or string`);
  const box = d.bbox;
  if (box === undefined) return bad(`result ${i} (image_id ${id}): missing field 'bbox'`);
  if (!Array.isArray(box) || box.length !== 4 || !box.every(isFiniteNumber)) {
    return bad(`result ${i} (image_id ${id}): 'bbox' must be [x, y, w, h] (4 finite numbers)`);
  }
  const b = box as number[];
  if (b[2]! < 0 || b[3]! < 0) return bad(`result ${i} (image_id ${id}): 'bbox' has negative size (w ${b[2]}, h ${b[3]})`);
  const score = d.score;
  if (score === undefined) return bad(`result ${i} (image_id ${id}): missing field 'score'`);
  if (!isFiniteNumber(score)) return bad(`result ${i} (image_id ${id}): 'score' must be a finite number`);
  const key = acc.images.has(String(id)) ? String(id) : opts.idMap?.get(String(id));
  if (key === undefined || !acc.images.has(key)) {
    return bad(`result ${i}: image_id ${id} is not in the ground truth (matched to odgt IDs as a string${opts.idMap ? ' or through the COCO file names' : ''})`);
  }
  row[0] = b[0]!; row[1] = b[1]!; row[2] = b[2]!; row[3] = b[3]!; row[4] = score;
  return { ok: true, key };
}

/**
 * The error for item `i` of the file's top-level array, placed where the
 * item starts. The reader cannot say where a value it already read began,
 * so the file is read again up to it (only for messages someone will see).
 */
function errorAtArrayItem(path: string, i: number, problem: string): DataRecordError {
  const r = JsonReader.open(path);
  try {
    r.beginArray();
    for (let k = 0; k < i && r.nextItem(); k++) r.skipValue();
    r.nextItem();
    r.reject(problem);
  } catch (e) {
    if (e instanceof JsonSyntaxError) return syntaxToRecordError(path, e);
    throw e;
  } finally {
    r.close();
  }
  return new DataRecordError(path, 0, 0, problem); // the file changed under us
}

function syntaxToRecordError(path: string, e: JsonSyntaxError): DataRecordError {
  const prefix = `${e.file}:${e.line}:${e.column}: `;
  return new DataRecordError(path, e.line, e.column, e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message);
}

/**
 * Streams a COCO results array (data/json-stream.ts reads it record by
 * record, so a large file never becomes one JS value), then adds each
 * image's detections in file order. A bad record is reported at its start.
 */
export async function addCocoResults(path: string, acc: CrowdHumanAccumulator, opts: DetsReadOptions): Promise<void> {
  let r: JsonReader;
  try {
    r = JsonReader.open(path);
  } catch (e) {
    throw new DataRecordError(path, 0, 0, `cannot open: ${(e as Error).message}`);
  }
  const byOrder = [...acc.images.values()].sort((a, b) => a.order - b.order);
  const image = new Column(), rows = new Column();
  const row = [0, 0, 0, 0, 0];
  try {
    if (r.peek() !== 0x5b) r.reject('expected a COCO results array [{"image_id", "bbox", "score"}, ...]');
    r.beginArray();
    for (let i = 0; r.nextItem(); i++) {
      const got = checkResult(r.readValue(), i, acc, opts, row);
      if (!got.ok) {
        // Only messages someone will read get a position (finding it re-reads the file).
        const shown = !opts.skipBad || (opts.bad !== undefined && opts.bad.examples.length < 5);
        const e = shown ? errorAtArrayItem(path, i, got.problem) : new DataRecordError(path, 0, 0, got.problem);
        if (!opts.skipBad) throw e;
        opts.bad?.add(e);
        continue;
      }
      image.push(acc.images.get(got.key)!.order);
      for (const v of row) rows.push(v);
    }
    r.expectEnd();
  } catch (e) {
    throw e instanceof JsonSyntaxError ? syntaxToRecordError(path, e) : e;
  } finally {
    r.close();
  }
  // Group by image (a counting sort), keeping file order within each image:
  // that order is the tie-break between equal scores.
  const n = image.length;
  const start = new Int32Array(byOrder.length + 1);
  for (let k = 0; k < n; k++) start[image.data[k]! + 1]!++;
  for (let j = 0; j < byOrder.length; j++) start[j + 1]! += start[j]!;
  const next = start.slice(0, byOrder.length);
  const boxes = new Float64Array(4 * n), scores = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const at = next[image.data[k]!]!++;
    toCorners(rows.data.subarray(5 * k, 5 * k + 4), boxes, 4 * at);
    scores[at] = rows.data[5 * k + 4]!;
  }
  byOrder.forEach((img, j) => {
    const s = start[j]!, e = start[j + 1]!;
    if (e > s) acc.add(img, boxes.subarray(4 * s, 4 * e), scores.subarray(s, e), {});
  });
}
