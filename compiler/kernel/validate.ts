// Kernel IR validation, run after every scheduling pass in tests: types,
// scoping, buffer access modes, array bounds on constant indices, and the
// barrier rules the C renderer relies on, and where warp collectives may
// stand (see ir.ts).
import { BITWISE_BINARY, BITWISE_UNARY, Expr, Frag, Kernel, MMA_SHAPES, Scalar, Stmt, WARP, hasBarrier, hasWarpCollective, COMPARISONS } from './ir.js';

export class KernelIRError extends Error {
  constructor(kernel: string, message: string) {
    super(`kernel ${kernel}: ${message}`);
    this.name = 'KernelIRError';
  }
}

interface VarInfo { t: Scalar; uniform: boolean }

export function validateKernel(k: Kernel): void {
  const fail = (m: string): never => { throw new KernelIRError(k.name, m); };
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k.name)) fail(`bad name '${k.name}'`);
  if (!Number.isInteger(k.workgroupSize) || k.workgroupSize < 1 || k.workgroupSize > 1024) fail(`workgroupSize ${k.workgroupSize} out of 1..1024`);
  const arrays = new Map<string, { t: Scalar; size: number; local: boolean; scalar: boolean }>();
  for (const a of k.locals) {
    if (a.scalar) fail(`workgroup array '${a.name}' marked scalar (registers only)`);
    arrays.set(a.name, { t: a.t, size: a.size, local: true, scalar: false });
  }
  for (const a of k.regs) {
    if (arrays.has(a.name)) fail(`array '${a.name}' declared twice`);
    arrays.set(a.name, { t: a.t, size: a.size, local: false, scalar: a.scalar === true });
  }
  for (const [n, a] of arrays) if (!Number.isInteger(a.size) || a.size < 1) fail(`array '${n}' has size ${a.size}`);

  const expr = (e: Expr, env: Map<string, VarInfo>): { t: Scalar; uniform: boolean } => {
    switch (e.k) {
      case 'const':
        if (!Number.isFinite(e.v) && e.t !== 'f32') fail(`non-finite ${e.t} constant`);
        if ((e.t === 'i64' || e.t === 'i32') && Number.isFinite(e.v) && !Number.isInteger(e.v)) fail(`${e.t} constant ${e.v} is not an integer`);
        if (e.t === 'u32' && !(Number.isInteger(e.v) && e.v >= 0 && e.v <= 0xffffffff)) fail(`u32 constant ${e.v} outside 0..2^32-1`);
        return { t: e.t, uniform: true };
      case 'arg':
        if (e.i < 0 || e.i >= k.nargs) fail(`arg ${e.i} out of range (nargs ${k.nargs})`);
        return { t: 'i64', uniform: true };
      case 'gid': return { t: 'i64', uniform: true };
      case 'lid': return { t: 'i64', uniform: false };
      case 'var': {
        const vi = env.get(e.name) ?? fail(`variable '${e.name}' used outside its scope`);
        if (vi.t !== e.t) fail(`variable '${e.name}' is ${vi.t}, used as ${e.t}`);
        return { t: e.t, uniform: vi.uniform };
      }
      case 'load': {
        const b = k.bufs[e.buf] ?? fail(`load from buffer ${e.buf} of ${k.bufs.length}`);
        if (b.access === 'w') fail(`load from write-only buffer ${e.buf}`);
        if (b.dtype !== e.t) fail(`load of ${e.t} from ${b.dtype} buffer ${e.buf}`);
        const i = expr(e.idx, env);
        if (i.t !== 'i64') fail(`buffer index of type ${i.t}`);
        return { t: e.t, uniform: i.uniform };
      }
      case 'lload': {
        const a = arrays.get(e.arr) ?? fail(`unknown array '${e.arr}'`);
        if (a.t !== e.t) fail(`array '${e.arr}' is ${a.t}, read as ${e.t}`);
        const i = expr(e.idx, env);
        if (i.t !== 'i64') fail(`array index of type ${i.t}`);
        if (e.idx.k === 'const' && (e.idx.v < 0 || e.idx.v >= a.size)) fail(`'${e.arr}[${e.idx.v}]' out of bounds (${a.size})`);
        if (a.scalar && e.idx.k !== 'const') fail(`scalar register array '${e.arr}' read at a non-constant index`);
        return { t: e.t, uniform: a.local && i.uniform };
      }
      case 'un': {
        const a = expr(e.a, env);
        const want: Scalar = e.op === 'not' || e.op === 'isnan' ? 'bool' : a.t;
        if (e.op === 'not' && a.t !== 'bool') fail(`not of ${a.t}${a.t === 'u32' ? ' (not is logical; the bitwise complement is bitnot)' : ''}`);
        if (BITWISE_UNARY.has(e.op) && a.t !== 'u32') fail(`${e.op} of ${a.t}: bitwise ops take u32 words (cast to u32 first)`);
        if ((e.op === 'neg' || e.op === 'abs') && a.t === 'u32') fail(`${e.op} of u32 (unsigned words have no sign)`);
        if (['exp', 'log', 'sqrt', 'tanh', 'floor', 'ceil', 'sin', 'cos', 'isnan'].includes(e.op) && a.t !== 'f32') fail(`${e.op} of ${a.t}`);
        if (e.t !== want) fail(`${e.op} typed ${e.t}, expected ${want}`);
        return { t: e.t, uniform: a.uniform };
      }
      case 'bin': {
        const a = expr(e.a, env), b = expr(e.b, env);
        if (a.t !== b.t) fail(`${e.op} of ${a.t} and ${b.t}`);
        const want: Scalar = COMPARISONS.has(e.op) ? 'bool' : a.t;
        if (e.t !== want) fail(`${e.op} typed ${e.t}, expected ${want}`);
        if ((e.op === 'and' || e.op === 'or') && a.t !== 'bool') fail(`${e.op} of ${a.t}${a.t === 'u32' ? ` (${e.op} is logical; the bitwise one is bit${e.op})` : ''}`);
        if (BITWISE_BINARY.has(e.op) && a.t !== 'u32') fail(`${e.op} of ${a.t}: bitwise ops take u32 words (cast to u32 first)`);
        if (e.op === 'pow' && a.t !== 'f32') fail(`pow of ${a.t}`);
        return { t: e.t, uniform: a.uniform && b.uniform };
      }
      case 'sel': {
        const c = expr(e.c, env), a = expr(e.a, env), b = expr(e.b, env);
        if (c.t !== 'bool') fail(`select condition of type ${c.t}`);
        if (a.t !== b.t || a.t !== e.t) fail(`select arms ${a.t}/${b.t} typed ${e.t}`);
        return { t: e.t, uniform: c.uniform && a.uniform && b.uniform };
      }
      case 'cast': {
        const a = expr(e.a, env);
        if ((a.t === 'u32' && e.t === 'f32') || (a.t === 'f32' && e.t === 'u32')) fail(`cast of ${a.t} to ${e.t}: u32 words convert to and from integers only`);
        return { t: e.t, uniform: a.uniform };
      }
    }
  };

  const fragment = (f: Frag, size: number, env: Map<string, VarInfo>, what: string): void => {
    const a = arrays.get(f.arr) ?? fail(`mma ${what} fragment: unknown array '${f.arr}'`);
    if (a.local) fail(`mma ${what} fragment '${f.arr}' is workgroup memory; fragments are per-thread arrays`);
    if (a.t !== 'f32') fail(`mma ${what} fragment '${f.arr}' is ${a.t}, not f32`);
    if (expr(f.off, env).t !== 'i64') fail(`mma ${what} fragment offset not i64`);
    if (f.off.k === 'const' && (f.off.v < 0 || f.off.v + size > a.size)) fail(`mma ${what} fragment '${f.arr}[${f.off.v}..+${size}]' out of bounds (${a.size})`);
  };

  // A block: lets are per-thread and die at the next barrier of the block.
  const block = (stmts: readonly Stmt[], outer: Map<string, VarInfo>, uniformCtx: boolean): void => {
    const env = new Map(outer);
    const sinceBarrier: string[] = [];
    for (const s of stmts) {
      const barrierInside = s.k === 'barrier' || ((s.k === 'for' || s.k === 'if') && hasBarrier([s]));
      const collectiveInside = hasWarpCollective([s]);
      if (collectiveInside) {
        if (k.workgroupSize % WARP !== 0) fail(`warp collective in a kernel of ${k.workgroupSize} threads (not whole warps)`);
        if (!uniformCtx) fail('warp collective in non-uniform control flow');
      }
      if (barrierInside) {
        if (!uniformCtx) fail('barrier in non-uniform control flow');
        for (const n of sinceBarrier) env.delete(n);
        sinceBarrier.length = 0;
      }
      switch (s.k) {
        case 'let': {
          if (env.has(s.name)) fail(`variable '${s.name}' declared twice in one scope`);
          const r = expr(s.v, env);
          if (r.t !== s.t) fail(`let ${s.name}: ${s.t} = expression of type ${r.t}`);
          // Per-thread by construction in the C lowering; uniform only if its value is.
          env.set(s.name, { t: s.t, uniform: false });
          sinceBarrier.push(s.name);
          break;
        }
        case 'set': {
          const vi = env.get(s.name) ?? fail(`assignment to '${s.name}' outside its scope`);
          const r = expr(s.v, env);
          if (r.t !== vi.t) fail(`${s.name}: ${vi.t} assigned ${r.t}`);
          break;
        }
        case 'store': {
          const b = k.bufs[s.buf] ?? fail(`store to buffer ${s.buf} of ${k.bufs.length}`);
          if (b.access === 'r') fail(`store to read-only buffer ${s.buf}`);
          if (expr(s.idx, env).t !== 'i64') fail('store index not i64');
          const t = expr(s.v, env).t;
          if (t !== b.dtype) fail(`store of ${t} into ${b.dtype} buffer ${s.buf}`);
          break;
        }
        case 'prefetch': {
          if (!k.bufs[s.buf]) fail(`prefetch of buffer ${s.buf} of ${k.bufs.length}`);
          if (expr(s.idx, env).t !== 'i64') fail('prefetch index not i64');
          break;
        }
        case 'lstore': {
          const a = arrays.get(s.arr) ?? fail(`unknown array '${s.arr}'`);
          if (expr(s.idx, env).t !== 'i64') fail('array index not i64');
          if (s.idx.k === 'const' && (s.idx.v < 0 || s.idx.v >= a.size)) fail(`'${s.arr}[${s.idx.v}]' out of bounds (${a.size})`);
          if (a.scalar && s.idx.k !== 'const') fail(`scalar register array '${s.arr}' written at a non-constant index`);
          const t = expr(s.v, env).t;
          if (t !== a.t) fail(`store of ${t} into ${a.t} array '${s.arr}'`);
          break;
        }
        case 'for': {
          if (env.has(s.v)) fail(`loop variable '${s.v}' shadows a variable`);
          const f = expr(s.from, env), t = expr(s.to, env);
          if (f.t !== 'i64' || t.t !== 'i64') fail(`loop '${s.v}' bounds not i64`);
          const uni = f.uniform && t.uniform;
          if (s.vector !== undefined && !(s.from.k === 'const' && s.from.v === 0 && s.to.k === 'const' && s.to.v % s.vector === 0)) {
            fail(`loop '${s.v}' is marked vector ${s.vector} but its bounds are not 0..a multiple of it`);
          }
          if (barrierInside && !uni) fail(`loop '${s.v}' holds a barrier but its bounds vary by thread`);
          if (collectiveInside && !uni) fail(`loop '${s.v}' holds a warp collective but its bounds vary by thread`);
          const inner = new Map(env);
          inner.set(s.v, { t: 'i64', uniform: uni && uniformCtx });
          block(s.body, inner, uniformCtx && uni);
          break;
        }
        case 'if': {
          const c = expr(s.c, env);
          if (c.t !== 'bool') fail(`if condition of type ${c.t}`);
          if (barrierInside && !c.uniform) fail('if holds a barrier but its condition varies by thread');
          if (collectiveInside && !c.uniform) fail('if holds a warp collective but its condition varies by thread');
          block(s.then, env, uniformCtx && c.uniform);
          if (s.else) block(s.else, env, uniformCtx && c.uniform);
          break;
        }
        case 'barrier': break;
        case 'shfl': {
          if (env.has(s.name)) fail(`variable '${s.name}' declared twice in one scope`);
          if (!Number.isInteger(s.xor) || s.xor < 1 || s.xor >= WARP) fail(`shfl xor mask ${s.xor} out of 1..${WARP - 1}`);
          const r = expr(s.v, env);
          if (r.t !== s.t) fail(`shfl ${s.name}: ${s.t} = expression of type ${r.t}`);
          env.set(s.name, { t: s.t, uniform: false });
          sinceBarrier.push(s.name);
          break;
        }
        case 'mma': {
          const sh = MMA_SHAPES[s.shape] ?? fail(`unknown mma shape '${s.shape}'`);
          fragment(s.acc, sh.c, env, 'accumulator');
          fragment(s.a, sh.a, env, 'A');
          fragment(s.b, sh.b, env, 'B');
          break;
        }
      }
    }
  };
  block(k.body, new Map(), true);
}
