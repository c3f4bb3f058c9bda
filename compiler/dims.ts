// Symbolic integer dimensions.
//
// A Dim is either a plain number (every concrete shape is number[]) or a
// DimExpr: a polynomial with integer coefficients over atoms. An atom is a
// named symbol (`H`, `cin`) or an opaque floor division that could not be
// simplified. The same shape rule therefore serves the checker (symbolic
// dims) and lowering (concrete dims).
//
// `where H % 32 == 0` is modelled by rewriting H as 32 * [H/32], a quotient
// symbol; floordiv then simplifies exactly: floor((32q + c) / 2) = 16q +
// floor(c / 2). This is what lets a stride-2 chain prove H/8 = H/8.

export type Dim = number | DimExpr;

/** One atom of a monomial. */
export type Atom =
  | { kind: 'sym'; name: string; base?: string; divisor?: number } // base/divisor: quotient symbol [base/divisor]
  | { kind: 'floordiv'; num: DimExpr; den: number };

/** coefficient × product of atoms (atoms sorted by key). */
interface Term { coeff: number; atoms: Atom[] }

export class DimExpr {
  /** Monomials keyed by the sorted atom keys joined with '*'; '' is the constant. */
  readonly terms: ReadonlyMap<string, Term>;
  constructor(terms: Map<string, Term>) { this.terms = terms; }
  toString(): string { return showDim(this); }
}

function atomKey(a: Atom): string {
  return a.kind === 'sym' ? a.name : `(${showDim(a.num)})//${a.den}`;
}

function monoKey(atoms: Atom[]): string { return atoms.map(atomKey).join('*'); }

function termsOf(d: Dim): Map<string, Term> {
  if (typeof d === 'number') return d === 0 ? new Map() : new Map([['', { coeff: d, atoms: [] }]]);
  return new Map(d.terms as Map<string, Term>);
}

/** Normalise: drop zero terms, collapse constants to numbers. */
function make(terms: Map<string, Term>): Dim {
  for (const [k, t] of terms) if (t.coeff === 0) terms.delete(k);
  if (terms.size === 0) return 0;
  if (terms.size === 1 && terms.has('')) return terms.get('')!.coeff;
  return new DimExpr(terms);
}

export function sym(name: string): DimExpr {
  const a: Atom = { kind: 'sym', name };
  return new DimExpr(new Map([[name, { coeff: 1, atoms: [a] }]]));
}

/** The quotient symbol [base/divisor], used for `where base % divisor == 0`. */
export function quotientSym(base: string, divisor: number): DimExpr {
  const name = `${base}/${divisor}`;
  const a: Atom = { kind: 'sym', name, base, divisor };
  return new DimExpr(new Map([[name, { coeff: 1, atoms: [a] }]]));
}

export function isConst(d: Dim): d is number { return typeof d === 'number'; }

export function add(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  const out = termsOf(a);
  for (const [k, t] of termsOf(b)) {
    const cur = out.get(k);
    out.set(k, { coeff: (cur?.coeff ?? 0) + t.coeff, atoms: t.atoms });
  }
  return make(out);
}

export function neg(a: Dim): Dim { return mul(a, -1); }
export function sub(a: Dim, b: Dim): Dim { return add(a, neg(b)); }

export function mul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const out = new Map<string, Term>();
  for (const ta of termsOf(a).values()) {
    for (const tb of termsOf(b).values()) {
      const atoms = [...ta.atoms, ...tb.atoms].sort((x, y) => (atomKey(x) < atomKey(y) ? -1 : atomKey(x) > atomKey(y) ? 1 : 0));
      const k = monoKey(atoms);
      const cur = out.get(k);
      out.set(k, { coeff: (cur?.coeff ?? 0) + ta.coeff * tb.coeff, atoms });
    }
  }
  return make(out);
}

function gcd(a: number, b: number): number { while (b) [a, b] = [b, a % b]; return a; }

/** floor(a / den) for a positive integer den. */
export function floordiv(a: Dim, den: number): Dim {
  if (!Number.isInteger(den) || den <= 0) throw new RangeError(`floordiv by ${den}: the divisor must be a positive integer`);
  if (typeof a === 'number') return Math.floor(a / den);
  if (den === 1) return a;
  // Canonical form: every coefficient c = den*k + m with m in [0, den);
  // floor((c*x + rest) / den) = k*x + floor((m*x + rest) / den) for integer x,
  // so (H - 1)//2 + 1 and (H + 1)//2, or (3*H)//2 and H + H//2, are one expression.
  const exact = new Map<string, Term>();
  const rest = new Map<string, Term>();
  for (const [k, t] of a.terms) {
    const m = ((t.coeff % den) + den) % den;
    if (t.coeff !== m) exact.set(k, { coeff: (t.coeff - m) / den, atoms: t.atoms });
    if (m !== 0) rest.set(k, { coeff: m, atoms: t.atoms });
  }
  const q = make(exact);
  const r = make(rest);
  if (typeof r === 'number') return add(q, Math.floor(r / den));
  // When every non-constant coefficient shares a factor g with den:
  // floor((g*y + m) / den) = floor((y + floor(m / g)) / (den / g)) for integer y.
  let g = den;
  for (const [k, t] of rest) if (k !== '') g = gcd(g, Math.abs(t.coeff));
  if (g > 1) {
    const m = rest.get('')?.coeff ?? 0;
    const y = new Map<string, Term>();
    for (const [k, t] of rest) if (k !== '') y.set(k, { coeff: t.coeff / g, atoms: t.atoms });
    return add(q, floordiv(add(make(y), Math.floor(m / g)), den / g));
  }
  const atom: Atom = { kind: 'floordiv', num: r, den };
  return add(q, new DimExpr(new Map([[atomKey(atom), { coeff: 1, atoms: [atom] }]])));
}

/** a mod den = a - den*floor(a/den). */
export function mod(a: Dim, den: number): Dim { return sub(a, mul(den, floordiv(a, den))); }

/** Ceil division, as a padded stride produces. */
export function ceildiv(a: Dim, den: number): Dim { return neg(floordiv(neg(a), den)); }

/**
 * true: provably equal; false: provably different (their difference is a
 * non-zero constant); undefined: depends on the values of the symbols.
 */
export function dimEquals(a: Dim, b: Dim): boolean | undefined {
  const d = sub(a, b);
  if (typeof d === 'number') return d === 0;
  return undefined;
}

/** Free symbol names, quotient symbols reported under their base name. */
export function symbols(d: Dim, out: Set<string> = new Set()): Set<string> {
  if (typeof d === 'number') return out;
  for (const t of d.terms.values()) {
    for (const a of t.atoms) {
      if (a.kind === 'sym') out.add(a.base ?? a.name);
      else symbols(a.num, out);
    }
  }
  return out;
}

/** Replace symbols by dims (concrete numbers or other expressions). */
export function substitute(d: Dim, env: ReadonlyMap<string, Dim> | Record<string, Dim>): Dim {
  if (typeof d === 'number') return d;
  const get = (n: string): Dim | undefined => (env instanceof Map ? env.get(n) : (env as Record<string, Dim>)[n]);
  let out: Dim = 0;
  for (const t of d.terms.values()) {
    let m: Dim = t.coeff;
    for (const a of t.atoms) {
      let v: Dim;
      if (a.kind === 'floordiv') v = floordiv(substitute(a.num, env), a.den);
      else if (get(a.name) !== undefined) v = get(a.name)!;
      // [H/32] with H bound: exact when H is divisible, which the binder checks.
      else if (a.base !== undefined && get(a.base) !== undefined) v = floordiv(get(a.base)!, a.divisor!);
      else v = new DimExpr(new Map([[a.name, { coeff: 1, atoms: [a] }]]));
      m = mul(m, v);
    }
    out = add(out, m);
  }
  return out;
}

/** Concrete value; throws if a symbol is unbound. */
export function evaluate(d: Dim, env: ReadonlyMap<string, number> | Record<string, number>): number {
  const v = substitute(d, env as ReadonlyMap<string, Dim>);
  if (typeof v !== 'number') throw new Error(`dimension ${showDim(d)} has unbound symbols: ${[...symbols(v)].join(', ')}`);
  return v;
}

/** Human form: `2*H + 1`, `(H - 1)//2 + 1`, `32*[H/32]` shown as `H`. */
export function showDim(d: Dim): string {
  if (typeof d === 'number') return String(d);
  const parts: string[] = [];
  const entries = [...d.terms.entries()].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : 1));
  for (const [, t] of entries) {
    let coeff = t.coeff;
    const names: string[] = [];
    for (const a of t.atoms) {
      if (a.kind === 'floordiv') names.push(`(${showDim(a.num)})//${a.den}`);
      else if (a.base !== undefined && coeff % a.divisor! === 0) { coeff /= a.divisor!; names.push(a.base); }
      else if (a.base !== undefined) names.push(`(${a.base}/${a.divisor})`);
      else names.push(a.name);
    }
    const body = names.join('*');
    const mag = Math.abs(coeff);
    const s = body === '' ? String(mag) : mag === 1 ? body : `${mag}*${body}`;
    if (parts.length === 0) parts.push(coeff < 0 ? `-${s}` : s);
    else parts.push(coeff < 0 ? `- ${s}` : `+ ${s}`);
  }
  return parts.join(' ');
}

export function showShape(shape: readonly Dim[]): string { return `[${shape.map(showDim).join(', ')}]`; }
