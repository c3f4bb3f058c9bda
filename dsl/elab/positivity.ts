// Dims are sizes, so a symbol the user named in a shape (H, cin) or a
// quotient symbol [H/32] is at least 1. That proves more than dims.ts's
// dimEquals, which decides constant differences only: H and 2*H differ,
// H/4 and H/8 under `where H % 8 == 0` differ, and a conv's output
// (H/4 after padding) is at least 1. Symbols the checker made up (an int
// parameter l, a loop variable, a quotient by a symbol) may be 0 or
// negative and prove nothing.
import { Atom, Dim, DimExpr, dimEquals, isConst, sub } from '../../compiler/dims.js';

function positive(a: Atom): boolean {
  return a.kind === 'sym' && (a.base !== undefined || /^[A-Za-z_][A-Za-z0-9_]*$/.test(a.name));
}

/** A lower bound of d when every symbol is >= 1, or undefined if d is not a positive-coefficient polynomial of such symbols. */
function lowerBound(d: DimExpr): number | undefined {
  let bound = 0;
  for (const t of d.terms.values()) {
    if (t.atoms.length === 0) { bound += t.coeff; continue; }
    if (t.coeff < 0 || !t.atoms.every(positive)) return undefined;
    bound += t.coeff;
  }
  return bound;
}

/** true: provably equal; false: provably different; undefined: depends on the symbols. */
export function dimsEqual(a: Dim, b: Dim): boolean | undefined {
  const eq = dimEquals(a, b);
  if (eq !== undefined) return eq;
  const d = sub(a, b);
  if (isConst(d)) return d === 0;
  const up = lowerBound(d);
  if (up !== undefined && up > 0) return false;
  const down = lowerBound(sub(0, d) as DimExpr);
  if (down !== undefined && down > 0) return false;
  return undefined;
}

/** true: a >= lo for every value of the symbols; false: never; undefined: depends. */
export function atLeast(a: Dim, lo: number): boolean | undefined {
  const d = sub(a, lo);
  if (isConst(d)) return d >= 0;
  const bound = lowerBound(d);
  if (bound !== undefined && bound >= 0) return true;
  const neg = lowerBound(sub(0, d) as DimExpr);
  if (neg !== undefined && neg > 0) return false;
  return undefined;
}
