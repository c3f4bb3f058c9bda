// A small pull tokenizer for JSON files that may be far larger than memory
// should hold. The caller walks the structure (beginObject/nextKey,
// beginArray/nextItem) and reads or skips each value, so a 1 GB annotation
// file is visited record by record and values nobody asked for (segmentation
// polygons, captions) are skipped without ever becoming JS objects.
//
// Input is read synchronously in chunks: a pull parser that may need more
// bytes in the middle of a token is far simpler that way, and the callers'
// public APIs stay async. Line and column are computed lazily (only when an
// error is reported), so the hot path never counts newlines.
import { closeSync, readSync } from 'node:fs';
import { FusedetError } from '../io/errors.js';
import { describeStart, openUserFile } from '../io/files.js';

export class JsonSyntaxError extends FusedetError {
  constructor(readonly file: string, readonly line: number, readonly column: number, what: string) {
    super(`${file}:${line}:${column}: ${what}`);
    this.name = 'JsonSyntaxError';
  }
}

/** A JSON value read in full, for the small values callers want as a whole. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const CHUNK = 1 << 20;
const KEY_CACHE = 256;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

const enum B {
  Tab = 9, Nl = 10, Cr = 13, Sp = 32, Quote = 34, Plus = 43, Comma = 44, Minus = 45, Dot = 46,
  D0 = 48, D9 = 57, Colon = 58, LBrack = 91, Backslash = 92, RBrack = 93, LBrace = 123, RBrace = 125,
  E = 69, e = 101, f = 102, n = 110, t = 116,
}

export class JsonReader {
  private buf: Buffer;
  private pos = 0;
  private end = 0;
  private eof = false;
  private fd: number | null;
  /** Line and column where buf[0] sits. */
  private baseLine = 1;
  private baseCol = 1;
  /** Start of the token being read: refill keeps bytes from here on. */
  private mark = -1;
  /** The leading UTF-8 byte-order mark (if any) is skipped once, before the first token. */
  private started = false;

  private readonly chunk: number;

  private constructor(readonly file: string, fd: number | null, initial: Buffer | null, chunk = CHUNK) {
    this.fd = fd;
    this.chunk = chunk;
    if (initial) { this.buf = initial; this.end = initial.length; this.eof = true; }
    else this.buf = Buffer.allocUnsafe(chunk);
  }

  /**
   * Reads `path` in chunks (1 MiB; tests pass tiny ones to exercise tokens
   * split across reads). Call close() when done, also on error.
   */
  static open(path: string, chunkBytes = CHUNK, what?: string): JsonReader {
    // A folder, a FIFO, a missing file: one message naming the option (io/files.ts).
    return new JsonReader(path, openUserFile(path, what === undefined ? {} : { what }), null, chunkBytes);
  }

  /** Parses an in-memory document; `name` appears in error messages. */
  static fromString(text: string, name = '<string>'): JsonReader {
    return new JsonReader(name, null, Buffer.from(text, 'utf8'));
  }

  /**
   * What the input holds where the reader stands, for "expected X, found Y"
   * at the top level: "the file is empty", "the file starts with "hello"".
   */
  startText(): string {
    this.peek();
    if (this.pos >= this.end) return this.end === 0 ? 'the file is empty' : 'the file holds only whitespace';
    return describeStart(this.buf.subarray(this.pos, this.end));
  }

  close(): void {
    if (this.fd !== null) { closeSync(this.fd); this.fd = null; }
  }

  /** Line and column (1-based, columns in bytes) of a buffer offset. */
  private locate(offset: number): { line: number; column: number } {
    let line = this.baseLine;
    let i = this.buf.indexOf(B.Nl, 0);
    let last = -1;
    while (i !== -1 && i < offset) { line++; last = i; i = this.buf.indexOf(B.Nl, i + 1); }
    return { line, column: last === -1 ? this.baseCol + offset : offset - last };
  }

  /**
   * Line and column of the next unread byte, for messages that point at a
   * record (eval/crowdhuman uses it). Costs a scan of the buffer: call it on
   * the error path, not per record.
   */
  here(): { line: number; column: number } {
    this.skipWs();
    return this.locate(this.pos);
  }

  fail(what: string, at = this.pos): never {
    const { line, column } = this.locate(Math.min(at, this.end));
    throw new JsonSyntaxError(this.file, line, column, `malformed JSON: ${what}`);
  }

  /** Well-formed JSON of the wrong shape ("images" is not an array): same location, no "malformed". */
  reject(what: string): never {
    const { line, column } = this.locate(Math.min(this.pos, this.end));
    throw new JsonSyntaxError(this.file, line, column, what);
  }

  /** Moves the bytes still needed to the front and reads more; false at end of file. */
  private refill(): boolean {
    if (this.eof || this.fd === null) return false;
    const keep = this.mark >= 0 ? this.mark : this.pos;
    // Advance the line/column base over the bytes being dropped.
    let i = this.buf.indexOf(B.Nl, 0);
    let last = -1;
    while (i !== -1 && i < keep) { this.baseLine++; last = i; i = this.buf.indexOf(B.Nl, i + 1); }
    this.baseCol = last === -1 ? this.baseCol + keep : keep - last;
    const live = this.end - keep;
    if (live + this.chunk > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, live + this.chunk));
      this.buf.copy(bigger, 0, keep, this.end);
      this.buf = bigger;
    } else if (keep > 0) {
      this.buf.copy(this.buf, 0, keep, this.end);
    }
    this.pos -= keep;
    if (this.mark >= 0) this.mark -= keep;
    this.end = live;
    const n = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
    if (n === 0) { this.eof = true; return false; }
    this.end += n;
    return true;
  }

  private skipWs(): void {
    if (!this.started) {
      this.started = true;
      while (this.end - this.pos < 3 && this.refill()) { /* the first bytes */ }
      if (this.buf[this.pos] === 0xef && this.buf[this.pos + 1] === 0xbb && this.buf[this.pos + 2] === 0xbf) this.pos += 3;
    }
    for (;;) {
      while (this.pos < this.end) {
        const c = this.buf[this.pos];
        if (c !== B.Sp && c !== B.Nl && c !== B.Cr && c !== B.Tab) return;
        this.pos++;
      }
      if (!this.refill()) return;
    }
  }

  /** The next non-space byte without consuming it; -1 at end of input. */
  peek(): number {
    this.skipWs();
    return this.pos < this.end ? this.buf[this.pos] : -1;
  }

  private describe(c: number): string {
    return c === -1 ? 'end of file' : `'${String.fromCharCode(c)}'`;
  }

  private expect(ch: number, what: string): void {
    const c = this.peek();
    if (c !== ch) this.fail(`expected ${what}, found ${this.describe(c)}`);
    this.pos++;
  }

  /** Checks there is nothing but whitespace left. */
  expectEnd(): void {
    const c = this.peek();
    if (c !== -1) this.fail(`unexpected ${this.describe(c)} after the top-level value`);
  }

  beginObject(): void { this.expect(B.LBrace, "'{'"); this.first = true; }
  beginArray(): void { this.expect(B.LBrack, "'['"); this.first = true; }
  private first = false;

  /** The next key of the current object (consuming the colon), or null at '}'. */
  nextKey(): string | null {
    let c = this.peek();
    if (this.first) {
      this.first = false;
      if (c === B.RBrace) { this.pos++; return null; }
    } else {
      if (c === B.RBrace) { this.pos++; return null; }
      if (c !== B.Comma) this.fail(`expected ',' or '}' in object, found ${this.describe(c)}`);
      this.pos++;
      c = this.peek();
    }
    if (c !== B.Quote) this.fail(`expected a key string, found ${this.describe(c)}`);
    const key = this.readKey();
    this.expect(B.Colon, "':' after key");
    return key;
  }

  /** True when another array item follows (positioned at it), false at ']'. */
  nextItem(): boolean {
    const c = this.peek();
    if (this.first) {
      this.first = false;
      if (c === B.RBrack) { this.pos++; return false; }
      return true;
    }
    if (c === B.RBrack) { this.pos++; return false; }
    if (c !== B.Comma) this.fail(`expected ',' or ']' in array, found ${this.describe(c)}`);
    this.pos++;
    // A trailing comma is not JSON.
    if (this.peek() === B.RBrack) this.fail("expected a value after ',', found ']'");
    return true;
  }

  /**
   * Keys repeat millions of times ("image_id", "bbox"...): short ASCII keys
   * without escapes come from a small cache, checked byte by byte, instead of
   * a fresh string each.
   */
  private readKey(): string {
    const b = this.buf;
    const start = this.pos + 1;
    if (start + 32 <= this.end) {
      let h = 0, i = start;
      for (; i < start + 32; i++) {
        const c = b[i];
        if (c === B.Quote) break;
        if (c === B.Backslash || c >= 0x80 || c < 0x20) { i = -1; break; }
        h = (Math.imul(h, 31) + c) | 0;
      }
      if (i > 0 && b[i] === B.Quote) {
        const len = i - start;
        const slot = (h ^ len) & (KEY_CACHE - 1);
        const hit = this.keyCache[slot];
        if (hit !== undefined && hit.length === len) {
          let same = true;
          for (let k = 0; k < len; k++) if (hit.charCodeAt(k) !== b[start + k]) { same = false; break; }
          if (same) { this.pos = i + 1; return hit; }
        }
        const key = b.toString('latin1', start, i);
        this.keyCache[slot] = key;
        this.pos = i + 1;
        return key;
      }
    }
    return this.readString();
  }
  private readonly keyCache: (string | undefined)[] = new Array<string | undefined>(KEY_CACHE);

  readString(): string {
    if (this.peek() !== B.Quote) this.fail(`expected a string, found ${this.describe(this.peek())}`);
    this.mark = this.pos;
    let i = this.pos + 1;
    let escaped = false;
    for (;;) {
      if (i >= this.end) {
        // refill() may move the bytes even when it finds no more.
        const off = i - this.mark;
        const more = this.refill();
        i = this.mark + off;
        if (!more) { this.fail('unterminated string', this.mark); }
        continue;
      }
      const c = this.buf[i];
      if (c === B.Quote) break;
      if (c === B.Backslash) { escaped = true; i += 2; continue; }
      if (c < 0x20) { this.mark = -1; this.fail('control character in string', i); }
      i++;
    }
    const start = this.mark;
    this.mark = -1;
    this.pos = i + 1;
    if (!escaped) return this.buf.toString('utf8', start + 1, i);
    try {
      return JSON.parse(this.buf.toString('utf8', start, i + 1)) as string;
    } catch {
      this.fail('bad escape in string', start);
    }
  }

  readNumber(): number {
    const c0 = this.peek();
    if (c0 !== B.Minus && (c0 < B.D0 || c0 > B.D9)) this.fail(`expected a number, found ${this.describe(c0)}`);
    this.mark = this.pos;
    let i = this.pos;
    for (;;) {
      if (i >= this.end) {
        const off = i - this.mark;
        const more = this.refill();
        i = this.mark + off;
        if (!more) break;
        continue;
      }
      const c = this.buf[i];
      if ((c >= B.D0 && c <= B.D9) || c === B.Minus || c === B.Plus || c === B.Dot || c === B.e || c === B.E) i++;
      else break;
    }
    const start = this.mark;
    this.mark = -1;
    this.pos = i;
    return this.parseNumber(start, i);
  }

  /**
   * Exact decimal-to-double for the common case: at most 15 significant
   * digits and a small scale make mantissa / 10^k a single correctly rounded
   * division (Clinger's fast path); anything else goes to Number(), which is
   * correctly rounded too, as Python's float() is.
   */
  private parseNumber(s: number, e: number): number {
    const b = this.buf;
    let i = s, neg = false;
    if (b[i] === B.Minus) { neg = true; i++; }
    if (i >= e || b[i] < B.D0 || b[i] > B.D9) this.fail('malformed number', s);
    if (b[i] === B.D0 && i + 1 < e && b[i + 1] >= B.D0 && b[i + 1] <= B.D9) this.fail('malformed number (leading zero)', s);
    let mant = 0, digits = 0, scale = 0;
    while (i < e && b[i] >= B.D0 && b[i] <= B.D9) { mant = mant * 10 + (b[i] - B.D0); if (mant !== 0) digits++; i++; }
    if (i < e && b[i] === B.Dot) {
      i++;
      const f0 = i;
      while (i < e && b[i] >= B.D0 && b[i] <= B.D9) { mant = mant * 10 + (b[i] - B.D0); if (mant !== 0) digits++; scale++; i++; }
      if (i === f0) this.fail('malformed number (no digits after .)', s);
    }
    let exp = false;
    if (i < e && (b[i] === B.e || b[i] === B.E)) {
      exp = true;
      i++;
      if (i < e && (b[i] === B.Plus || b[i] === B.Minus)) i++;
      const e0 = i;
      while (i < e && b[i] >= B.D0 && b[i] <= B.D9) i++;
      if (i === e0) this.fail('malformed number (no exponent digits)', s);
    }
    if (i !== e) this.fail('malformed number', s);
    if (!exp && digits <= 15 && scale <= 22) {
      const v = scale === 0 ? mant : mant / POW10[scale];
      return neg ? -v : v;
    }
    return Number(b.toString('latin1', s, e));
  }

  /** Reads any value in full (for small values: bboxes, names). */
  readValue(): JsonValue {
    const c = this.peek();
    if (c === B.Quote) return this.readString();
    if (c === B.LBrace) {
      const out: { [key: string]: JsonValue } = {};
      this.beginObject();
      for (let k = this.nextKey(); k !== null; k = this.nextKey()) out[k] = this.readValue();
      return out;
    }
    if (c === B.LBrack) {
      const out: JsonValue[] = [];
      this.beginArray();
      while (this.nextItem()) out.push(this.readValue());
      return out;
    }
    if (c === B.t) { this.literal('true'); return true; }
    if (c === B.f) { this.literal('false'); return false; }
    if (c === B.n) { this.literal('null'); return null; }
    if (c === -1) this.fail('unexpected end of file, expected a value');
    return this.readNumber();
  }

  private literal(word: string): void {
    for (let k = 0; k < word.length; k++) {
      if (this.pos >= this.end && !this.refill()) this.fail(`expected '${word}'`);
      if (this.buf[this.pos] !== word.charCodeAt(k)) this.fail(`expected '${word}'`);
      this.pos++;
    }
  }

  /** Skips a value of any size without building it (strings are still checked). */
  skipValue(): void {
    const c = this.peek();
    if (c !== B.LBrace && c !== B.LBrack) { this.readScalar(); return; }
    // Iterative, so that deeply nested junk cannot overflow the stack. Each
    // turn starts where a value must be, and after it closes what ends.
    const stack: number[] = [];
    for (;;) {
      const d = this.peek();
      if (d === B.LBrace) {
        this.pos++;
        if (this.peek() === B.RBrace) this.pos++;
        else { stack.push(B.RBrace); this.skipKey(); continue; }
      } else if (d === B.LBrack) {
        this.pos++;
        if (this.peek() === B.RBrack) this.pos++;
        else { stack.push(B.RBrack); continue; }
      } else {
        this.readScalar();
      }
      for (;;) {
        if (stack.length === 0) return;
        const close = stack[stack.length - 1];
        const n = this.peek();
        if (n === close) { this.pos++; stack.pop(); continue; }
        if (n !== B.Comma) this.fail(`expected ',' or '${String.fromCharCode(close)}', found ${this.describe(n)}`);
        this.pos++;
        if (close === B.RBrace) this.skipKey();
        break;
      }
    }
  }

  private skipKey(): void {
    if (this.peek() !== B.Quote) this.fail(`expected a key string, found ${this.describe(this.peek())}`);
    this.readString();
    this.expect(B.Colon, "':' after key");
  }

  private readScalar(): void {
    const c = this.peek();
    if (c === B.Quote) this.readString();
    else if (c === B.t) this.literal('true');
    else if (c === B.f) this.literal('false');
    else if (c === B.n) this.literal('null');
    else if (c === -1) this.fail('unexpected end of file, expected a value');
    else if (c === B.Comma || c === B.RBrace || c === B.RBrack || c === B.Colon) this.fail(`expected a value, found ${this.describe(c)}`);
    else this.readNumber();
  }
}
