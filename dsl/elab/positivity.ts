// Dims are sizes, so every named symbol is at least 1. That proves more
// inequalities than dims.ts's dimEquals (which only decides constant
// differences): H and 2*H differ, as do H/4 and H/8 under `where H % 8 == 0`.
import { Dim, DimExpr, dimEquals, sub } from '../../compiler/dims.js';

/** true: provably equal; false: provably different; undefined: depends on the symbols. */
export function dimsEqual(a: Dim, b: Dim): boolean | undefined {
  const eq = dimEquals(a, b);
  if (eq !== undefined) return eq;
  const d = sub(a, b) as DimExpr;
  // Every monomial a product of symbols (each >= 1) and all coefficients of
  // one sign: the difference is at least the sum of the coefficients, never 0.
  let sign = 0;
  for (const t of d.terms.values()) {
    if (t.atoms.some((x) => x.kind !== 'sym')) return undefined;
    const s = Math.sign(t.coeff);
    if (s === 0) continue;
    if (sign !== 0 && s !== sign) return undefined;
    sign = s;
  }
  return sign === 0 ? undefined : false;
}
