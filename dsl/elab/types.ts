// Declared types against values: dims of a signature bind to the argument's
// dims on first occurrence and must unify on later ones; dim expressions
// (2*H, C/4) are compared once every name in them is bound.
import { Dim, floordiv, isConst, mod, mul, add, sub, neg, showDim, sym, quotientSym } from '../../compiler/dims.js';
import { DTYPES, DType, Span, showType } from '../../compiler/types.js';
import type { Constraint, Expr, TypeExpr } from '../ast.js';
import { Scope } from '../scope.js';
import { Value, describe, freshSym, seqOf } from '../values.js';
import { Elab } from './elab.js';
import { dimsEqual } from './positivity.js';
import { checkIn } from './constraints.js';

export interface Binder {
  /** Dims named in the signature that are not constructor parameters, as bound so far. */
  readonly bound: Map<string, Dim>;
  /** Where each name was bound (the argument, or the entry's parameter). */
  readonly spans: Map<string, Span>;
  readonly deferred: { dim: Expr; actual: Dim; span: Span; type: TypeExpr; index: number }[];
  /** Generic mode: unknown names become symbols (`H`, or 32*[H/32] under `where H % 32 == 0`). */
  readonly generic: boolean;
  readonly divisors: Map<string, number>;
  /** Lowering's entry: dims marked `G: bucket` round up to the bucket. */
  readonly buckets: Set<string>;
  roundBuckets: boolean;
}

export function newBinder(generic: boolean, where: Constraint[] = []): Binder {
  const divisors = new Map<string, number>();
  const buckets = new Set<string>();
  for (const c of where) {
    if (c.kind === 'bucket') { buckets.add(c.name); continue; }
    if (c.kind !== 'expr') continue;
    const d = divisibility(c.expr);
    if (d) divisors.set(d.name, lcm(divisors.get(d.name) ?? 1, d.by));
  }
  return { bound: new Map(), spans: new Map(), deferred: [], generic, divisors, buckets, roundBuckets: false };
}

/** `X % n == 0` with X a name and n a positive integer constant. */
export function divisibility(e: Expr): { name: string; by: number } | undefined {
  if (e.kind !== 'binary' || e.op !== '==' || e.right.kind !== 'int' || e.right.value !== 0) return undefined;
  const l = e.left;
  if (l.kind !== 'binary' || l.op !== '%' || l.left.kind !== 'name' || l.right.kind !== 'int' || l.right.value <= 0) return undefined;
  return { name: l.left.name, by: l.right.value };
}

function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return Math.min((a / gcd(a, b)) * b, 1 << 20);
}

/** Powers of two, at least 8: a new number of ground truths rarely means a new compilation. */
export function bucketOf(n: number): number {
  let b = 8;
  while (b < n) b *= 2;
  return b;
}

function genericSym(b: Binder, name: string): Dim {
  const by = b.divisors.get(name);
  return by && by > 1 ? mul(by, quotientSym(name, by)) : sym(name);
}

/**
 * a / b or a % b by a symbolic b (a constructor parameter): an opaque symbol
 * named after the expression, so the same expression is the same dim.
 */
export function symbolicQuotient(a: Dim, b: Dim, op: '/' | '%'): Dim {
  return sym(`(${showDim(a)})${op}(${showDim(b)})`);
}

/** Evaluates a dim expression; `free` resolves names that are not in scope (undefined: report). */
export function evalDim(el: Elab, scope: Scope, e: Expr, free: (name: string) => Dim | undefined): Dim | undefined {
  switch (e.kind) {
    case 'int': return e.value;
    case 'name': {
      const v = scope.get(e.name);
      if (v) {
        if (v.kind === 'int') return v.v;
        // An error value was reported where it arose: no follow-on here.
        if (v.kind !== 'error') el.report(e.span, `'${e.name}' is ${describe(v)}, not an int: a dim must be an integer expression`);
        return undefined;
      }
      const d = free(e.name);
      if (d === undefined) el.report(e.span, `unknown dim '${e.name}'`, 'dims are integers, constructor parameters or names bound by the function\'s parameters');
      return d;
    }
    case 'unary': {
      if (e.op !== '-') break;
      const a = evalDim(el, scope, e.arg, free);
      return a === undefined ? undefined : neg(a);
    }
    case 'binary': {
      const a = evalDim(el, scope, e.left, free), b = evalDim(el, scope, e.right, free);
      if (a === undefined || b === undefined) return undefined;
      switch (e.op) {
        case '+': return add(a, b);
        case '-': return sub(a, b);
        case '*': return mul(a, b);
        case '/': case '%':
          // By a constructor parameter: unknown to the checker, a number in lowering.
          if (!isConst(b) && !el.lowering) return symbolicQuotient(a, b, e.op);
          if (!isConst(b) || b <= 0) { el.report(e.right.span, `a dim can be divided only by a positive constant, got ${showDim(b)}`); return undefined; }
          return e.op === '/' ? floordiv(a, b) : mod(a, b);
        default: break;
      }
      break;
    }
    default: break;
  }
  el.report(e.span, 'a dim must be an integer expression (names, integers, + - * and / or % by a constant)');
  return undefined;
}

function dtypeOf(el: Elab, te: Extract<TypeExpr, { kind: 'tensor' }>): DType | undefined {
  if ((DTYPES as readonly string[]).includes(te.dtype)) return te.dtype as DType;
  el.report(te.span, `'${te.dtype}' is not a tensor dtype`, `tensor dtypes: ${DTYPES.join(', ')}; write ${te.dtype} without [...] for a scalar`);
  return undefined;
}

/** A value standing for a declared type: generic parameters, or a declared return in the checker. */
export function valueOfType(el: Elab, scope: Scope, te: TypeExpr, b: Binder): Value | undefined {
  switch (te.kind) {
    case 'scalar':
      switch (te.name) {
        case 'int': return { kind: 'int', v: freshSym('n') };
        case 'float': return { kind: 'float', v: undefined };
        case 'bool': return { kind: 'bool', v: undefined };
        case 'string': return { kind: 'string', v: undefined };
        case 'init': return { kind: 'init', init: undefined };
      }
      return undefined;
    case 'tuple': {
      const items = te.items.map((t) => valueOfType(el, scope, t, b));
      return items.every((v) => v !== undefined) ? seqOf(items as Value[]) : undefined;
    }
    case 'tensor': {
      const dtype = dtypeOf(el, te);
      const shape: Dim[] = [];
      let ok = dtype !== undefined;
      for (const d of te.dims) {
        const v = evalDim(el, scope, d, (name) => {
          let x = b.bound.get(name);
          if (x === undefined) { x = b.generic ? genericSym(b, name) : freshSym(name); b.bound.set(name, x); }
          return x;
        });
        if (v === undefined) ok = false; else shape.push(v);
      }
      return ok ? { kind: 'tensor', type: { dtype: dtype!, shape }, id: -1 } : undefined;
    }
  }
}

function typeText(te: TypeExpr): string {
  switch (te.kind) {
    case 'scalar': return te.name;
    case 'tuple': return `(${te.items.map(typeText).join(', ')})`;
    case 'tensor': return `${te.dtype}[${te.dims.map(exprText).join(', ')}]`;
  }
}

const PREC: Record<string, number> = { or: 1, and: 2, '==': 3, '!=': 3, '<': 3, '<=': 3, '>': 3, '>=': 3, '+': 4, '-': 4, '*': 5, '/': 5, '%': 5 };

/** Source-like text of a (dim) expression, parenthesised where precedence needs it. */
export function exprText(e: Expr, outer = 0): string {
  switch (e.kind) {
    case 'int': return String(e.value);
    case 'name': return e.name;
    case 'unary': return `${e.op === 'not' ? 'not ' : '-'}${exprText(e.arg, 6)}`;
    case 'binary': {
      const p = PREC[e.op] ?? 0;
      // Left-associative: the right operand needs parentheses at equal precedence.
      const text = `${exprText(e.left, p)} ${e.op} ${exprText(e.right, p + 1)}`;
      return p < outer ? `(${text})` : text;
    }
    default: return '…';
  }
}

/** Matches a value against a declared type, binding names; false (and a diagnostic) on a mismatch. */
export function matchType(el: Elab, scope: Scope, te: TypeExpr, v: Value, span: Span, b: Binder, what: string): boolean {
  if (v.kind === 'error') return false;
  switch (te.kind) {
    case 'scalar': {
      const ok = te.name === v.kind || (te.name === 'float' && v.kind === 'int');
      if (!ok) el.report(span, `${what}: expected ${te.name}, got ${describe(v)}`);
      return ok;
    }
    case 'tuple': {
      if (v.kind !== 'seq') { el.report(span, `${what}: expected a tuple ${typeText(te)}, got ${describe(v)}`); return false; }
      if (isConst(v.len) && v.len !== te.items.length) { el.report(span, `${what}: expected a tuple of ${te.items.length}, got a tuple of ${v.len}`); return false; }
      return te.items.every((t, i) => matchType(el, scope, t, isConst(v.len) ? v.items[i] : v.items[0], span, b, what));
    }
    case 'tensor': {
      const dtype = dtypeOf(el, te);
      if (dtype === undefined) return false;
      if (v.kind !== 'tensor') { el.report(span, `${what}: expected a tensor ${typeText(te)}, got ${describe(v)}`); return false; }
      if (v.type.dtype !== dtype) { el.report(span, `${what}: dtype mismatch: expected ${typeText(te)}, got ${showType(v.type)}`, `cast it: cast(x, dtype = "${dtype}")`); return false; }
      if (v.type.shape.length !== te.dims.length) {
        el.report(span, `${what}: expected a tensor of rank ${te.dims.length} ${typeText(te)}, got rank ${v.type.shape.length} ${showType(v.type)}`,
          v.type.shape.length < te.dims.length ? 'add dims with reshape(x, shape = (...))' : 'index it (x[i]) or reshape it');
        return false;
      }
      te.dims.forEach((d, i) => {
        let actual = v.type.shape[i];
        // Every use of a bucket dim rounds, not only the one that binds it:
        // gt_boxes [B, 3, 4] and gt_classes [B, 3] both become G = 8.
        if (b.roundBuckets && d.kind === 'name' && b.buckets.has(d.name) && isConst(actual)) actual = bucketOf(actual);
        if (d.kind === 'name' && !scope.get(d.name) && !b.bound.has(d.name)) {
          b.bound.set(d.name, actual);
          b.spans.set(d.name, span);
        } else b.deferred.push({ dim: d, actual, span, type: te, index: i });
      });
      return true;
    }
  }
}

/** Compares the dim expressions left by matchType; names still unbound are an error. */
export function resolveDeferred(el: Elab, scope: Scope, b: Binder, what: string): boolean {
  let ok = true;
  for (const { dim, actual, span, type, index } of b.deferred.splice(0)) {
    const want = evalDim(el, scope, dim, (name) => {
      const x = b.bound.get(name);
      if (x === undefined) el.report(span, `${what}: cannot infer '${name}' in ${typeText(type)}`, `'${name}' appears only inside an expression; give it its own dim somewhere in the signature`);
      return x ?? 0;
    });
    if (want === undefined) { ok = false; continue; }
    const eq = dimsEqual(want, actual);
    if (eq === false) {
      const named = dim.kind === 'int' ? showDim(want) : `${exprText(dim)} = ${showDim(want)}`;
      const from = dim.kind === 'name' ? b.spans.get(dim.name) : undefined;
      el.report(span, `${what}: cannot unify ${named} with ${showDim(actual)} (dim ${index} of ${typeText(type)})`,
        from && from !== span ? `${dim.kind === 'name' ? dim.name : ''} = ${showDim(want)} was bound at ${from.line}:${from.col}` : undefined);
      ok = false;
    } else if (eq === undefined && !showDim(actual).includes('#') && !showDim(want).includes('#')) {
      // Two symbols the checker cannot prove equal (GroupNorm(cin) after
      // Conv(cin, cout)): not silently accepted. Recorded as an assumption
      // at the use, listed by `fusedet check` and re-checked by lowering.
      // (A stand-in dim, name#N, is an op output the checker could not
      // compute at all: nothing the user wrote to list.)
      const named = dim.kind === 'int' ? showDim(want) : `${exprText(dim)} = ${showDim(want)}`;
      el.assume(`${what}: ${named} must equal ${showDim(actual)} (dim ${index} of ${typeText(type)})`, span, 'unify');
    }
  }
  return ok;
}

/** Evaluates `where` constraints with the bound dims; false (and a diagnostic at the binding's span) on a violation. */
export function checkWhere(el: Elab, scope: Scope, where: Constraint[], b: Binder, fallback: Span, evalBool: (s: Scope, e: Expr) => Value): boolean {
  let ok = true;
  for (const c of where) {
    if (c.kind === 'bucket') {
      if (c.word !== 'bucket') { el.report(c.span, `unknown constraint '${c.name}: ${c.word}'`, 'write `NAME: bucket` to mark a bucket dim'); ok = false; }
      else if (!b.bound.has(c.name)) { el.report(c.span, `'${c.name}' is not a dim of this function's parameters`); ok = false; }
      continue;
    }
    const s = new Scope(scope);
    for (const [k, d] of b.bound) if (!scope.get(k)) s.set(k, { kind: 'int', v: d });
    if (c.kind === 'in') { ok = checkIn(el, s, c, b.spans.get(c.name) ?? fallback, 'this function', evalBool) && ok; continue; }
    const v = evalBool(s, c.expr);
    if (v.kind === 'error') { ok = false; continue; }
    if (v.kind !== 'bool') { el.report(c.span, `a where-constraint must be a condition, got ${describe(v)}`); ok = false; continue; }
    if (v.v === false) {
      const d = divisibility(c.expr);
      const at = (d && b.spans.get(d.name)) ?? fallback;
      const val = d ? b.bound.get(d.name) : undefined;
      el.report(at, d && val !== undefined ? `${d.name} = ${showDim(val)} is not divisible by ${d.by} (where ${exprText(c.expr)})` : `the constraint ${exprText(c.expr)} does not hold`,
        `declared at ${c.span.file}:${c.span.line}:${c.span.col}${d ? `; pad the input to a multiple of ${d.by}` : ''}`);
      ok = false;
    }
  }
  return ok;
}
