// Register tiles as scalars: an IR-to-IR pass for targets whose shader
// compilers keep a per-thread array in slow memory when it is indexed by a
// loop variable (SwiftShader, and GPU compilers that do not unroll). Loops
// with constant bounds whose bodies index a small register array by their
// variable are unrolled (each iteration an `if (true)` block, so its lets
// stay scoped), and an array whose every index is then a constant is marked
// `scalar` (KArray.scalar): a renderer may give each element its own
// variable. The result is ordinary IR: the validator and the IR interpreter
// check it like any schedule's output (test/compiler/kernel/unroll.test.ts).
import { Expr, Kernel, Stmt } from './ir.js';
import { bin, bool, cast, idx, sel } from './build.js';
import { childExprs, mapChildren } from './walk.js';

/** Unrolled copies allowed per loop nest (keeps shader size, and compile time, bounded). */
export const MAX_UNROLL = 256;
/**
 * Larger tiles stay arrays: past the machine's registers the scalars spill
 * anyway, and SwiftShader's compile time grows steeply with them (a 192-wide
 * tile took over a minute to build).
 */
export const MAX_SCALAR_TILE = 64;

/** The kernel with its register-tile loops unrolled and the tiles that became constant-indexed marked scalar. */
export function scalarizeRegisterTiles(k: Kernel): Kernel {
  const regs = new Set(k.regs.filter((r) => r.size <= MAX_SCALAR_TILE).map((r) => r.name));
  if (!regs.size) return k;
  const body = unrollStmts(k.body, regs, MAX_UNROLL);
  const scalar = new Set([...regs].filter((r) => constIndexed(body, r)));
  return { ...k, body, regs: k.regs.map((r) => (scalar.has(r.name) ? { ...r, scalar: true } : r)) };
}

function substExpr(e: Expr, name: string, value: number): Expr {
  const x = (c: Expr): Expr => substExpr(c, name, value);
  switch (e.k) {
    case 'var': return e.name === name ? idx(value) : e;
    // The builders fold constants, so unrolled index arithmetic becomes a literal.
    case 'bin': return bin(e.op, x(e.a), x(e.b));
    case 'sel': return sel(x(e.c), x(e.a), x(e.b));
    case 'cast': return cast(x(e.a), e.t);
    default: return mapChildren(e, x);
  }
}

/** Substitutes in a statement list; a `let` of the same name shadows it for the rest of the list. */
function substStmts(ss: readonly Stmt[], name: string, value: number): Stmt[] {
  const out: Stmt[] = [];
  let shadowed = false;
  for (const s of ss) {
    if (shadowed) { out.push(s); continue; }
    out.push(substStmt(s, name, value));
    if (s.k === 'let' && s.name === name) shadowed = true;
  }
  return out;
}

function substStmt(s: Stmt, name: string, value: number): Stmt {
  const x = (e: Expr): Expr => substExpr(e, name, value);
  switch (s.k) {
    case 'let': return { ...s, v: x(s.v) };
    case 'set': return { ...s, v: x(s.v) };
    case 'store': return { ...s, idx: x(s.idx), v: x(s.v) };
    case 'prefetch': return { ...s, idx: x(s.idx) };
    case 'lstore': return { ...s, idx: x(s.idx), v: x(s.v) };
    case 'for': return { ...s, from: x(s.from), to: x(s.to), body: s.v === name ? s.body : substStmts(s.body, name, value) };
    case 'if': return s.else ? { ...s, c: x(s.c), then: substStmts(s.then, name, value), else: substStmts(s.else, name, value) } : { ...s, c: x(s.c), then: substStmts(s.then, name, value) };
    case 'barrier': return s;
    case 'shfl': case 'mma': throw new Error(`register tiles: warp collective '${s.k}' is CUDA-only`);
  }
}

function mentions(e: Expr, name: string): boolean {
  return (e.k === 'var' && e.name === name) || childExprs(e).some((c) => mentions(c, name));
}

/** Does the body index one of `regs` with an index that mentions `name`? */
function indexesRegsBy(ss: readonly Stmt[], regs: ReadonlySet<string>, name: string): boolean {
  const inExpr = (e: Expr): boolean =>
    (e.k === 'lload' && regs.has(e.arr) && mentions(e.idx, name)) || childExprs(e).some(inExpr);
  return ss.some((s) => {
    switch (s.k) {
      case 'let': case 'set': return inExpr(s.v);
      case 'store': return inExpr(s.idx) || inExpr(s.v);
      case 'prefetch': return inExpr(s.idx);
      case 'lstore': return (regs.has(s.arr) && mentions(s.idx, name)) || inExpr(s.idx) || inExpr(s.v);
      case 'for': return inExpr(s.from) || inExpr(s.to) || indexesRegsBy(s.body, regs, name);
      case 'if': return inExpr(s.c) || indexesRegsBy(s.then, regs, name) || indexesRegsBy(s.else ?? [], regs, name);
      default: return false;
    }
  });
}

function unrollStmts(ss: readonly Stmt[], regs: ReadonlySet<string>, budget: number): Stmt[] {
  return ss.flatMap((s) => unrollStmt(s, regs, budget));
}

function unrollStmt(s: Stmt, regs: ReadonlySet<string>, budget: number): Stmt[] {
  if (s.k === 'if') {
    const then = unrollStmts(s.then, regs, budget);
    return [s.else ? { ...s, then, else: unrollStmts(s.else, regs, budget) } : { ...s, then }];
  }
  if (s.k !== 'for') return [s];
  const from = s.from.k === 'const' ? s.from.v : NaN, to = s.to.k === 'const' ? s.to.v : NaN;
  const trips = to - from;
  if (!(trips >= 0) || trips > budget || !indexesRegsBy(s.body, regs, s.v)) return [{ ...s, body: unrollStmts(s.body, regs, budget) }];
  const inner = Math.max(1, Math.floor(budget / Math.max(1, trips)));
  const out: Stmt[] = [];
  for (let i = from; i < to; i++) {
    out.push({ k: 'if', c: bool(true), then: unrollStmts(substStmts(s.body, s.v, i), regs, inner) });
  }
  return out;
}

function constIndexed(ss: readonly Stmt[], arr: string): boolean {
  const ok = (e: Expr): boolean =>
    !(e.k === 'lload' && e.arr === arr && e.idx.k !== 'const') && childExprs(e).every(ok);
  return ss.every((s) => {
    switch (s.k) {
      case 'let': case 'set': return ok(s.v);
      case 'store': return ok(s.idx) && ok(s.v);
      case 'prefetch': return ok(s.idx);
      case 'lstore': return (s.arr !== arr || s.idx.k === 'const') && ok(s.idx) && ok(s.v);
      case 'for': return ok(s.from) && ok(s.to) && constIndexed(s.body, arr);
      case 'if': return ok(s.c) && constIndexed(s.then, arr) && constIndexed(s.else ?? [], arr);
      default: return true;
    }
  });
}
