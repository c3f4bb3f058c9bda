// Runs kernel IR in plain TypeScript, with the same semantics as the C
// rendering (threads of a workgroup run one after another between barriers,
// f32 arithmetic rounded after every op, C integer division), so a scheduling
// bug shows up here without any compiler. Warp collectives (CUDA only) split
// the thread loop like barriers and then act on the 32 lanes of each warp at
// once with the PTX semantics (tf32/bf16 rounding of mma inputs, f32
// accumulation). Expressions are compiled once to closures over a slot array
// (one row of slots per thread): fast enough for the property tests.
import { BinaryOp, Expr, Kernel, MMA_SHAPES, MmaShape, Scalar, Stmt, UnaryOp, WARP, fragCoord, hasCollective } from './ir.js';
import { TensorData } from '../tensor.js';

/** vars[base + slot] is a variable of thread lid (base = lid × slot count). */
interface Ctx { vars: Float64Array; base: number; lid: number; gid: number }
type Fn = (c: Ctx) => number;
type Run = (c: Ctx) => void;

const fr = Math.fround;

function wrap(t: Scalar, f: Fn): Fn {
  if (t === 'f32') return (c) => fr(f(c));
  if (t === 'i32') return (c) => f(c) | 0;
  if (t === 'u32') return (c) => f(c) >>> 0;
  return f;
}

/** Set bits of a u32 word (SWAR; Math.imul keeps the last step exact). */
export function popcount32(x: number): number {
  x >>>= 0;
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Trailing zero bits of a u32 word; 32 for 0 (WGSL's countTrailingZeros). */
export function ctz32(x: number): number {
  x >>>= 0;
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

const UN: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x, not: (x) => (x ? 0 : 1), exp: Math.exp, log: Math.log, sqrt: Math.sqrt, abs: Math.abs,
  tanh: Math.tanh, floor: Math.floor, ceil: Math.ceil, sin: Math.sin, cos: Math.cos, isnan: (x) => (Number.isNaN(x) ? 1 : 0),
  bitnot: (x) => ~x >>> 0, popcount: popcount32, ctz: ctz32,
};

// fmaxf/fminf semantics: a NaN operand loses to a number.
const fmax = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b));
const fmin = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b));

function binFn(op: BinaryOp, t: Scalar): (a: number, b: number) => number {
  const int = t === 'i32' || t === 'i64' || t === 'u32';
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    // 32-bit products wrap (the result's wrap() makes a u32 one unsigned again).
    case 'mul': return t === 'i32' || t === 'u32' ? Math.imul : (a, b) => a * b;
    case 'div': return int ? (a, b) => Math.trunc(a / b) : (a, b) => a / b;
    case 'mod': return int ? (a, b) => a % b : (a, b) => a % b;
    case 'max': return int ? Math.max : fmax;
    case 'min': return int ? Math.min : fmin;
    case 'pow': return Math.pow;
    case 'lt': return (a, b) => (a < b ? 1 : 0);
    case 'le': return (a, b) => (a <= b ? 1 : 0);
    case 'gt': return (a, b) => (a > b ? 1 : 0);
    case 'ge': return (a, b) => (a >= b ? 1 : 0);
    case 'eq': return (a, b) => (a === b ? 1 : 0);
    case 'ne': return (a, b) => (a !== b ? 1 : 0);
    case 'and': return (a, b) => (a && b ? 1 : 0);
    case 'or': return (a, b) => (a || b ? 1 : 0);
    // u32 words (wrap() makes JavaScript's signed results unsigned); shift counts mod 32 as in JavaScript and WGSL.
    case 'bitand': return (a, b) => a & b;
    case 'bitor': return (a, b) => a | b;
    case 'bitxor': return (a, b) => a ^ b;
    case 'shl': return (a, b) => a << b;
    case 'shr': return (a, b) => a >>> b;
  }
}

function castFn(t: Scalar, f: Fn): Fn {
  switch (t) {
    case 'f32': return (c) => fr(f(c));
    case 'bool': return (c) => (f(c) !== 0 ? 1 : 0);
    // C float→int conversion truncates toward zero.
    case 'i32': return (c) => Math.trunc(f(c)) | 0;
    case 'i64': return (c) => Math.trunc(f(c));
    // Modulo 2^32: an i32's bits, an i64's low word.
    case 'u32': return (c) => Math.trunc(f(c)) >>> 0;
  }
}

const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);

/** cvt.rna.tf32.f32: 10 mantissa bits, round to nearest with ties away from zero; NaN/Inf unchanged. */
export function roundTf32(x: number): number {
  f32Bits[0] = x;
  const u = u32Bits[0];
  if ((u & 0x7f800000) === 0x7f800000) return f32Bits[0];
  u32Bits[0] = ((u + 0x1000) & 0xffffe000) >>> 0;
  return f32Bits[0];
}

/** f32 → bf16 round to nearest even (cvt.rn.bf16x2.f32), as an f32 value; NaN stays NaN. */
export function roundBf16(x: number): number {
  f32Bits[0] = x;
  const u = u32Bits[0];
  if (Number.isNaN(f32Bits[0])) return NaN;
  u32Bits[0] = ((u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000) >>> 0;
  return f32Bits[0];
}

/**
 * One warp's mma: gathers the lanes' fragments into matrices, D = A·B + C
 * with inputs rounded to the shape's type, the products (exact in f32 for
 * tf32 and bf16) summed in f32 in k order, and scatters D back.
 */
function warpMma(shape: MmaShape, frag: (lane: number, which: 'a' | 'b' | 'c', i: number) => number, put: (lane: number, i: number, v: number) => void): void {
  const sh = MMA_SHAPES[shape];
  const round = sh.input === 'tf32' ? roundTf32 : roundBf16;
  const A = new Float64Array(sh.m * sh.k), B = new Float64Array(sh.k * sh.n), C = new Float64Array(sh.m * sh.n);
  for (let lane = 0; lane < WARP; lane++) {
    for (let i = 0; i < sh.a; i++) { const [r, c] = fragCoord(shape, 'a', lane, i); A[r * sh.k + c] = round(frag(lane, 'a', i)); }
    for (let i = 0; i < sh.b; i++) { const [r, c] = fragCoord(shape, 'b', lane, i); B[r * sh.n + c] = round(frag(lane, 'b', i)); }
    for (let i = 0; i < sh.c; i++) { const [r, c] = fragCoord(shape, 'c', lane, i); C[r * sh.n + c] = frag(lane, 'c', i); }
  }
  for (let lane = 0; lane < WARP; lane++) {
    for (let i = 0; i < sh.c; i++) {
      const [r, c] = fragCoord(shape, 'c', lane, i);
      let acc = C[r * sh.n + c];
      for (let kk = 0; kk < sh.k; kk++) acc = fr(acc + A[r * sh.k + kk] * B[kk * sh.n + c]);
      put(lane, i, acc);
    }
  }
}

export function runKernel(k: Kernel, bufs: readonly TensorData[], args: readonly number[], grid: number): void {
  const slots = new Map<string, number>();
  const slotOf = (n: string): number => {
    let s = slots.get(n);
    if (s === undefined) { s = slots.size; slots.set(n, s); }
    return s;
  };
  const wg = k.workgroupSize;
  const arrays = new Map<string, { data: Float64Array; perThread: number; t: Scalar }>();
  for (const a of k.locals) arrays.set(a.name, { data: new Float64Array(a.size), perThread: 0, t: a.t });
  for (const a of k.regs) arrays.set(a.name, { data: new Float64Array(a.size * wg), perThread: a.size, t: a.t });

  const ex = (e: Expr): Fn => {
    switch (e.k) {
      case 'const': { const v = e.v; return () => v; }
      case 'arg': { const v = args[e.i]; return () => v; }
      case 'gid': return (c) => c.gid;
      case 'lid': return (c) => c.lid;
      case 'var': { const s = slotOf(e.name); return (c) => c.vars[c.base + s]; }
      case 'load': {
        const b = bufs[e.buf], i = ex(e.idx), name = k.name;
        return (c) => {
          const j = i(c);
          if (!(j >= 0 && j < b.length)) throw new RangeError(`${name}: load out of bounds: buffer ${e.buf}[${j}] (length ${b.length})`);
          return b[j];
        };
      }
      case 'lload': {
        const a = arrays.get(e.arr)!, i = ex(e.idx), name = k.name, size = a.perThread || a.data.length;
        return (c) => {
          const j = i(c);
          if (!(j >= 0 && j < size)) throw new RangeError(`${name}: '${e.arr}[${j}]' out of bounds (${size})`);
          return a.data[c.lid * a.perThread + j];
        };
      }
      case 'un': { const f = UN[e.op], a = ex(e.a); return wrap(e.t, (c) => f(a(c))); }
      case 'bin': { const f = binFn(e.op, e.t), a = ex(e.a), b = ex(e.b); return wrap(e.t, (c) => f(a(c), b(c))); }
      case 'sel': { const cc = ex(e.c), a = ex(e.a), b = ex(e.b); return (c) => (cc(c) ? a(c) : b(c)); }
      case 'cast': return castFn(e.t, ex(e.a));
    }
  };

  const storeConv = (t: Scalar): ((x: number) => number) => (t === 'f32' ? fr : t === 'i32' ? (x) => x | 0 : t === 'u32' ? (x) => x >>> 0 : (x) => x);

  // Barrier-free statement compiled for one thread.
  const stmt = (s: Stmt): Run => {
    switch (s.k) {
      case 'let': case 'set': {
        const slot = slotOf(s.name), f = ex(s.v);
        return (c) => { c.vars[c.base + slot] = f(c); };
      }
      case 'store': {
        const b = bufs[s.buf], i = ex(s.idx), f = ex(s.v), name = k.name;
        return (c) => {
          const j = i(c);
          if (!(j >= 0 && j < b.length)) throw new RangeError(`${name}: store out of bounds: buffer ${s.buf}[${j}] (length ${b.length})`);
          b[j] = f(c);
        };
      }
      case 'lstore': {
        const a = arrays.get(s.arr)!, i = ex(s.idx), f = ex(s.v), conv = storeConv(a.t), size = a.perThread || a.data.length, name = k.name;
        return (c) => {
          const j = i(c);
          if (!(j >= 0 && j < size)) throw new RangeError(`${name}: '${s.arr}[${j}]' out of bounds (${size})`);
          a.data[c.lid * a.perThread + j] = conv(f(c));
        };
      }
      case 'for': {
        const slot = slotOf(s.v), from = ex(s.from), to = ex(s.to), body = s.body.map(stmt);
        return (c) => {
          const end = to(c);
          for (let i = from(c); i < end; i++) { c.vars[c.base + slot] = i; for (const r of body) r(c); }
        };
      }
      case 'if': {
        const cond = ex(s.c), t = s.then.map(stmt), e = (s.else ?? []).map(stmt);
        return (c) => { if (cond(c)) for (const r of t) r(c); else for (const r of e) r(c); };
      }
      case 'barrier': case 'prefetch': return () => {};
      case 'shfl': case 'mma': throw new Error(`${k.name}: warp collective outside the collective path`);
    }
  };

  // Set by the run once every slot is known (closures are compiled first).
  let stride = 0;
  const onThread = (c: Ctx, t: number): void => { c.lid = t; c.base = t * stride; };

  const collective = (s: Extract<Stmt, { k: 'shfl' | 'mma' }>): Run => {
    if (s.k === 'shfl') {
      const slot = slotOf(s.name), f = ex(s.v), xor = s.xor, vals = new Float64Array(WARP);
      return (c) => {
        for (let w = 0; w < wg; w += WARP) {
          for (let l = 0; l < WARP; l++) { onThread(c, w + l); vals[l] = f(c); }
          for (let l = 0; l < WARP; l++) c.vars[(w + l) * stride + slot] = vals[l ^ xor];
        }
        onThread(c, 0);
      };
    }
    const sh = MMA_SHAPES[s.shape];
    const frags = { a: s.a, b: s.b, c: s.acc };
    const offs = { a: ex(s.a.off), b: ex(s.b.off), c: ex(s.acc.off) };
    const sizes = { a: sh.a, b: sh.b, c: sh.c };
    const name = k.name;
    return (c) => {
      for (let w = 0; w < wg; w += WARP) {
        // Offsets may differ by lane (they are per-thread expressions): read each lane's own.
        const base = { a: new Float64Array(WARP), b: new Float64Array(WARP), c: new Float64Array(WARP) };
        for (let l = 0; l < WARP; l++) {
          onThread(c, w + l);
          for (const which of ['a', 'b', 'c'] as const) {
            const arr = arrays.get(frags[which].arr)!, o = offs[which](c);
            if (!(o >= 0 && o + sizes[which] <= arr.perThread)) throw new RangeError(`${name}: mma fragment '${frags[which].arr}[${o}..+${sizes[which]}]' out of bounds (${arr.perThread})`);
            base[which][l] = (w + l) * arr.perThread + o;
          }
        }
        const data = { a: arrays.get(frags.a.arr)!.data, b: arrays.get(frags.b.arr)!.data, c: arrays.get(frags.c.arr)!.data };
        warpMma(s.shape, (l, which, i) => data[which][base[which][l] + i], (l, i, v) => { data.c[base.c[l] + i] = v; });
      }
      onThread(c, 0);
    };
  };

  // A block with collectives: collective-free runs execute thread by thread;
  // a statement holding a barrier or warp collective is uniform and runs
  // once (its loop variable set in every thread), recursing.
  const block = (stmts: readonly Stmt[]): Run => {
    const parts: Run[] = [];
    let run: Run[] = [];
    const flush = (): void => {
      if (!run.length) return;
      const r = run;
      parts.push((c) => { for (let t = 0; t < wg; t++) { onThread(c, t); for (const f of r) f(c); } onThread(c, 0); });
      run = [];
    };
    for (const s of stmts) {
      if (!hasCollective([s])) { run.push(stmt(s)); continue; }
      flush();
      if (s.k === 'shfl' || s.k === 'mma') parts.push(collective(s));
      else if (s.k === 'for') {
        const slot = slotOf(s.v), from = ex(s.from), to = ex(s.to), body = block(s.body);
        parts.push((c) => {
          const end = to(c);
          for (let i = from(c); i < end; i++) {
            for (let t = 0; t < wg; t++) c.vars[t * stride + slot] = i;
            body(c);
          }
        });
      } else if (s.k === 'if') {
        const cond = ex(s.c), t = block(s.then), e = block(s.else ?? []);
        parts.push((c) => (cond(c) ? t(c) : e(c)));
      }
    }
    flush();
    return (c) => { for (const p of parts) p(c); };
  };

  const body = block(k.body);
  stride = Math.max(1, slots.size);
  const ctx: Ctx = { vars: new Float64Array(stride * wg), base: 0, lid: 0, gid: 0 };
  for (let g = 0; g < grid; g++) { ctx.gid = g; body(ctx); }
}
