// Host tensors ↔ the bytes a storage buffer holds. f32 and i32 are copied as
// is. bool is one byte per element in the Program, but WGSL has no byte
// storage and threads writing neighbouring bytes of one word would race, so
// on the device a bool is a u32 (0 or 1): its buffer is 4× the planned bytes.
// f16 goes through explicit conversion since Tensor has no 16-bit array.
import type { DType } from '../compiler/types.js';
import { bytesOf, numel } from '../compiler/types.js';
import type { Tensor, TensorData } from '../compiler/tensor.js';
import { WebGpuError } from './errors.js';

/** WebGPU copies and writes move whole 4-byte words. */
export function paddedSize(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

/** Bytes a planned buffer takes on the device (bool widened to u32). */
export function deviceBytes(dtype: DType, bytes: number): number {
  return paddedSize(dtype === 'bool' ? bytes * 4 : bytes);
}

function f32ToF16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const tie = 1 << (shift - 1);
    return sign | (rest > tie || (rest === tie && half & 1) ? half + 1 : half);
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Round to nearest even; a carry into the exponent is the correct result (up to Inf).
  return sign | (rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half);
}

function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The bytes to upload for `t` into a buffer declared as `dtype` of `bytes` bytes. */
export function tensorBytes(t: Tensor, dtype: DType, bytes: number, what: string): Uint8Array<ArrayBuffer> {
  const n = t.data.length;
  if (n * bytesOf(dtype) !== bytes) {
    throw new WebGpuError(`${what}: expected ${bytes / bytesOf(dtype)} ${dtype} values, got ${n} (shape [${t.shape.join(', ')}])`);
  }
  const out = new Uint8Array(deviceBytes(dtype, bytes));
  if (dtype === 'f32') new Float32Array(out.buffer, 0, n).set(t.data);
  else if (dtype === 'i32') new Int32Array(out.buffer, 0, n).set(t.data);
  else if (dtype === 'bool') {
    const words = new Uint32Array(out.buffer, 0, n);
    for (let i = 0; i < n; i++) words[i] = t.data[i] ? 1 : 0;
  }
  else {
    const h = new Uint16Array(out.buffer, 0, n);
    for (let i = 0; i < n; i++) h[i] = f32ToF16Bits(t.data[i]);
  }
  return out;
}

/** A Tensor of `dtype` from the device copy at `offset` of `src`; `bytes` as planned. */
export function bytesTensor(src: ArrayBuffer, offset: number, dtype: DType, bytes: number, shape: readonly number[] | undefined): Tensor {
  const n = bytes / bytesOf(dtype);
  const s = shape && numel(shape) === n ? [...shape] : [n];
  let data: TensorData;
  if (dtype === 'f32') data = new Float32Array(src.slice(offset, offset + bytes));
  else if (dtype === 'i32') data = new Int32Array(src.slice(offset, offset + bytes));
  else if (dtype === 'bool') {
    const words = new Uint32Array(src, offset, n);
    data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = words[i] ? 1 : 0;
  }
  else {
    const h = new Uint16Array(src.slice(offset, offset + bytes));
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = f16BitsToF32(h[i]);
  }
  return { dtype, shape: s, data };
}
