// Generic walks over kernel-IR expressions and statements, for passes that
// rewrite or inspect a kernel (kernel/unroll.ts, the WGSL renderer, the
// direct GEMM's table registers). Children are found by field name, so expression
// kinds added to the IR later are walked without a case of their own.
import type { Expr, Stmt } from './ir.js';

const CHILD_FIELDS = ['idx', 'a', 'b', 'c'] as const;

function isExpr(x: unknown): x is Expr {
  return typeof x === 'object' && x !== null && typeof (x as { k?: unknown }).k === 'string';
}

/** The direct subexpressions of e. */
export function childExprs(e: Expr): Expr[] {
  const rec = e as unknown as Record<string, unknown>;
  return CHILD_FIELDS.map((f) => rec[f]).filter(isExpr);
}

/** e with each direct subexpression replaced by f of it. */
export function mapChildren(e: Expr, f: (c: Expr) => Expr): Expr {
  const rec = { ...(e as unknown as Record<string, unknown>) };
  for (const k of CHILD_FIELDS) if (isExpr(rec[k])) rec[k] = f(rec[k] as Expr);
  return rec as unknown as Expr;
}

/** s with f applied to each expression it holds directly, nested statement lists included (barriers and warp collectives unchanged). */
export function mapStmtExprs(s: Stmt, f: (e: Expr) => Expr): Stmt {
  const body = (ss: readonly Stmt[]): Stmt[] => ss.map((x) => mapStmtExprs(x, f));
  switch (s.k) {
    case 'let': case 'set': return { ...s, v: f(s.v) };
    case 'store': case 'lstore': return { ...s, idx: f(s.idx), v: f(s.v) };
    case 'prefetch': return { ...s, idx: f(s.idx) };
    case 'for': return { ...s, from: f(s.from), to: f(s.to), body: body(s.body) };
    case 'if': return s.else ? { ...s, c: f(s.c), then: body(s.then), else: body(s.else) } : { ...s, c: f(s.c), then: body(s.then) };
    default: return s;
  }
}

/** Calls f on every statement of ss in order, nested statement lists included (a statement before its body). */
export function forEachStmt(ss: readonly Stmt[], f: (s: Stmt) => void): void {
  for (const s of ss) {
    f(s);
    if (s.k === 'for') forEachStmt(s.body, f);
    else if (s.k === 'if') { forEachStmt(s.then, f); forEachStmt(s.else ?? [], f); }
  }
}
