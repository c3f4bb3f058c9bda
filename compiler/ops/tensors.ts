// Output allocation for references: a float output follows its float input's
// array kind, so gradient checks can run the whole reference in f64.
import { DType, numel } from '../types.js';
import { Tensor, TensorData, allocData } from '../tensor.js';

export function usesF64(inputs: readonly (Tensor | undefined)[]): boolean {
  return inputs.some((t) => t !== undefined && t.data instanceof Float64Array);
}

export function alloc(dtype: DType, shape: readonly number[], f64: boolean): Tensor {
  return { dtype, shape: [...shape], data: allocData(dtype, numel(shape), f64) };
}

/** Writes a number into a typed array the way a cast would: i32 truncates (NaN and infinities become 0), bool is != 0. */
export function store(dtype: DType, data: TensorData, i: number, v: number): void {
  if (dtype === 'bool') data[i] = v !== 0 ? 1 : 0; // NaN is true, as in torch's .bool()
  else if (dtype === 'i32') data[i] = Number.isFinite(v) ? Math.trunc(v) : 0;
  else data[i] = v;
}
