// Renders a loop marked `vector: W` with GCC vector extensions, W lanes per
// step, when its body is a list of lets and stores: stores whose indices move
// by one element per iteration (or pairs at 2j and 2j + 1, stored
// interleaved), values that are arithmetic on loads moving by one, two
// (two loads and a shuffle) or a constant stride (a gather), masked loads, f32
// comparisons picking lanes, lets of such values, and loop-invariant scalars
// (a GEMM tile update: acc[i][j] += w * panel[k][j]; a Winograd transform;
// a max-pool tap). Anything else returns undefined and the caller renders
// the scalar loop.
import { Expr, Stmt, typeOf } from '../kernel/ir.js';

/** Coefficient of `name` in an affine index expression; NaN when not affine. */
export function coefficient(e: Expr, name: string): number {
  switch (e.k) {
    case 'var': return e.name === name ? 1 : 0;
    case 'const': case 'arg': case 'gid': case 'lid': return 0;
    case 'bin': {
      const a = coefficient(e.a, name), b = coefficient(e.b, name);
      if (e.op === 'add') return a + b;
      if (e.op === 'sub') return a - b;
      if (e.op === 'mul') {
        if (a === 0 && b === 0) return 0;
        if (a === 0 && e.a.k === 'const') return e.a.v * b;
        if (b === 0 && e.b.k === 'const') return e.b.v * a;
        return NaN;
      }
      return a === 0 && b === 0 ? 0 : NaN;
    }
    default: return mentions(e, name) ? NaN : 0;
  }
}

export function mentions(e: Expr, name: string): boolean {
  switch (e.k) {
    case 'var': return e.name === name;
    case 'const': case 'arg': case 'gid': case 'lid': return false;
    case 'load': case 'lload': return mentions(e.idx, name);
    case 'un': case 'cast': return mentions(e.a, name);
    case 'bin': return mentions(e.a, name) || mentions(e.b, name);
    case 'sel': return mentions(e.c, name) || mentions(e.a, name) || mentions(e.b, name);
  }
}

/** W when c is bitSet(W, cast(j, u32)) (kernel/build.ts) with W not depending on j; else undefined. */
function laneBitWord(c: Expr, j: string): Expr | undefined {
  if (c.k !== 'bin' || c.op !== 'ne' || c.b.k !== 'const' || c.b.v !== 0) return undefined;
  const masked = c.a;
  if (masked.k !== 'bin' || masked.op !== 'bitand' || masked.b.k !== 'const' || masked.b.v !== 1) return undefined;
  const shifted = masked.a;
  if (shifted.k !== 'bin' || shifted.op !== 'shr' || mentions(shifted.a, j)) return undefined;
  const n = shifted.b;
  return n.k === 'cast' && n.a.k === 'var' && n.a.name === j ? shifted.a : undefined;
}

export interface VectorTarget {
  expr(e: Expr): string;
  /** `&arr[idx]` / `&B3[idx]` as the scalar renderer writes the element. */
  address(e: { k: 'load' | 'lload' | 'store' | 'lstore'; idx: Expr; buf?: number; arr?: string }): string;
  /** A statement as the scalar renderer writes it (a loop-invariant let). */
  stmt(s: Stmt, ind: string): string;
  /** Marks a vector helper of `width` lanes used (its definition is then emitted): 'sel', 'x2', 'sk'. */
  use(helper: 'sel' | 'x2' | 'sk', width: number): void;
}

function readsBuffer(e: Expr, buf: number): boolean {
  switch (e.k) {
    case 'load': return e.buf === buf || readsBuffer(e.idx, buf);
    case 'lload': return readsBuffer(e.idx, buf);
    case 'un': case 'cast': return readsBuffer(e.a, buf);
    case 'bin': return readsBuffer(e.a, buf) || readsBuffer(e.b, buf);
    case 'sel': return readsBuffer(e.c, buf) || readsBuffer(e.a, buf) || readsBuffer(e.b, buf);
    default: return false;
  }
}

const F32_CMP: Readonly<Record<string, string>> = { lt: '<', le: '<=', gt: '>', ge: '>=', eq: '==', ne: '!=' };

/** b is a + 1 (the odd element of a pair whose even element is at a). */
const plusOne = (a: Expr, b: Expr): boolean => b.k === 'bin' && b.op === 'add' && b.b.k === 'const' && b.b.v === 1 && JSON.stringify(b.a) === JSON.stringify(a);

/**
 * Vector body text, or undefined when the loop does not fit the pattern. The
 * body may also hold lets: f32 ones that depend on the lanes become vector
 * values, others must not depend on them (rendered as they are); and pairs
 * of stores at 2j and 2j + 1 (a Winograd tile's two output columns), stored
 * interleaved.
 */
export function vectorBody(s: Extract<Stmt, { k: 'for' }>, t: VectorTarget, vtype: string, ind: string): string | undefined {
  const j = s.v, w = s.vector!;
  const vectors = new Set<string>();
  const lanes = (e: Expr): boolean => mentions(e, j) || [...vectors].some((n) => mentions(e, n));
  /** A value as a vector: an invariant scalar broadcast to every lane. */
  const broadcast = (x: { code: string; vec: boolean }): string => (x.vec ? x.code : `((${vtype}){0} + ${x.code})`);
  /** A lane mask (all ones where true): comparisons of f32 lanes, and their logical and / or. */
  const vmask = (c: Expr): string | undefined => {
    if (c.k !== 'bin') return undefined;
    if (c.op === 'and' || c.op === 'or') {
      const a = vmask(c.a), b = vmask(c.b);
      return a && b ? `(${a} ${c.op === 'and' ? '&' : '|'} ${b})` : undefined;
    }
    if (!(c.op in F32_CMP) || typeOf(c.a) !== 'f32') return undefined;
    const a = vexpr(c.a), b = vexpr(c.b);
    if (!a || !b) return undefined;
    return `(${broadcast(a)} ${F32_CMP[c.op]} ${broadcast(b)})`;
  };
  const vexpr = (e: Expr): { code: string; vec: boolean } | undefined => {
    if (!lanes(e)) return { code: t.expr(e), vec: false };
    switch (e.k) {
      case 'var': return vectors.has(e.name) ? { code: e.name, vec: true } : undefined;
      case 'load': case 'lload': {
        if (e.t !== 'f32' || [...vectors].some((n) => mentions(e.idx, n))) return undefined;
        const step = coefficient(e.idx, j);
        // Every other element: a stride-2 convolution's packing run.
        if (step === 2 && e.k === 'load') return { code: `vload${w}_s2(${t.address(e)})`, vec: true };
        // A constant larger stride (a filter's taps, 9 apart): element by element into the vector (a gather).
        if (Number.isInteger(step) && step > 2 && e.k === 'load') { t.use('sk', w); return { code: `vload${w}_sk(${t.address(e)}, ${step})`, vec: true }; }
        if (step !== 1) return undefined;
        return { code: `vload${w}(${t.address(e)})`, vec: true };
      }
      case 'sel': {
        // sel(bit j of an invariant word, a unit-stride load, 0): a masked load (a packing run with lanes outside the image).
        const word = laneBitWord(e.c, j), l = e.a;
        if (word !== undefined) {
          if (l.k !== 'load' || l.t !== 'f32' || coefficient(l.idx, j) !== 1 || e.b.k !== 'const' || e.b.v !== 0) return undefined;
          return { code: `vload${w}_mask(${t.address(l)}, (uint32_t)(${t.expr(word)} >> (((uint32_t)${j}) & 31u)))`, vec: true };
        }
        // A condition the same for every lane picks one vector (only that one's loads run, as in C).
        if (!lanes(e.c) && e.t === 'f32') {
          const [x, y] = [vexpr(e.a), vexpr(e.b)];
          return x && y ? { code: `(${t.expr(e.c)} ? ${broadcast(x)} : ${broadcast(y)})`, vec: true } : undefined;
        }
        // sel(a < b, x, y) on f32 lanes (a ReLU; a NaN-keeping max: x > m || x != x): the lane mask picks x or y.
        const m = vmask(e.c), x = vexpr(e.a), y = vexpr(e.b);
        if (e.t !== 'f32' || m === undefined || !x || !y) return undefined;
        t.use('sel', w);
        return { code: `vsel${w}(${m}, ${broadcast(x)}, ${broadcast(y)})`, vec: true };
      }
      case 'bin': {
        if (e.t !== 'f32' || !['add', 'sub', 'mul', 'div'].includes(e.op)) return undefined;
        const a = vexpr(e.a), b = vexpr(e.b);
        if (!a || !b) return undefined;
        const op = { add: '+', sub: '-', mul: '*', div: '/' }[e.op as 'add' | 'sub' | 'mul' | 'div'];
        return { code: `(${a.code} ${op} ${b.code})`, vec: a.vec || b.vec };
      }
      default: return undefined;
    }
  };
  let out = '';
  // A store of element 2j waits for its partner at 2j + 1 (the lets computing that one's value may come between).
  let pending: { st: Extract<Stmt, { k: 'store' }>; code: string } | undefined;
  for (const st of s.body) {
    if (st.k === 'let') {
      // A deferred store must not be read before it is written.
      if (pending && readsBuffer(st.v, pending.st.buf)) return undefined;
      if (!lanes(st.v)) { out += t.stmt(st, ind); continue; }
      if (st.t !== 'f32') return undefined;
      const val = vexpr(st.v);
      if (!val) return undefined;
      out += `${ind}${vtype} ${st.name} = ${broadcast(val)};\n`;
      vectors.add(st.name);
      continue;
    }
    if (st.k !== 'store' && st.k !== 'lstore') return undefined;
    if (typeOf(st.v) !== 'f32') return undefined;
    const step = coefficient(st.idx, j);
    const val = vexpr(st.v);
    if (!val) return undefined;
    const code = broadcast(val);
    if (pending) {
      // Elements 2j and 2j + 1 of one buffer: two interleaved vectors.
      if (st.k !== 'store' || st.buf !== pending.st.buf || !plusOne(pending.st.idx, st.idx)) return undefined;
      t.use('x2', w);
      out += `${ind}vstore${w}_x2(${t.address(pending.st)}, ${pending.code}, ${code});\n`;
      pending = undefined;
      continue;
    }
    if (step === 1) { out += `${ind}vstore${w}(${t.address(st)}, ${code});\n`; continue; }
    if (step !== 2 || st.k !== 'store') return undefined;
    pending = { st, code };
  }
  if (pending) return undefined;
  return out;
}
