// Structural hash of a kernel: the compile-cache key. Everything that changes
// the generated code counts; the kernel's name does not (two launches of the
// same structure under different names share one compiled function).
import { createHash } from 'node:crypto';
import { Expr, Kernel, Stmt } from './ir.js';

export function canonicalExpr(e: Expr): string { return ex(e); }

function ex(e: Expr): string {
  switch (e.k) {
    case 'const': return `${e.t}:${Object.is(e.v, -0) ? '-0' : e.v}`;
    case 'arg': return `a${e.i}`;
    case 'gid': return 'G';
    case 'lid': return 'L';
    case 'var': return `$${e.name}`;
    case 'load': return `ld${e.buf}[${ex(e.idx)}]`;
    case 'lload': return `ll${e.arr}[${ex(e.idx)}]`;
    case 'un': return `${e.op}(${ex(e.a)})`;
    case 'bin': return `${e.op}(${ex(e.a)},${ex(e.b)})`;
    case 'sel': return `sel(${ex(e.c)},${ex(e.a)},${ex(e.b)})`;
    case 'cast': return `${e.t}(${ex(e.a)})`;
  }
}

function st(s: Stmt): string {
  switch (s.k) {
    case 'let': return `let ${s.name}:${s.t}=${ex(s.v)};`;
    case 'set': return `${s.name}=${ex(s.v)};`;
    case 'store': return `st${s.buf}[${ex(s.idx)}]=${ex(s.v)};`;
    case 'prefetch': return `pf${s.buf}[${ex(s.idx)}];`;
    case 'lstore': return `ls${s.arr}[${ex(s.idx)}]=${ex(s.v)};`;
    case 'for': return `for ${s.v} ${ex(s.from)}..${ex(s.to)}${s.unroll ? 'u' : ''}${s.vector ? `v${s.vector}` : ''}{${s.body.map(st).join('')}}`;
    case 'if': return `if ${ex(s.c)}{${s.then.map(st).join('')}}else{${(s.else ?? []).map(st).join('')}}`;
    case 'barrier': return s.storage ? 'SB;' : 'B;';
    case 'shfl': return `shfl ${s.name}:${s.t}=${ex(s.v)}^${s.xor};`;
    case 'mma': return `mma.${s.shape}(${s.acc.arr}[${ex(s.acc.off)}],${s.a.arr}[${ex(s.a.off)}],${s.b.arr}[${ex(s.b.off)}]);`;
  }
}

/** Canonical text of a kernel's structure (name excluded). */
export function canonical(k: Kernel): string {
  const arrays = (xs: Kernel['locals']): string => xs.map((a) => `${a.name}:${a.t}[${a.size}]${a.scalar ? 's' : ''}`).join(',');
  return `bufs(${k.bufs.map((b) => `${b.dtype}${b.access}`).join(',')})args${k.nargs}wg${k.workgroupSize}` +
    `local(${arrays(k.locals)})regs(${arrays(k.regs)}){${k.body.map(st).join('')}}`;
}

export function kernelHash(k: Kernel): string {
  return createHash('sha256').update(canonical(k)).digest('hex').slice(0, 16);
}
