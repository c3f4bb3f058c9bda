// Concrete tensors for the reference interpreter and host code: row-major,
// contiguous. The reference computes f32 (and f16) in the array's own
// precision; Float64Array is allowed for gradient checks.
import { DType, numel } from './types.js';

export type TensorData = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export function allocData(dtype: DType, n: number, f64 = false): TensorData {
  if (dtype === 'i32') return new Int32Array(n);
  if (dtype === 'bool') return new Uint8Array(n);
  return f64 ? new Float64Array(n) : new Float32Array(n);
}

export function zeros(dtype: DType, shape: readonly number[], f64 = false): Tensor {
  return { dtype, shape: [...shape], data: allocData(dtype, numel(shape), f64) };
}

export function tensor(dtype: DType, shape: readonly number[], values: ArrayLike<number>, f64 = false): Tensor {
  const t = zeros(dtype, shape, f64);
  if (values.length !== t.data.length) throw new RangeError(`tensor of shape [${shape.join(', ')}] needs ${t.data.length} values, got ${values.length}`);
  t.data.set(values);
  return t;
}

export function scalar(dtype: DType, v: number): Tensor { return tensor(dtype, [], [v]); }

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** Deterministic pseudo-random numbers (mulberry32): tests and initialisers share one generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples by Box–Muller over rng(). */
export function normalSampler(next: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    let u = 0;
    while (u === 0) u = next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export function randomTensor(shape: readonly number[], seed: number, lo = -1, hi = 1): Tensor {
  const next = rng(seed);
  const t = zeros('f32', shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = lo + (hi - lo) * next();
  return t;
}
