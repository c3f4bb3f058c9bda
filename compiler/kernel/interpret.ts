// Runs kernel IR in plain TypeScript, with the same semantics as the C
// rendering (threads of a workgroup run one after another between barriers,
// f32 arithmetic rounded after every op, C integer division), so a scheduling
// bug shows up here without any compiler. Expressions are compiled once to
// closures over a slot array: fast enough for the property tests.
import { BinaryOp, Expr, Kernel, Scalar, Stmt, UnaryOp, hasBarrier } from './ir.js';
import { TensorData } from '../tensor.js';

interface Ctx { vars: Float64Array; lid: number; gid: number }
type Fn = (c: Ctx) => number;
type Run = (c: Ctx) => void;

const fr = Math.fround;

function wrap(t: Scalar, f: Fn): Fn {
  if (t === 'f32') return (c) => fr(f(c));
  if (t === 'i32') return (c) => f(c) | 0;
  return f;
}

const UN: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x, not: (x) => (x ? 0 : 1), exp: Math.exp, log: Math.log, sqrt: Math.sqrt, abs: Math.abs,
  tanh: Math.tanh, floor: Math.floor, ceil: Math.ceil, sin: Math.sin, cos: Math.cos, isnan: (x) => (Number.isNaN(x) ? 1 : 0),
};

// fmaxf/fminf semantics: a NaN operand loses to a number.
const fmax = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b));
const fmin = (a: number, b: number): number => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b));

function binFn(op: BinaryOp, t: Scalar): (a: number, b: number) => number {
  const int = t === 'i32' || t === 'i64';
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    case 'mul': return t === 'i32' ? Math.imul : (a, b) => a * b;
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
  }
}

function castFn(t: Scalar, f: Fn): Fn {
  switch (t) {
    case 'f32': return (c) => fr(f(c));
    case 'bool': return (c) => (f(c) !== 0 ? 1 : 0);
    // C float→int conversion truncates toward zero.
    case 'i32': return (c) => Math.trunc(f(c)) | 0;
    case 'i64': return (c) => Math.trunc(f(c));
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
      case 'var': { const s = slotOf(e.name); return (c) => c.vars[s]; }
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

  const storeConv = (t: Scalar): ((x: number) => number) => (t === 'f32' ? fr : t === 'i32' ? (x) => x | 0 : (x) => x);

  // Barrier-free statement compiled for one thread.
  const stmt = (s: Stmt): Run => {
    switch (s.k) {
      case 'let': case 'set': {
        const slot = slotOf(s.name), f = ex(s.v);
        return (c) => { c.vars[slot] = f(c); };
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
          for (let i = from(c); i < end; i++) { c.vars[slot] = i; for (const r of body) r(c); }
        };
      }
      case 'if': {
        const cond = ex(s.c), t = s.then.map(stmt), e = (s.else ?? []).map(stmt);
        return (c) => { if (cond(c)) for (const r of t) r(c); else for (const r of e) r(c); };
      }
      case 'barrier': return () => {};
    }
  };

  // A block with barriers: barrier-free runs execute thread by thread; a
  // statement holding a barrier is uniform and runs once, recursing.
  const block = (stmts: readonly Stmt[]): Run => {
    const parts: Run[] = [];
    let run: Run[] = [];
    const flush = (): void => {
      if (!run.length) return;
      const r = run;
      parts.push((c) => { for (let t = 0; t < wg; t++) { c.lid = t; for (const f of r) f(c); } c.lid = 0; });
      run = [];
    };
    for (const s of stmts) {
      if (!hasBarrier([s])) { run.push(stmt(s)); continue; }
      flush();
      if (s.k === 'for') {
        const slot = slotOf(s.v), from = ex(s.from), to = ex(s.to), body = block(s.body);
        parts.push((c) => { const end = to(c); for (let i = from(c); i < end; i++) { c.vars[slot] = i; body(c); } });
      } else if (s.k === 'if') {
        const cond = ex(s.c), t = block(s.then), e = block(s.else ?? []);
        parts.push((c) => (cond(c) ? t(c) : e(c)));
      }
    }
    flush();
    return (c) => { for (const p of parts) p(c); };
  };

  const body = block(k.body);
  const ctx: Ctx = { vars: new Float64Array(Math.max(1, slots.size)), lid: 0, gid: 0 };
  for (let g = 0; g < grid; g++) { ctx.gid = g; body(ctx); }
}
