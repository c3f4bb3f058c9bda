// Detection files for the CrowdHuman protocol: odgt `dtboxes` lines
// (streamed) or a COCO results JSON array ([{image_id, bbox, score, ...}]),
// whose image ids are matched to odgt IDs as strings (image_id 7 ↔ ID "7").
// The category of a detection is not used: the protocol is single-class.
import { open, readFile } from 'node:fs/promises';
import {
  BadRecordLog, DataRecordError, locateJsonPath, readOdgtDets,
  type JsonPath, type JsonValue,
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

function toCorners(box: readonly number[], out: Float64Array, at: number): void {
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

function lineCol(text: string, offset: number): [number, number] {
  let line = 1, lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) { line++; lineStart = i + 1; }
  return [line, offset - lineStart + 1];
}

/** JSON.parse, or on failure a re-scan that says where (line, column) and what. */
function parseWhole(path: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    try {
      const r = JsonReader.fromString(text, path);
      r.skipValue();
      r.expectEnd();
    } catch (se) {
      if (se instanceof JsonSyntaxError) throw new DataRecordError(path, se.line, se.column, se.message.slice(se.message.indexOf(': ', path.length + 1) + 2));
      throw se;
    }
    throw new DataRecordError(path, 1, 1, 'malformed JSON');
  }
}

/**
 * Reads a COCO results array whole (these files are one JSON value; the
 * per-record work is small) and adds each image's detections.
 */
export async function addCocoResults(path: string, acc: CrowdHumanAccumulator, opts: DetsReadOptions): Promise<void> {
  const text = await readFile(path, 'utf8');
  const data = parseWhole(path, text);
  if (!Array.isArray(data)) throw new DataRecordError(path, 1, 1, 'expected a COCO results array [{image_id, bbox, score}, ...]');
  const fail = (path2: JsonPath, problem: string): DataRecordError => {
    const [line, col] = lineCol(text, locateJsonPath(text, path2));
    return new DataRecordError(path, line, col, problem);
  };
  const perImage = new Map<string, { boxes: number[]; scores: number[] }>();
  data.forEach((d, i) => {
    try {
      if (typeof d !== 'object' || d === null || Array.isArray(d)) throw fail([i], `result ${i} must be an object`);
      const id = d.image_id;
      if (id === undefined) throw fail([i], `result ${i}: missing field 'image_id'`);
      if (typeof id !== 'number' && typeof id !== 'string') throw fail([i, 'image_id'], `result ${i}: 'image_id' must be a number or string`);
      const box = d.bbox;
      if (box === undefined) throw fail([i], `result ${i} (image_id ${id}): missing field 'bbox'`);
      if (!Array.isArray(box) || box.length !== 4 || !box.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw fail([i, 'bbox'], `result ${i} (image_id ${id}): 'bbox' must be [x, y, w, h] (4 finite numbers)`);
      }
      const b = box as number[];
      if (b[2]! < 0 || b[3]! < 0) throw fail([i, 'bbox'], `result ${i} (image_id ${id}): 'bbox' has negative size (w ${b[2]}, h ${b[3]})`);
      const score = d.score;
      if (score === undefined) throw fail([i], `result ${i} (image_id ${id}): missing field 'score'`);
      if (typeof score !== 'number' || !Number.isFinite(score)) throw fail([i, 'score'], `result ${i} (image_id ${id}): 'score' must be a finite number`);
      const key = acc.images.has(String(id)) ? String(id) : opts.idMap?.get(String(id));
      if (key === undefined || !acc.images.has(key)) {
        throw fail([i, 'image_id'], `result ${i}: image_id ${id} is not in the ground truth (matched to odgt IDs as a string${opts.idMap ? ' or through the COCO file names' : ''})`);
      }
      let slot = perImage.get(key);
      if (!slot) { slot = { boxes: [], scores: [] }; perImage.set(key, slot); }
      slot.boxes.push(...b);
      slot.scores.push(score);
    } catch (e) {
      if (!opts.skipBad || !(e instanceof DataRecordError)) throw e;
      opts.bad?.add(e);
    }
  });
  for (const [id, slot] of perImage) {
    const boxes = new Float64Array(slot.boxes.length);
    for (let i = 0; i < slot.scores.length; i++) toCorners(slot.boxes.slice(4 * i, 4 * i + 4), boxes, 4 * i);
    acc.add(acc.images.get(id)!, boxes, Float64Array.from(slot.scores), {});
  }
}
