// Renders a loop marked `vector: W` with GCC vector extensions, W lanes per
// step, when its body is a list of stores whose indices move by one element
// per iteration and whose values are arithmetic on such loads (or loads of
// every other element, or masked loads: see vexpr) and on loop-invariant
// scalars (a GEMM tile update: acc[i][j] += w * panel[k][j]).
// Anything else returns undefined and the caller renders the scalar loop.
import { Expr, Stmt } from '../kernel/ir.js';

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
}

/** Vector body text, or undefined when the loop does not fit the pattern. */
export function vectorBody(s: Extract<Stmt, { k: 'for' }>, t: VectorTarget, vtype: string, ind: string): string | undefined {
  const j = s.v, w = s.vector!;
  const vexpr = (e: Expr): { code: string; vec: boolean } | undefined => {
    if (!mentions(e, j)) return { code: t.expr(e), vec: false };
    switch (e.k) {
      case 'load': case 'lload': {
        if (e.t !== 'f32') return undefined;
        const step = coefficient(e.idx, j);
        // Every other element: a stride-2 convolution's packing run.
        if (step === 2 && e.k === 'load') return { code: `vload${w}_s2(${t.address(e)})`, vec: true };
        if (step !== 1) return undefined;
        return { code: `vload${w}(${t.address(e)})`, vec: true };
      }
      case 'sel': {
        // sel(bit j of an invariant word, a unit-stride load, 0): a masked load (a packing run with lanes outside the image).
        const word = laneBitWord(e.c, j), l = e.a;
        if (word === undefined || l.k !== 'load' || l.t !== 'f32' || coefficient(l.idx, j) !== 1 || e.b.k !== 'const' || e.b.v !== 0) return undefined;
        return { code: `vload${w}_mask(${t.address(l)}, (uint32_t)(${t.expr(word)} >> (((uint32_t)${j}) & 31u)))`, vec: true };
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
  for (const st of s.body) {
    if (st.k !== 'store' && st.k !== 'lstore') return undefined;
    if (coefficient(st.idx, j) !== 1) return undefined;
    const val = vexpr(st.v);
    if (!val) return undefined;
    const code = val.vec ? val.code : `((${vtype}){0} + ${val.code})`;
    out += `${ind}vstore${w}(${t.address(st)}, ${code});\n`;
  }
  return out;
}
