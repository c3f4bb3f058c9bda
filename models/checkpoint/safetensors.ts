// safetensors, the public format, written here: an 8-byte little-endian
// header length N, N bytes of JSON ({ name: { dtype, shape, data_offsets },
// "__metadata__": { string: string } }, padded with spaces to a multiple of
// 8), then the raw little-endian data, offsets relative to its start.
//
// The reader validates everything before it returns anything (a truncated or
// corrupt file is an error naming the file and the tensor, never a partial
// result). Data is copied out of the file's bytes into aligned typed arrays.
//
// Each file we write records a SHA-256 per tensor in its metadata
// (DIGESTS_KEY); the reader checks them, so a bit flip in the data is an
// error naming the tensor instead of a silently different model. Files
// without digests (older checkpoints, other tools) load as `verified: false`.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { Sink, readUserFile } from '../../io/files.js';
import { Tensor, allocData } from '../../compiler/tensor.js';
import { DType, numel } from '../../compiler/types.js';
import { FusedetError } from '../../io/errors.js';

export class SafetensorsError extends FusedetError {
  /** The file is damaged (truncated, corrupt, digest mismatch), as opposed to not what the caller wanted. */
  readonly damaged: boolean;
  constructor(message: string, damaged = true) { super(message); this.name = 'SafetensorsError'; this.damaged = damaged; }
}

/** Metadata key of the per-tensor digests: JSON { name: "sha256 hex" }. */
export const DIGESTS_KEY = 'fusedet.sha256';
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const FILE_DTYPE: Record<DType, string> = { f32: 'F32', f16: 'F16', i32: 'I32', bool: 'BOOL' };
const FROM_FILE: Record<string, { dtype: DType; bytes: number }> = {
  F32: { dtype: 'f32', bytes: 4 }, F16: { dtype: 'f16', bytes: 2 }, I32: { dtype: 'i32', bytes: 4 }, BOOL: { dtype: 'bool', bytes: 1 },
};
/** The format caps the header at 100 MB; a bigger claim means a corrupt length. */
const MAX_HEADER = 100_000_000;

// Node runs little-endian on every platform it supports; the typed-array
// views below rely on it instead of swapping per element.
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function f32ToF16(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff, mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = (mant | 0x800000) >>> (1 - e);
    return sign | ((m + 0x1000 + ((m >>> 13) & 1) - 1) >>> 13);
  }
  const rounded = mant + 0xfff + ((mant >>> 13) & 1);
  if (rounded & 0x800000) { e++; if (e >= 0x1f) return sign | 0x7c00; return sign | (e << 10); }
  return sign | (e << 10) | (rounded >>> 13);
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The bytes of a tensor as the file stores them. */
function tensorBytes(t: Tensor): Uint8Array {
  if (t.dtype === 'f16') {
    const h = new Uint16Array(t.data.length);
    for (let i = 0; i < h.length; i++) h[i] = f32ToF16(t.data[i]);
    return new Uint8Array(h.buffer);
  }
  // f64 data (gradient checks) is stored as f32, the declared dtype.
  const data = t.data instanceof Float64Array ? Float32Array.from(t.data) : t.data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export interface SafetensorsFile {
  readonly tensors: Map<string, Tensor>;
  /** The file's metadata, without the digests. */
  readonly metadata: Record<string, string>;
  /** Every tensor matched the digest recorded for it (false: the file records none). */
  readonly verified: boolean;
}

export interface WriteHooks {
  /** Called after each tensor's bytes are written (tests simulate a crash mid-write here). */
  afterTensor?: (name: string, index: number) => void;
}

/** Header JSON and its padded byte form. Tensors keep the map's order. */
function header(tensors: Map<string, Tensor>, metadata: Record<string, string>, bytes: Uint8Array[]): Buffer {
  const h: Record<string, unknown> = {};
  const digests: Record<string, string> = {};
  let off = 0, i = 0;
  const entries: [string, unknown][] = [];
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new SafetensorsError(`tensor name '__metadata__' is reserved by the format`, false);
    if (t.data.length !== numel(t.shape)) throw new SafetensorsError(`tensor '${name}': shape [${t.shape.join(', ')}] needs ${numel(t.shape)} values, the data holds ${t.data.length}`, false);
    const size = bytes[i].length;
    digests[name] = sha256(bytes[i++]);
    entries.push([name, { dtype: FILE_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [off, off + size] }]);
    off += size;
  }
  h.__metadata__ = { ...metadata, [DIGESTS_KEY]: JSON.stringify(digests) };
  for (const [k, v] of entries) h[k] = v;
  let text = JSON.stringify(h);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  return Buffer.from(text, 'utf8');
}

/**
 * The whole file, piece by piece, to WRITE (an atomic writer's sink); returns
 * nothing until every piece is written. `size` is known before: see fileSize.
 */
export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string>, write: Sink, hooks: WriteHooks = {}): void {
  if (!littleEndian) throw new SafetensorsError('safetensors: this platform is big-endian; writing is not supported', false);
  const bytes = [...tensors.values()].map(tensorBytes);
  const json = header(tensors, metadata, bytes);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  write(len);
  write(json);
  let i = 0;
  for (const name of tensors.keys()) {
    write(bytes[i]);
    hooks.afterTensor?.(name, i);
    i++;
  }
}

/**
 * Writes a whole file to an open descriptor path and fsyncs it. Callers that
 * need atomicity write to a temporary name and rename (checkpoint/store.ts).
 */
export function writeSafetensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}, hooks: WriteHooks = {}): void {
  const fd = openSync(path, 'wx');
  try {
    encodeSafetensors(tensors, metadata, (chunk) => writeAll(fd, typeof chunk === 'string' ? Buffer.from(chunk) : chunk), hooks);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

function bad(path: string, what: string): never { throw new SafetensorsError(`${path}: ${what}`); }

interface Entry { name: string; dtype: DType; bytes: number; shape: number[]; begin: number; end: number }

function parseEntry(path: string, name: string, raw: unknown): Entry {
  if (typeof raw !== 'object' || raw === null) bad(path, `tensor '${name}': header entry is not an object`);
  const { dtype, shape, data_offsets: offs } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string' || !FROM_FILE[dtype]) bad(path, `tensor '${name}': dtype ${JSON.stringify(dtype)} is not supported (F32, F16, I32, BOOL)`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(path, `tensor '${name}': shape ${JSON.stringify(shape)} is not a list of sizes`);
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[1] < offs[0]) {
    bad(path, `tensor '${name}': data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
  }
  const f = FROM_FILE[dtype];
  const want = numel(shape as number[]) * f.bytes;
  if (offs[1] - offs[0] !== want) bad(path, `tensor '${name}': data_offsets [${offs[0]}, ${offs[1]}] hold ${offs[1] - offs[0]} bytes, ${dtype}[${(shape as number[]).join(', ')}] needs ${want}`);
  return { name, dtype: f.dtype, bytes: f.bytes, shape: shape as number[], begin: offs[0], end: offs[1] };
}

/** Reads and validates a whole file. Every problem names the file and, where one is to blame, the tensor. */
export function readSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try { buf = readUserFile(path); } catch (e) {
    throw new SafetensorsError((e as Error).message, false);
  }
  if (buf.length < 8) bad(path, `truncated: ${buf.length} bytes, not even the 8-byte header length`);
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER)) bad(path, `corrupt: header length ${n} exceeds the format's 100 MB limit`);
  const hlen = Number(n);
  if (8 + hlen > buf.length) bad(path, `truncated: the header claims ${hlen} bytes, the file has ${buf.length - 8} after the length`);
  let parsed: unknown;
  try { parsed = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8')); } catch (e) {
    bad(path, `corrupt header: not JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) bad(path, 'corrupt header: not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) bad(path, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(path, `__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
    } else entries.push(parseEntry(path, name, raw));
  }
  const dataLen = buf.length - 8 - hlen;
  // The data must be covered exactly, without holes or overlaps.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at) bad(path, `tensor '${e.name}': data starts at byte ${e.begin}, expected ${at} (${e.begin < at ? 'overlaps the previous tensor' : 'a hole before it'})`);
    at = e.end;
  }
  for (const e of sorted) {
    if (e.end > dataLen) bad(path, `truncated: tensor '${e.name}' needs data bytes [${e.begin}, ${e.end}), the file holds ${dataLen}`);
  }
  if (at !== dataLen) bad(path, `corrupt: ${dataLen - at} bytes after the last tensor's data`);
  const base = 8 + hlen;
  const digests = recordedDigests(path, metadata);
  if (digests) {
    for (const e of entries) {
      const want = digests[e.name];
      if (typeof want !== 'string') bad(path, `tensor '${e.name}' has no recorded digest (the header is damaged)`);
      if (sha256(buf.subarray(base + e.begin, base + e.end)) !== want) {
        bad(path, `tensor '${e.name}' is damaged: its ${e.end - e.begin} bytes do not match the SHA-256 recorded when the file was written`);
      }
    }
  }
  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const count = numel(e.shape);
    const data = allocData(e.dtype, count);
    const src = buf.subarray(base + e.begin, base + e.end);
    if (e.dtype === 'f16') {
      for (let i = 0; i < count; i++) data[i] = f16ToF32(src.readUInt16LE(i * 2));
    } else {
      new Uint8Array(data.buffer).set(src);
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata, verified: digests !== undefined };
}

/** The digests a file records (removed from METADATA), or undefined for a file without them. */
function recordedDigests(path: string, metadata: Record<string, string>): Record<string, unknown> | undefined {
  const text = metadata[DIGESTS_KEY];
  if (text === undefined) return undefined;
  delete metadata[DIGESTS_KEY];
  let d: unknown;
  try { d = JSON.parse(text); } catch { bad(path, `metadata '${DIGESTS_KEY}' is not JSON (the header is damaged)`); }
  if (typeof d !== 'object' || d === null || Array.isArray(d)) bad(path, `metadata '${DIGESTS_KEY}' is not an object (the header is damaged)`);
  return d as Record<string, unknown>;
}
