// Constructors for kernel IR expressions, folding constants in index
// arithmetic so rendered code stays readable (`i * 1 + 0` never appears).
import { BinaryOp, Expr, MmaShape, Scalar, Stmt, UnaryOp, COMPARISONS, typeOf } from './ir.js';

export const gid: Expr = { k: 'gid' };
export const lid: Expr = { k: 'lid' };
export function arg(i: number): Expr { return { k: 'arg', i }; }
export function idx(v: number): Expr { return { k: 'const', t: 'i64', v }; }
export function f32(v: number): Expr { return { k: 'const', t: 'f32', v: Math.fround(v) }; }
export function i32(v: number): Expr { return { k: 'const', t: 'i32', v: v | 0 }; }
export function bool(v: boolean): Expr { return { k: 'const', t: 'bool', v: v ? 1 : 0 }; }
/** A u32 word constant (mod 2^32). */
export function u32(v: number): Expr { return { k: 'const', t: 'u32', v: v >>> 0 }; }
export function konst(t: Scalar, v: number): Expr {
  return t === 'f32' ? f32(v) : t === 'i32' ? i32(v) : t === 'u32' ? u32(v) : t === 'bool' ? bool(v !== 0) : idx(Math.trunc(v));
}
export function v(name: string, t: Scalar = 'i64'): Expr { return { k: 'var', name, t }; }
export function load(buf: number, i: Expr, t: Scalar): Expr { return { k: 'load', buf, idx: i, t }; }
export function lload(arr: string, i: Expr, t: Scalar): Expr { return { k: 'lload', arr, idx: i, t }; }

function cval(e: Expr): number | undefined { return e.k === 'const' ? e.v : undefined; }

export function un(op: UnaryOp, a: Expr): Expr {
  const t = op === 'not' || op === 'isnan' ? 'bool' : op === 'popcount' || op === 'ctz' ? 'u32' : typeOf(a);
  return { k: 'un', op, a, t };
}

export function bin(op: BinaryOp, a: Expr, b: Expr): Expr {
  const ta = typeOf(a);
  const t: Scalar = COMPARISONS.has(op) ? 'bool' : ta;
  const x = cval(a), y = cval(b);
  if (ta === 'i64' && typeOf(b) === 'i64') {
    if (x !== undefined && y !== undefined) {
      switch (op) {
        case 'add': return idx(x + y);
        case 'sub': return idx(x - y);
        case 'mul': return idx(x * y);
        case 'div': if (y !== 0) return idx(Math.trunc(x / y)); break;
        case 'mod': if (y !== 0) return idx(x % y); break;
        case 'max': return idx(Math.max(x, y));
        case 'min': return idx(Math.min(x, y));
        default: break;
      }
    }
    if (op === 'add' && x === 0) return b;
    if ((op === 'add' || op === 'sub') && y === 0) return a;
    if (op === 'mul' && (x === 0 || y === 0)) return idx(0);
    if (op === 'mul' && x === 1) return b;
    if ((op === 'mul' || op === 'div') && y === 1) return a;
    if (op === 'mod' && y === 1) return idx(0);
  }
  return { k: 'bin', op, a, b, t };
}

export const add = (a: Expr, b: Expr): Expr => bin('add', a, b);
export const sub = (a: Expr, b: Expr): Expr => bin('sub', a, b);
export const mul = (a: Expr, b: Expr): Expr => bin('mul', a, b);
export const div = (a: Expr, b: Expr): Expr => bin('div', a, b);
export const mod = (a: Expr, b: Expr): Expr => bin('mod', a, b);
export const max = (a: Expr, b: Expr): Expr => bin('max', a, b);
export const min = (a: Expr, b: Expr): Expr => bin('min', a, b);
export const lt = (a: Expr, b: Expr): Expr => bin('lt', a, b);
export const ge = (a: Expr, b: Expr): Expr => bin('ge', a, b);
/** Bitwise ops on u32 words (ir.ts): a & b, a | b, a ^ b, a << n, a >> n (n mod 32), ~a, set bits, trailing zeros. */
export const bitand = (a: Expr, b: Expr): Expr => bin('bitand', a, b);
export const bitor = (a: Expr, b: Expr): Expr => bin('bitor', a, b);
export const bitxor = (a: Expr, b: Expr): Expr => bin('bitxor', a, b);
export const shl = (a: Expr, n: Expr): Expr => bin('shl', a, n);
export const shr = (a: Expr, n: Expr): Expr => bin('shr', a, n);
export const bitnot = (a: Expr): Expr => un('bitnot', a);
export const popcount = (a: Expr): Expr => un('popcount', a);
export const ctz = (a: Expr): Expr => un('ctz', a);
/** Bit n of word w as a bool: ((w >> n) & 1) != 0. */
export const bitSet = (w: Expr, n: Expr): Expr => bin('ne', bitand(shr(w, n), u32(1)), u32(0));
export const and = (a: Expr, b: Expr): Expr => {
  if (a.k === 'const') return a.v ? b : a;
  if (b.k === 'const') return b.v ? a : b;
  return bin('and', a, b);
};
export function sel(c: Expr, a: Expr, b: Expr): Expr {
  if (c.k === 'const') return c.v ? a : b;
  return { k: 'sel', c, a, b, t: typeOf(a) };
}
export function cast(a: Expr, t: Scalar): Expr {
  if (typeOf(a) === t) return a;
  if (a.k === 'const') return konst(t, t === 'bool' ? (a.v !== 0 ? 1 : 0) : a.v);
  return { k: 'cast', a, t };
}
/** 0 <= i < n, folded where i is constant. */
export function inRange(i: Expr, n: number): Expr {
  const c = cval(i);
  if (c !== undefined) return bool(c >= 0 && c < n);
  return and(ge(i, idx(0)), lt(i, idx(n)));
}

export function let_(name: string, t: Scalar, value: Expr): Stmt { return { k: 'let', name, t, v: value }; }
export function set(name: string, value: Expr): Stmt { return { k: 'set', name, v: value }; }
export function store(buf: number, i: Expr, value: Expr): Stmt { return { k: 'store', buf, idx: i, v: value }; }
export function lstore(arr: string, i: Expr, value: Expr): Stmt { return { k: 'lstore', arr, idx: i, v: value }; }
export function for_(name: string, from: Expr, to: Expr, body: readonly Stmt[], unroll = false, vector = 0): Stmt {
  const s: Stmt = unroll ? { k: 'for', v: name, from, to, body, unroll } : { k: 'for', v: name, from, to, body };
  return vector > 1 ? { ...s, vector } : s;
}
export function if_(c: Expr, then: readonly Stmt[], els?: readonly Stmt[]): Stmt {
  return els && els.length ? { k: 'if', c, then, else: els } : { k: 'if', c, then };
}
export const barrier: Stmt = { k: 'barrier' };
/** A barrier that also makes the threads' buffer writes visible to each other (ir.ts). */
export const storageBarrier: Stmt = { k: 'barrier', storage: true };
/** A hint that buffer `buf` will be read at `i` soon (ir.ts). */
export function prefetch(buf: number, i: Expr): Stmt { return { k: 'prefetch', buf, idx: i }; }
/** let name = value of `value` in lane (lane ^ xor): a butterfly step (warp collective, CUDA only). */
export function shflXor(name: string, value: Expr, xor: number): Stmt { return { k: 'shfl', name, t: typeOf(value), v: value, xor }; }
/** acc[accOff..] += A·B on per-thread fragments (warp collective, CUDA only). */
export function mma(shape: MmaShape, acc: string, accOff: Expr, a: string, aOff: Expr, b: string, bOff: Expr): Stmt {
  return { k: 'mma', shape, acc: { arr: acc, off: accOff }, a: { arr: a, off: aOff }, b: { arr: b, off: bOff } };
}

/** `for name = lid; name < end; name += wg` (threads of a workgroup sharing a range), as a unit-step loop. */
export function threadStrided(name: string, end: Expr, wg: number, body: readonly Stmt[]): Stmt {
  const k = `${name}_k`;
  const count = bin('div', bin('add', bin('sub', end, lid), idx(wg - 1)), idx(wg));
  return for_(k, idx(0), count, [let_(name, 'i64', bin('add', lid, bin('mul', v(k), idx(wg)))), ...body]);
}
