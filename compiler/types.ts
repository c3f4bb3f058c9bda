// Types shared by the checker, the graph IR and the op definitions.
import { Dim, showShape } from './dims.js';

export type DType = 'f32' | 'f16' | 'i32' | 'bool';
export const DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'bool'];

export function isFloat(d: DType): boolean { return d === 'f32' || d === 'f16'; }
export function bytesOf(d: DType): number { return d === 'f16' ? 2 : d === 'bool' ? 1 : 4; }

/** A tensor type; shape dims may be symbolic in the checker, numbers after lowering. */
export interface TensorType {
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

/** A tensor type whose every dim is known. */
export interface ConcreteType {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export function showType(t: TensorType): string { return `${t.dtype}${showShape(t.shape)}`; }

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A place in a source file. Lines and columns are 1-based; end is exclusive. */
export interface Span {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly endLine: number;
  readonly endCol: number;
}

export const NO_SPAN: Span = { file: '<builtin>', line: 0, col: 0, endLine: 0, endCol: 0 };
