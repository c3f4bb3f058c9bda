// Comparators the tests share. Every one fails on NaN and on a non-finite
// value that differs from the expected one in class or sign: a comparison
// written `if (e > worst)` never sees NaN (NaN > x is false), and
// |a - Inf| / Inf is NaN, so a wrong answer would pass as "error 0".

/** Both are the same non-finite value (NaN and NaN, +Inf and +Inf, -Inf and -Inf). */
export function sameNonFinite(a: number, b: number): boolean {
  return (Number.isNaN(a) && Number.isNaN(b)) || (a === b && !Number.isFinite(a));
}

/**
 * The error of `a` against `b` under `measure` (finite values only): 0 when
 * they are the same non-finite value, Infinity when only one is non-finite
 * or they differ in class or sign.
 */
export function errorOf(a: number, b: number, measure: (a: number, b: number) => number): number {
  if (Number.isFinite(a) && Number.isFinite(b)) {
    const e = measure(a, b);
    return Number.isNaN(e) ? Infinity : e;
  }
  return sameNonFinite(a, b) ? 0 : Infinity;
}

export interface Worst { worst: number; at: number }

/** The largest error over the elements, and where; a length mismatch is Infinity at -1. */
export function worstError(got: ArrayLike<number>, want: ArrayLike<number>, measure: (a: number, b: number) => number): Worst {
  if (got.length !== want.length) return { worst: Infinity, at: -1 };
  let worst = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = errorOf(got[i], want[i], measure);
    if (at < 0 || e > worst) { worst = e; at = i; }
  }
  return { worst, at };
}

/** The largest |b| among the finite values, at least `floor`: the scale for "relative to the tensor's magnitude". */
export function finiteScale(want: ArrayLike<number>, floor: number): number {
  let s = floor;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i])) s = Math.max(s, Math.abs(want[i]));
  return s;
}

/** `e` is a number no larger than `tol` (NaN is not). */
export function within(e: number, tol: number): boolean { return e <= tol; }
