// Kernel IR: the one low-level form every backend renders.
//
// A kernel runs on a 1-D grid of workgroups, each of `workgroupSize` threads.
// `gid` is the workgroup index, `lid` the thread index inside it. Workgroup
// memory is declared in `locals` (shared by the threads of one workgroup);
// `regs` are per-thread arrays (register tiles of a GEMM). A barrier must sit
// in uniform control flow (no `lid` dependence on the path to it): the C
// renderer turns each barrier into a split of the thread loop, so a scalar
// `let` may not live across one (validate.ts checks both rules).
//
// Index arithmetic is i64 everywhere (int64_t in C); i32 is a tensor dtype.

export type Scalar = 'f32' | 'i32' | 'i64' | 'bool';
/** Storage of a buffer element: bool is one byte. */
export type BufDType = 'f32' | 'i32' | 'bool';

/** The ALU table: every renderer maps each of these to code, the interpreter to a JS function. */
export type UnaryOp = 'neg' | 'not' | 'exp' | 'log' | 'sqrt' | 'abs' | 'tanh' | 'floor' | 'ceil' | 'sin' | 'cos' | 'isnan';
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'max' | 'min' | 'pow'
  | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne' | 'and' | 'or';
export const UNARY_OPS: readonly UnaryOp[] = ['neg', 'not', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'floor', 'ceil', 'sin', 'cos', 'isnan'];
export const BINARY_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'mod', 'max', 'min', 'pow', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or'];
export const COMPARISONS: ReadonlySet<BinaryOp> = new Set(['lt', 'le', 'gt', 'ge', 'eq', 'ne']);

export type Expr =
  | { readonly k: 'const'; readonly t: Scalar; readonly v: number }
  | { readonly k: 'arg'; readonly i: number }          // runtime int64 argument
  | { readonly k: 'gid' }
  | { readonly k: 'lid' }
  | { readonly k: 'var'; readonly name: string; readonly t: Scalar }
  | { readonly k: 'load'; readonly buf: number; readonly idx: Expr; readonly t: Scalar }
  | { readonly k: 'lload'; readonly arr: string; readonly idx: Expr; readonly t: Scalar }
  | { readonly k: 'un'; readonly op: UnaryOp; readonly a: Expr; readonly t: Scalar }
  | { readonly k: 'bin'; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr; readonly t: Scalar }
  | { readonly k: 'sel'; readonly c: Expr; readonly a: Expr; readonly b: Expr; readonly t: Scalar }
  | { readonly k: 'cast'; readonly a: Expr; readonly t: Scalar };

export type Stmt =
  | { readonly k: 'let'; readonly name: string; readonly t: Scalar; readonly v: Expr }
  | { readonly k: 'set'; readonly name: string; readonly v: Expr }
  | { readonly k: 'store'; readonly buf: number; readonly idx: Expr; readonly v: Expr }
  /** Workgroup array (local) or per-thread register array (reg): same syntax. */
  | { readonly k: 'lstore'; readonly arr: string; readonly idx: Expr; readonly v: Expr }
  /**
   * unroll: a hint to unroll. vector: a hint that the iterations are
   * independent lanes a renderer may run `vector` at a time (constant bounds
   * 0..n, n a multiple of it); the semantics stay those of the scalar loop.
   */
  | { readonly k: 'for'; readonly v: string; readonly from: Expr; readonly to: Expr; readonly body: readonly Stmt[]; readonly unroll?: boolean; readonly vector?: number }
  | { readonly k: 'if'; readonly c: Expr; readonly then: readonly Stmt[]; readonly else?: readonly Stmt[] }
  | { readonly k: 'barrier' };

export interface KBuf { readonly dtype: BufDType; readonly access: 'r' | 'w' | 'rw' }
export interface KArray { readonly name: string; readonly t: Scalar; readonly size: number }

export interface Kernel {
  readonly name: string;
  readonly bufs: readonly KBuf[];
  readonly nargs: number;
  readonly workgroupSize: number;
  /** Workgroup memory. */
  readonly locals: readonly KArray[];
  /** Per-thread arrays. */
  readonly regs: readonly KArray[];
  readonly body: readonly Stmt[];
}

export function scalarOfBuf(d: BufDType): Scalar { return d; }
export function isFloatScalar(t: Scalar): boolean { return t === 'f32'; }
export function isIntScalar(t: Scalar): boolean { return t === 'i32' || t === 'i64'; }

/** The scalar type an expression yields. */
export function typeOf(e: Expr): Scalar {
  switch (e.k) {
    case 'arg': case 'gid': case 'lid': return 'i64';
    default: return e.t;
  }
}

/** Does a statement list contain a barrier anywhere inside? */
export function hasBarrier(stmts: readonly Stmt[]): boolean {
  for (const s of stmts) {
    if (s.k === 'barrier') return true;
    if (s.k === 'for' && hasBarrier(s.body)) return true;
    if (s.k === 'if' && (hasBarrier(s.then) || (s.else !== undefined && hasBarrier(s.else)))) return true;
  }
  return false;
}
