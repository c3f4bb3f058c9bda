// CrowdHuman `.odgt` files: one JSON object per line, either ground truth
// (`gtboxes`) or detections (`dtboxes`). Read line by line so a file of any
// size costs the memory of its longest line plus what the caller keeps.
//
// Boxes stay as the file has them (x, y, w, h); the evaluator decides what
// x2 = x + w and clipping mean. Every problem is reported with the file, the
// line and the column of the offending value, because annotation files are
// long and people fix them by hand.
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { JsonReader, JsonSyntaxError } from './json-stream.js';
import { FusedetError } from '../io/errors.js';
import { statUserFile, writeFileAtomic } from '../io/files.js';

export type Box4 = [number, number, number, number];
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface OdgtGtBox {
  tag: string;
  /** Full body box x, y, w, h: the one the CrowdHuman protocol scores. */
  fbox: Box4;
  vbox?: Box4;
  hbox?: Box4;
  /** `extra` as written; `extra.ignore` ≠ 0 makes the box an ignore region. */
  extra?: JsonObject;
  headAttr?: JsonObject;
}

export interface OdgtGtRecord {
  id: string;
  width?: number;
  height?: number;
  gtboxes: OdgtGtBox[];
  /** 1-based line in the file it came from (0 when built in memory). */
  line: number;
}

export interface OdgtDetBox { box: Box4; score: number; tag?: string }

export interface OdgtDetRecord {
  id: string;
  width?: number;
  height?: number;
  dtboxes: OdgtDetBox[];
  line: number;
}

/** A bad record in a data file; cli/main.ts prints the message alone. */
export class DataRecordError extends FusedetError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly problem: string,
  ) {
    // Line 0: about the file as a whole (cannot open, already exists).
    super(line > 0 ? `${file}:${line}:${column}: ${problem}` : `${file}: ${problem}`);
    this.name = 'DataRecordError';
  }
}

/** Where `--skip-bad` puts what it skipped, so the caller can say how many. */
export class BadRecordLog {
  count = 0;
  readonly examples: string[] = [];
  add(e: Error): void {
    this.count++;
    if (this.examples.length < 5) this.examples.push(e.message);
  }
  summary(what = 'bad records'): string {
    if (this.count === 0) return '';
    const more = this.count > this.examples.length ? `\n  ... and ${this.count - this.examples.length} more` : '';
    return `skipped ${this.count} ${what}:\n  ${this.examples.join('\n  ')}${more}\n`;
  }
}

export interface OdgtReadOptions {
  /** Skip bad records (a whole line, or one box inside a line) instead of throwing. */
  skipBad?: boolean;
  bad?: BadRecordLog;
  /** The option that named the file ("--gt"), for messages about the file itself. */
  what?: string;
}

/** The `extra.ignore` rule of the CrowdHuman evaluation code: any value other than 0 (or false). */
export function isIgnoreBox(b: OdgtGtBox): boolean {
  if (!b.extra || !('ignore' in b.extra)) return false;
  const v = b.extra.ignore;
  return !(v === 0 || v === false);
}

/** A path into a JSON value: object keys and array indices. */
export type JsonPath = readonly (string | number)[];

/**
 * Offset of the value at `path` in `text`, which must be valid JSON (we only
 * call this after JSON.parse succeeded, to point at a bad value). Stops at the
 * deepest part of the path it finds. Scanning again only when there is an
 * error keeps the fast path on JSON.parse.
 */
export function locateJsonPath(text: string, path: JsonPath): number {
  let pos = 0;
  const ws = (): void => { while (pos < text.length && ' \t\r\n'.includes(text[pos]!)) pos++; };
  const skipString = (): void => {
    pos++;
    while (pos < text.length && text[pos] !== '"') pos += text[pos] === '\\' ? 2 : 1;
    pos++;
  };
  const skipValue = (): void => {
    ws();
    const c = text[pos];
    if (c === '"') { skipString(); return; }
    if (c !== '{' && c !== '[') {
      while (pos < text.length && !',]} \t\r\n'.includes(text[pos]!)) pos++;
      return;
    }
    pos++; ws();
    if (text[pos] === '}' || text[pos] === ']') { pos++; return; }
    for (;;) {
      if (c === '{') { ws(); skipString(); ws(); pos++; }
      skipValue(); ws();
      if (text[pos++] !== ',') return;
    }
  };
  ws();
  for (const key of path) {
    const start = pos;
    if (typeof key === 'number' && text[pos] === '[') {
      pos++;
      for (let i = 0; i < key; i++) { skipValue(); ws(); if (text[pos] !== ',') return start; pos++; }
      ws();
    } else if (typeof key === 'string' && text[pos] === '{') {
      pos++;
      for (;;) {
        ws();
        if (text[pos] !== '"') return start;
        const k0 = pos; skipString();
        const name = JSON.parse(text.slice(k0, pos)) as string;
        ws(); pos++; ws();
        if (name === key) break;
        skipValue(); ws();
        if (text[pos] !== ',') return start;
        pos++;
      }
    } else {
      return pos;
    }
  }
  return pos;
}

async function* readLines(path: string, what?: string): AsyncGenerator<{ text: string; line: number }> {
  // A folder or a FIFO is refused before it is opened (a FIFO would block).
  statUserFile(path, what === undefined ? {} : { what });
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new DataRecordError(path, 0, 0, `cannot open: ${(e as Error).message}`);
  }
  const rl = createInterface({ input: fh.createReadStream({ encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of rl) {
      line++;
      // A byte-order mark (some editors write one) is not part of the JSON.
      yield { text: line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, line };
    }
  } finally {
    rl.close();
    await fh.close().catch(() => undefined);
  }
}

/**
 * Parses one line. JSON.parse is the fast path; only on failure is the line
 * scanned again by data/json-stream.ts, whose errors say where and what
 * (Node 20's JSON.parse often gives neither).
 */
export function parseJsonLine(file: string, line: number, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    let col = text.length + 1;
    let what = `malformed JSON: ${(e as Error).message}`;
    try {
      const r = JsonReader.fromString(text, file);
      r.skipValue();
      r.expectEnd();
    } catch (se) {
      if (!(se instanceof JsonSyntaxError)) throw se;
      col = se.column;
      what = se.message.slice(se.message.indexOf(': ', `${file}:`.length) + 2).replace('end of file', 'end of line');
    }
    throw new DataRecordError(file, line, col, what);
  }
}

class LineContext {
  constructor(readonly file: string, readonly line: number, readonly text: string, readonly label: string) {}
  fail(path: JsonPath, problem: string): DataRecordError {
    const col = locateJsonPath(this.text, path) + 1;
    return new DataRecordError(this.file, this.line, col, `${this.label}: ${problem}`);
  }
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readBox(ctx: LineContext, v: JsonValue | undefined, path: JsonPath, name: string): Box4 {
  if (v === undefined) throw ctx.fail(path.slice(0, -1), `missing field '${name}'`);
  if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw ctx.fail(path, `'${name}' must be [x, y, w, h] (4 finite numbers), got ${JSON.stringify(v).slice(0, 60)}`);
  }
  const b = v as Box4;
  if (b[2] < 0 || b[3] < 0) throw ctx.fail(path, `'${name}' has negative size (w ${b[2]}, h ${b[3]})`);
  return b;
}

function readSize(ctx: LineContext, rec: JsonObject, key: 'width' | 'height'): number | undefined {
  const v = rec[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0)) throw ctx.fail([key], `'${key}' must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

function readHeader(file: string, line: number, text: string, list: 'gtboxes' | 'dtboxes') {
  const rec = parseJsonLine(file, line, text);
  const bare = new LineContext(file, line, text, 'record');
  if (!isObject(rec)) throw bare.fail([], 'expected a JSON object per line');
  const rawId = rec.ID;
  if (rawId === undefined) throw bare.fail([], `missing field 'ID'`);
  if (typeof rawId !== 'string' && typeof rawId !== 'number') throw bare.fail(['ID'], `'ID' must be a string`);
  const id = String(rawId);
  const ctx = new LineContext(file, line, text, `record ID ${JSON.stringify(id)}`);
  const boxes = rec[list];
  if (boxes === undefined) {
    const other = list === 'gtboxes' ? 'dtboxes' : 'gtboxes';
    const hint = other in rec ? ` (this line has '${other}': ${other === 'dtboxes' ? 'a detections file where ground truth was expected?' : 'ground truth where detections were expected?'})` : '';
    throw ctx.fail([], `missing field '${list}'${hint}`);
  }
  if (!Array.isArray(boxes)) throw ctx.fail([list], `'${list}' must be an array`);
  return { rec, id, ctx, boxes, width: readSize(ctx, rec, 'width'), height: readSize(ctx, rec, 'height') };
}

function readGtBox(ctx: LineContext, v: JsonValue, i: number): OdgtGtBox {
  const at: JsonPath = ['gtboxes', i];
  if (!isObject(v)) throw ctx.fail(at, `gtboxes[${i}] must be an object`);
  const tag = v.tag;
  if (tag === undefined) throw ctx.fail(at, `gtboxes[${i}]: missing field 'tag'`);
  if (typeof tag !== 'string' || tag === '') throw ctx.fail([...at, 'tag'], `gtboxes[${i}]: 'tag' must be a non-empty string, got ${JSON.stringify(tag)}`);
  const box: OdgtGtBox = { tag, fbox: readBox(ctx, v.fbox, [...at, 'fbox'], `gtboxes[${i}].fbox`) };
  if (v.vbox !== undefined) box.vbox = readBox(ctx, v.vbox, [...at, 'vbox'], `gtboxes[${i}].vbox`);
  if (v.hbox !== undefined) box.hbox = readBox(ctx, v.hbox, [...at, 'hbox'], `gtboxes[${i}].hbox`);
  if (v.extra !== undefined) {
    if (!isObject(v.extra)) throw ctx.fail([...at, 'extra'], `gtboxes[${i}]: 'extra' must be an object`);
    box.extra = v.extra;
  }
  if (v.head_attr !== undefined) {
    if (!isObject(v.head_attr)) throw ctx.fail([...at, 'head_attr'], `gtboxes[${i}]: 'head_attr' must be an object`);
    box.headAttr = v.head_attr;
  }
  return box;
}

function readDetBox(ctx: LineContext, v: JsonValue, i: number): OdgtDetBox {
  const at: JsonPath = ['dtboxes', i];
  if (!isObject(v)) throw ctx.fail(at, `dtboxes[${i}] must be an object`);
  const box = readBox(ctx, v.box, [...at, 'box'], `dtboxes[${i}].box`);
  const score = v.score;
  if (score === undefined) throw ctx.fail(at, `dtboxes[${i}]: missing field 'score'`);
  if (typeof score !== 'number' || !Number.isFinite(score)) throw ctx.fail([...at, 'score'], `dtboxes[${i}]: 'score' must be a finite number`);
  const det: OdgtDetBox = { box, score };
  if (v.tag !== undefined) {
    // CrowdDet's and cvpods' tools write an integer class tag ("tag": 1); it is kept as its decimal text.
    if (typeof v.tag === 'number' && Number.isInteger(v.tag)) det.tag = String(v.tag);
    else if (typeof v.tag !== 'string') throw ctx.fail([...at, 'tag'], `dtboxes[${i}]: 'tag' must be a string or an integer`);
    else det.tag = v.tag;
  }
  return det;
}

/** Reads boxes one by one so that `skipBad` drops a bad box, not its image. */
function readBoxes<T>(items: JsonValue[], opts: OdgtReadOptions, one: (v: JsonValue, i: number) => T): T[] {
  const out: T[] = [];
  items.forEach((v, i) => {
    try {
      out.push(one(v, i));
    } catch (e) {
      if (!opts.skipBad || !(e instanceof DataRecordError)) throw e;
      opts.bad?.add(e);
    }
  });
  return out;
}

async function* readRecords<T>(path: string, opts: OdgtReadOptions, parse: (text: string, line: number) => T): AsyncGenerator<T> {
  for await (const { text, line } of readLines(path, opts.what)) {
    if (text.trim() === '') continue;
    try {
      yield parse(text, line);
    } catch (e) {
      if (!opts.skipBad || !(e instanceof DataRecordError)) throw e;
      opts.bad?.add(e);
    }
  }
}

/** Streams the ground-truth records of an `.odgt` file. */
export function readOdgtGt(path: string, opts: OdgtReadOptions = {}): AsyncGenerator<OdgtGtRecord> {
  return readRecords(path, opts, (text, line) => {
    const h = readHeader(path, line, text, 'gtboxes');
    const gtboxes = readBoxes(h.boxes, opts, (v, i) => readGtBox(h.ctx, v, i));
    const r: OdgtGtRecord = { id: h.id, gtboxes, line };
    if (h.width !== undefined) r.width = h.width;
    if (h.height !== undefined) r.height = h.height;
    return r;
  });
}

/** Streams the detection records (`dtboxes`) of an `.odgt` file. */
export function readOdgtDets(path: string, opts: OdgtReadOptions = {}): AsyncGenerator<OdgtDetRecord> {
  return readRecords(path, opts, (text, line) => {
    const h = readHeader(path, line, text, 'dtboxes');
    const dtboxes = readBoxes(h.boxes, opts, (v, i) => readDetBox(h.ctx, v, i));
    const r: OdgtDetRecord = { id: h.id, dtboxes, line };
    if (h.width !== undefined) r.width = h.width;
    if (h.height !== undefined) r.height = h.height;
    return r;
  });
}

export function gtRecordToJson(r: OdgtGtRecord): JsonObject {
  const o: JsonObject = { ID: r.id };
  if (r.width !== undefined) o.width = r.width;
  if (r.height !== undefined) o.height = r.height;
  o.gtboxes = r.gtboxes.map((b) => {
    const g: JsonObject = { tag: b.tag, fbox: b.fbox };
    if (b.vbox) g.vbox = b.vbox;
    if (b.hbox) g.hbox = b.hbox;
    g.extra = b.extra ?? {};
    if (b.headAttr) g.head_attr = b.headAttr;
    return g;
  });
  return o;
}

export function detRecordToJson(r: OdgtDetRecord): JsonObject {
  const o: JsonObject = { ID: r.id };
  if (r.width !== undefined) o.width = r.width;
  if (r.height !== undefined) o.height = r.height;
  o.dtboxes = r.dtboxes.map((d) => {
    const j: JsonObject = { box: d.box, score: d.score };
    if (d.tag !== undefined) j.tag = d.tag;
    return j;
  });
  return o;
}

/**
 * Writes records one per line, atomically (io/files.ts: a temporary file renamed at the end), so
 * a crash never leaves half a file under the real name. Refuses to replace an
 * existing file unless `force`.
 */
export async function writeOdgt(
  path: string,
  records: Iterable<OdgtGtRecord | OdgtDetRecord> | AsyncIterable<OdgtGtRecord | OdgtDetRecord>,
  opts: { force?: boolean } = {},
): Promise<number> {
  if (!opts.force && existsSync(path)) {
    throw new DataRecordError(path, 0, 0, 'already exists; pass --force to overwrite it');
  }
  let n = 0;
  await writeFileAtomic(path, async (write) => {
    let chunk = '';
    for await (const r of records) {
      chunk += JSON.stringify('gtboxes' in r ? gtRecordToJson(r) : detRecordToJson(r)) + '\n';
      n++;
      if (chunk.length > 1 << 20) { write(chunk); chunk = ''; }
    }
    write(chunk);
  }, { what: 'odgt file' });
  return n;
}
