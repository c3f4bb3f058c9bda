// Checks shape rules share. Each throws ShapeError with a message written for
// the user when the answer is known now, and defers to ShapeContext (which
// records an assumption) when it depends on symbols.
import { Dim, dimEquals, isConst, sub } from '../dims.js';
import { DType, TensorType, isFloat, showType } from '../types.js';
import { ShapeContext, ShapeError } from './op.js';

/** Equal dims, or the user-facing `message` when provably different. */
export function requireEq(ctx: ShapeContext, a: Dim, b: Dim, message: string, arg?: number, hint?: string): void {
  if (dimEquals(a, b) === false) throw new ShapeError(message, { arg, hint });
  ctx.requireEqual(a, b, message, arg);
}

export function requireAtLeast(ctx: ShapeContext, a: Dim, lo: number, message: string, arg?: number, hint?: string): void {
  const d = sub(a, lo);
  if (isConst(d) && d < 0) throw new ShapeError(message, { arg, hint });
  ctx.requireAtLeast(a, lo, message, arg);
}

/** The input or a ShapeError naming it (the language fills optional inputs with undefined). */
export function need(op: string, t: TensorType | undefined, name: string, arg: number): TensorType {
  if (t === undefined) throw new ShapeError(`${op}: input '${name}' is required`, { arg });
  return t;
}

export function requireRank(op: string, t: TensorType, rank: number, name: string, arg: number, layout?: string): void {
  if (t.shape.length !== rank) {
    throw new ShapeError(`${op}: ${name} must have rank ${rank}${layout ? ` (${layout})` : ''}, got ${showType(t)}`, { arg });
  }
}

export function requireMinRank(op: string, t: TensorType, rank: number, name: string, arg: number): void {
  if (t.shape.length < rank) throw new ShapeError(`${op}: ${name} must have rank at least ${rank}, got ${showType(t)}`, { arg });
}

export function requireDtype(op: string, t: TensorType, allowed: readonly DType[], name: string, arg: number): void {
  if (!allowed.includes(t.dtype)) {
    throw new ShapeError(`${op}: ${name} must be ${allowed.join(' or ')}, got ${t.dtype}`, { arg, hint: t.dtype !== 'bool' && allowed.some(isFloat) ? `convert it first: cast(value, dtype = "${allowed[0]}")` : undefined });
  }
}

export function requireSameDtype(op: string, a: TensorType, b: TensorType, arg: number): void {
  if (a.dtype !== b.dtype) {
    throw new ShapeError(`${op}: operands have different dtypes (${a.dtype} and ${b.dtype})`, { arg, hint: `cast one of them, e.g. cast(x, dtype = "${a.dtype}")` });
  }
}
