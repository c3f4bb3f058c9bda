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
//
// u32 is the bit-word type (bitmasks): the bitwise ops take u32 only (WGSL
// has no 64-bit integers, so words are 32 bits on every target). Its
// arithmetic wraps mod 2^32; shift counts are taken mod 32 (WGSL's rule, the
// C renderers mask them); popcount and ctz yield u32 (ctz(0) = 32). No buffer
// holds u32: a kernel stores words in an i32 buffer through casts, which keep
// the bits between i32 and u32 on every target. A u32 reaches i64 exactly
// only below 2^31 (WGSL's i64 is i32), and never converts to or from f32.
//
// Warp collectives (`shfl`, `mma`; CUDA only, the other renderers refuse
// them) are executed together by the 32 lanes of a warp (threads 32w ..
// 32w+31 of a workgroup whose size is a multiple of 32). Like barriers they
// sit in uniform control flow, so every lane reaches them; unlike barriers
// they split nothing in the rendering, so lets may live across them.

export type Scalar = 'f32' | 'i32' | 'i64' | 'u32' | 'bool';
/** Storage of a buffer element: bool is one byte. */
export type BufDType = 'f32' | 'i32' | 'bool';

/** The ALU table: every renderer maps each of these to code, the interpreter to a JS function. */
/** `not`, `and`, `or` are logical (bool); `bitnot`, `bitand`, `bitor`, `bitxor`, `shl`, `shr`, `popcount`, `ctz` act on u32 words. */
export type UnaryOp = 'neg' | 'not' | 'exp' | 'log' | 'sqrt' | 'abs' | 'tanh' | 'floor' | 'ceil' | 'sin' | 'cos' | 'isnan' | 'bitnot' | 'popcount' | 'ctz';
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'max' | 'min' | 'pow'
  | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne' | 'and' | 'or'
  | 'bitand' | 'bitor' | 'bitxor' | 'shl' | 'shr';
export const UNARY_OPS: readonly UnaryOp[] = ['neg', 'not', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'floor', 'ceil', 'sin', 'cos', 'isnan', 'bitnot', 'popcount', 'ctz'];
export const BINARY_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'mod', 'max', 'min', 'pow', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or', 'bitand', 'bitor', 'bitxor', 'shl', 'shr'];
export const COMPARISONS: ReadonlySet<BinaryOp> = new Set(['lt', 'le', 'gt', 'ge', 'eq', 'ne']);
/** The ops on u32 bit words (both operands u32, the result u32). */
export const BITWISE_UNARY: ReadonlySet<UnaryOp> = new Set(['bitnot', 'popcount', 'ctz']);
export const BITWISE_BINARY: ReadonlySet<BinaryOp> = new Set(['bitand', 'bitor', 'bitxor', 'shl', 'shr']);

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
  /**
   * storage: also order the threads' buffer (storage) accesses, for
   * workgroups that hand data to each other through a buffer (WGSL's
   * workgroupBarrier covers workgroup memory only; CUDA's __syncthreads and
   * the C thread loops cover both).
   */
  | { readonly k: 'barrier'; readonly storage?: boolean }
  /**
   * A hint that B[buf][idx] will be read soon: the C rendering asks the CPU
   * to bring its cache line close (a CPU kernel streaming many rows of a
   * large tensor outruns the hardware prefetchers); GPUs drop it. Nothing is
   * read, so idx may lie outside the buffer.
   */
  | { readonly k: 'prefetch'; readonly buf: number; readonly idx: Expr }
  /** let name: t = the value of v in lane (this lane ^ xor) of the warp (`__shfl_xor_sync`). */
  | { readonly k: 'shfl'; readonly name: string; readonly t: Scalar; readonly v: Expr; readonly xor: number }
  /**
   * Tensor-core D = A·B + C in place on acc (`mma.sync.aligned`, row-major A,
   * column-major B): each lane holds its fragments (PTX layouts, see
   * MMA_SHAPES) in f32 per-thread arrays from the given offsets; A and B are
   * rounded to the shape's input type, the products accumulated in f32.
   */
  | { readonly k: 'mma'; readonly shape: MmaShape; readonly acc: Frag; readonly a: Frag; readonly b: Frag };

/** A fragment: per-thread array `arr` from element `off`. */
export interface Frag { readonly arr: string; readonly off: Expr }

export type MmaShape = 'm16n8k8.tf32' | 'm16n8k16.bf16';
export const WARP = 32;

/** Per-lane fragment sizes in elements and the matrix shape of one mma. */
export const MMA_SHAPES: Readonly<Record<MmaShape, { m: number; n: number; k: number; a: number; b: number; c: number; input: 'tf32' | 'bf16' }>> = {
  'm16n8k8.tf32': { m: 16, n: 8, k: 8, a: 4, b: 2, c: 4, input: 'tf32' },
  'm16n8k16.bf16': { m: 16, n: 8, k: 16, a: 8, b: 4, c: 4, input: 'bf16' },
};

/**
 * (row, col) of element i of a lane's fragment, from the PTX ISA's "Matrix
 * Fragments for mma.m16n8k8 / m16n8k16" tables (g = lane >> 2, t = lane % 4).
 * A is M×K, B is K×N (row = k, col = n), C/D is M×N.
 */
export function fragCoord(shape: MmaShape, which: 'a' | 'b' | 'c', lane: number, i: number): [number, number] {
  const g = lane >> 2, t = lane & 3;
  if (which === 'c') return [g + (i >= 2 ? 8 : 0), t * 2 + (i & 1)];
  if (shape === 'm16n8k8.tf32') {
    if (which === 'a') return [g + (i & 1 ? 8 : 0), t + (i >= 2 ? 4 : 0)];
    return [t + (i ? 4 : 0), g];
  }
  if (which === 'a') return [g + ((i >> 1) & 1 ? 8 : 0), t * 2 + (i & 1) + (i >= 4 ? 8 : 0)];
  return [t * 2 + (i & 1) + (i >= 2 ? 8 : 0), g];
}

export interface KBuf { readonly dtype: BufDType; readonly access: 'r' | 'w' | 'rw' }
export interface KArray {
  readonly name: string;
  readonly t: Scalar;
  readonly size: number;
  /**
   * Registers only: every index is a constant (kernel/unroll.ts), so a
   * renderer may give each element a variable of its own (the validator checks).
   */
  readonly scalar?: boolean;
}

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
export function isIntScalar(t: Scalar): boolean { return t === 'i32' || t === 'i64' || t === 'u32'; }

/** The scalar type an expression yields. */
export function typeOf(e: Expr): Scalar {
  switch (e.k) {
    case 'arg': case 'gid': case 'lid': return 'i64';
    default: return e.t;
  }
}

function contains(stmts: readonly Stmt[], hit: (s: Stmt) => boolean): boolean {
  for (const s of stmts) {
    if (hit(s)) return true;
    if (s.k === 'for' && contains(s.body, hit)) return true;
    if (s.k === 'if' && (contains(s.then, hit) || (s.else !== undefined && contains(s.else, hit)))) return true;
  }
  return false;
}

/** Does a statement list contain a barrier anywhere inside? */
export function hasBarrier(stmts: readonly Stmt[]): boolean { return contains(stmts, (s) => s.k === 'barrier'); }

export function isWarpCollective(s: Stmt): boolean { return s.k === 'shfl' || s.k === 'mma'; }

/** Does a statement list contain a warp collective anywhere inside? */
export function hasWarpCollective(stmts: readonly Stmt[]): boolean { return contains(stmts, isWarpCollective); }

/** A point every thread of the workgroup must reach together: a barrier or a warp collective. */
export function hasCollective(stmts: readonly Stmt[]): boolean { return contains(stmts, (s) => s.k === 'barrier' || isWarpCollective(s)); }

/** Does a statement list use tensor cores (an mma anywhere inside)? Those kernels need sm_80. */
export function hasMma(stmts: readonly Stmt[]): boolean { return contains(stmts, (s) => s.k === 'mma'); }
