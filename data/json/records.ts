// Pieces shared by the record readers (COCO annotations, COCO results):
// growable typed columns, so a million boxes cost 8 bytes a number instead of
// an object each, and the policy for bad records (stop, or skip and count).
import type { JsonReader } from '../json-stream.js';
import { FusedetError } from '../../io/errors.js';

/** A bad record or a bad file: the CLI prints the message and exits 1. */
export class DataError extends FusedetError {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

export class F64Column {
  private data = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  finish(): Float64Array { return this.data.slice(0, this.length); }
}

export class U8Column {
  private data = new Uint8Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint8Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  finish(): Uint8Array { return this.data.slice(0, this.length); }
}

/**
 * Bad records stop the read with one message naming the file and the record,
 * or, with skipBad, are dropped and counted. The first few skipped messages
 * are kept so that a caller can show examples.
 */
export class BadRecords {
  count = 0;
  readonly examples: string[] = [];
  constructor(readonly file: string, readonly skipBad: boolean) {}

  report(where: string, what: string): void {
    const msg = `${this.file}: ${where}: ${what}`;
    if (!this.skipBad) throw new DataError(`${msg}\n(fix the record, or pass --skip-bad to skip bad records)`);
    this.count++;
    if (this.examples.length < 5) this.examples.push(msg);
  }
}

/** Names a record for messages: `annotations[12] (id 907)`. */
export function recordName(array: string, index: number, id: number | undefined): string {
  return id === undefined || Number.isNaN(id) ? `${array}[${index}]` : `${array}[${index}] (id ${id})`;
}

/** The JSON type of the next value, for "expected a number, found a string". */
export function kindOf(r: JsonReader): string {
  const c = r.peek();
  if (c === 0x22) return 'a string';
  if (c === 0x7b) return 'an object';
  if (c === 0x5b) return 'an array';
  if (c === 0x74 || c === 0x66) return 'a boolean';
  if (c === 0x6e) return 'null';
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return 'a number';
  return c === -1 ? 'nothing' : 'text that is not JSON';
}

/** "found ..." at the top level of a file: the kind of value and what the file starts with. */
export function topLevelFound(r: JsonReader): string {
  const kind = kindOf(r);
  return kind === 'nothing' ? `nothing (${r.startText()})` : `${kind} (${r.startText()})`;
}

/**
 * Reads a number field, or skips the value and returns an error text when it
 * has another type. Booleans count as 0/1 (some tools write iscrowd: false).
 */
export function readNumberField(r: JsonReader, key: string, allowBool = false): number | string {
  const kind = kindOf(r);
  if (kind === 'a number') return r.readNumber();
  if (allowBool && kind === 'a boolean') return r.readValue() === true ? 1 : 0;
  r.skipValue();
  return `'${key}' should be a number, found ${kind}`;
}

/** Reads `[x, y, w, h]` into out[0..3]; returns an error text or null. */
export function readBoxField(r: JsonReader, key: string, out: Float64Array): string | null {
  if (kindOf(r) !== 'an array') {
    const kind = kindOf(r);
    r.skipValue();
    return `'${key}' should be [x, y, width, height], found ${kind}`;
  }
  r.beginArray();
  let n = 0;
  let problem: string | null = null;
  while (r.nextItem()) {
    if (kindOf(r) !== 'a number') { problem ??= `'${key}' should hold 4 numbers, found ${kindOf(r)}`; r.skipValue(); n++; continue; }
    const v = r.readNumber();
    if (n < 4) out[n] = v;
    n++;
  }
  if (problem) return problem;
  if (n !== 4) return `'${key}' should hold 4 numbers [x, y, width, height], found ${n}`;
  for (let k = 0; k < 4; k++) if (!Number.isFinite(out[k])) return `'${key}' holds a non-finite number`;
  if (out[2] < 0 || out[3] < 0) return `'${key}' has a negative size (width ${out[2]}, height ${out[3]})`;
  return null;
}

/** What the document is, before reading it: readers refuse the wrong kind with a hint. */
export function describeTopLevel(r: JsonReader): 'object' | 'array' | 'other' {
  const c = r.peek();
  return c === 0x7b ? 'object' : c === 0x5b ? 'array' : 'other';
}
