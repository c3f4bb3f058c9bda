// safetensors from bytes, with no Node import: the browser entry reads weights
// it fetched, and the Node entry reads weights given as a Buffer. The format
// and its checks are models/checkpoint/safetensors.ts's (that reader opens
// files and hashes with node:crypto); this one validates the same way —
// header, exact data coverage, per-tensor SHA-256 where the file records it —
// and fails with one WeightsError naming the file and the tensor.
import type { Tensor } from '../compiler/tensor.js';
import { sha256Hex } from '../web/shims/node-crypto.js';
import { WeightsError } from './errors.js';

const DTYPES: Record<string, { dtype: Tensor['dtype']; bytes: number }> = {
  F32: { dtype: 'f32', bytes: 4 }, F16: { dtype: 'f16', bytes: 2 }, I32: { dtype: 'i32', bytes: 4 }, BOOL: { dtype: 'bool', bytes: 1 },
};
const DIGESTS_KEY = 'fusedet.sha256';

function f16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export interface ParsedWeights { tensors: Map<string, Tensor>; metadata: Record<string, string> }

/** `name` is for messages only (a path or URL). */
export function parseSafetensors(bytes: Uint8Array, name: string): ParsedWeights {
  const bad = (why: string): never => { throw new WeightsError(`${name}: not a usable safetensors file: ${why}`); };
  if (bytes.length < 8) bad(`truncated: ${bytes.length} bytes, not even the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (hlen > 100_000_000 || 8 + hlen > bytes.length) bad(`truncated or corrupt: the header claims ${hlen} bytes, the file has ${bytes.length - 8} after the length`);
  let header: unknown;
  try { header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen))); } catch (e) { bad(`corrupt header: not JSON (${(e as Error).message})`); }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('corrupt header: not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: { key: string; dtype: Tensor['dtype']; bytes: number; shape: number[]; begin: number; end: number }[] = [];
  for (const [key, raw] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) if (typeof v === 'string') metadata[k] = v;
      continue;
    }
    const r = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const d = DTYPES[String(r?.dtype)];
    if (!d) bad(`tensor '${key}': dtype ${JSON.stringify(r?.dtype)} is not one of ${Object.keys(DTYPES).join(', ')}`);
    const shape = r.shape, offs = r.data_offsets;
    if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) bad(`tensor '${key}': shape is not a list of sizes`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((n) => Number.isSafeInteger(n) && n >= 0)) bad(`tensor '${key}': data_offsets is not [begin, end]`);
    const [begin, end] = offs as number[];
    const want = (shape as number[]).reduce((a, b) => a * b, 1) * d.bytes;
    if (end - begin !== want) bad(`tensor '${key}': data_offsets hold ${end - begin} bytes, its shape needs ${want}`);
    entries.push({ key, ...d, shape: shape as number[], begin, end });
  }
  const base = 8 + hlen, dataLen = bytes.length - base;
  let at = 0;
  for (const e of [...entries].sort((a, b) => a.begin - b.begin)) {
    if (e.begin !== at) bad(`tensor '${e.key}': data starts at byte ${e.begin}, expected ${at}`);
    at = e.end;
  }
  if (at !== dataLen) bad(at > dataLen ? `truncated: the tensors need ${at} data bytes, the file holds ${dataLen}` : `corrupt: ${dataLen - at} bytes after the last tensor's data`);
  let digests: Record<string, unknown> | undefined;
  if (metadata[DIGESTS_KEY] !== undefined) {
    try { digests = JSON.parse(metadata[DIGESTS_KEY]) as Record<string, unknown>; } catch { bad(`metadata '${DIGESTS_KEY}' is not JSON (the header is damaged)`); }
    delete metadata[DIGESTS_KEY];
  }
  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const src = bytes.subarray(base + e.begin, base + e.end);
    if (digests && sha256Hex(src) !== digests[e.key]) bad(`tensor '${e.key}' is damaged: its bytes do not match the SHA-256 recorded when the file was written`);
    const n = (e.end - e.begin) / e.bytes;
    let data: Float32Array | Int32Array | Uint8Array;
    if (e.dtype === 'f16') {
      data = new Float32Array(n);
      const v = new DataView(src.buffer, src.byteOffset, src.byteLength);
      for (let i = 0; i < n; i++) data[i] = f16(v.getUint16(2 * i, true));
    } else {
      // Copied into a fresh, aligned array (the file's offsets need not be).
      // (not src.slice(): a Node Buffer's slice is a view, not a copy.)
      const copy = new Uint8Array(src.length);
      copy.set(src);
      data = e.dtype === 'f32' ? new Float32Array(copy.buffer) : e.dtype === 'i32' ? new Int32Array(copy.buffer) : copy;
    }
    tensors.set(e.key, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

const FILE_DTYPE: Record<Tensor['dtype'], string> = { f32: 'F32', f16: 'F16', i32: 'I32', bool: 'BOOL' };

/**
 * A safetensors file's bytes (a page's trained weights, downloaded). f16
 * tensors are written as F32 (the page holds them as f32); with a SHA-256 per
 * tensor in the metadata as fusedet's own writer records it, so the file
 * loads verified.
 */
export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  const blobs: Uint8Array[] = [];
  const digests: Record<string, string> = {};
  let at = 0;
  for (const [name, t] of tensors) {
    const data = t.dtype === 'f16' || t.data instanceof Float64Array ? Float32Array.from(t.data) : t.data;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype: t.dtype === 'f16' ? 'F32' : FILE_DTYPE[t.dtype], shape: t.shape, data_offsets: [at, at + bytes.length] };
    digests[name] = sha256Hex(bytes);
    blobs.push(bytes);
    at += bytes.length;
  }
  header.__metadata__ = { ...metadata, [DIGESTS_KEY]: JSON.stringify(digests) };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + at);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 8);
  let o = 8 + head.length;
  for (const b of blobs) { out.set(b, o); o += b.length; }
  return out;
}
