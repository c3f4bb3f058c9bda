// The C-family renderer base: expressions and statements from tables, with
// the few target differences (types, constants, kernel signature, how the
// threads of a workgroup run, barriers) left to subclasses. Helper functions
// are emitted only when a kernel uses them.
import { BinaryOp, Expr, Kernel, Scalar, Stmt, UnaryOp, hasBarrier, typeOf } from '../kernel/ir.js';

export type Fmt1 = (a: string, t: Scalar) => string;
export type Fmt2 = (a: string, b: string, t: Scalar) => string;

const isInt = (t: Scalar): boolean => t === 'i32' || t === 'i64' || t === 'u32';

export abstract class CFamilyRenderer {
  abstract readonly types: Readonly<Record<Scalar, string>>;
  /** Element type of a buffer of this dtype (bool is a byte). */
  abstract readonly bufTypes: Readonly<Record<'f32' | 'i32' | 'bool', string>>;
  /** Set bits and trailing zeros of a u32 word (ctz(0) = 32): compiler builtins differ by target. */
  protected abstract readonly popcount: Fmt1;
  protected abstract readonly ctz: Fmt1;
  abstract readonly unrollPragma: string;
  abstract floatConst(v: number): string;
  abstract argRef(i: number): string;
  /** Whole function text for one kernel. */
  abstract kernel(k: Kernel): string;
  abstract prelude(): string;

  /** Helper name → definition; collected per translation unit. */
  protected readonly helperDefs: Record<string, string> = {
    imax: 'static inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }',
    imin: 'static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }',
  };
  protected used = new Set<string>();

  protected unary: Record<UnaryOp, Fmt1> = {
    neg: (a) => `(-${a})`,
    not: (a) => `(!${a})`,
    exp: (a) => `expf(${a})`,
    log: (a) => `logf(${a})`,
    sqrt: (a) => `sqrtf(${a})`,
    abs: (a, t) => (t === 'f32' ? `fabsf(${a})` : t === 'i64' ? `llabs(${a})` : `abs(${a})`),
    tanh: (a) => `tanhf(${a})`,
    floor: (a) => `floorf(${a})`,
    ceil: (a) => `ceilf(${a})`,
    sin: (a) => `sinf(${a})`,
    cos: (a) => `cosf(${a})`,
    isnan: (a) => `isnan(${a})`,
    bitnot: (a) => `(~${a})`,
    popcount: (a, t) => this.popcount(a, t),
    ctz: (a, t) => this.ctz(a, t),
  };

  protected binary: Record<BinaryOp, Fmt2> = {
    add: (a, b) => `(${a} + ${b})`,
    sub: (a, b) => `(${a} - ${b})`,
    mul: (a, b) => `(${a} * ${b})`,
    div: (a, b) => `(${a} / ${b})`,
    mod: (a, b, t) => (isInt(t) ? `(${a} % ${b})` : `fmodf(${a}, ${b})`),
    max: (a, b, t) => (isInt(t) ? this.word(t, this.helper('imax', `${a}, ${b}`)) : `fmaxf(${a}, ${b})`),
    min: (a, b, t) => (isInt(t) ? this.word(t, this.helper('imin', `${a}, ${b}`)) : `fminf(${a}, ${b})`),
    pow: (a, b) => `powf(${a}, ${b})`,
    lt: (a, b) => `(${a} < ${b})`,
    le: (a, b) => `(${a} <= ${b})`,
    gt: (a, b) => `(${a} > ${b})`,
    ge: (a, b) => `(${a} >= ${b})`,
    eq: (a, b) => `(${a} == ${b})`,
    ne: (a, b) => `(${a} != ${b})`,
    and: (a, b) => `(${a} && ${b})`,
    or: (a, b) => `(${a} || ${b})`,
    bitand: (a, b) => `(${a} & ${b})`,
    bitor: (a, b) => `(${a} | ${b})`,
    bitxor: (a, b) => `(${a} ^ ${b})`,
    // The IR takes shift counts mod 32 (WGSL's rule); C leaves a count >= 32 undefined.
    shl: (a, b) => `(${a} << (${b} & 31u))`,
    shr: (a, b) => `(${a} >> (${b} & 31u))`,
  };

  /** The int64 imax/imin helpers' result back as a u32 word, so later shifts see 32 bits. */
  private word(t: Scalar, e: string): string { return t === 'u32' ? `((${this.types.u32})${e})` : e; }

  protected helper(name: string, args: string): string {
    this.used.add(name);
    return `${name}(${args})`;
  }

  /** Per-thread arrays become [workgroup][size] when a barrier separates their uses. */
  protected regsShared = false;
  protected regSizes = new Map<string, number>();

  constant(t: Scalar, v: number): string {
    switch (t) {
      case 'f32': return this.floatConst(v);
      case 'bool': return v ? '1' : '0';
      case 'i32': return String(v | 0);
      case 'i64': return Math.abs(v) > 2147483647 ? `${v}LL` : String(v);
      case 'u32': return `${v >>> 0}u`;
    }
  }

  expr(e: Expr): string {
    switch (e.k) {
      case 'const': return this.constant(e.t, e.v);
      case 'arg': return this.argRef(e.i);
      case 'gid': return 'gid';
      case 'lid': return 'lid';
      case 'var': return e.name;
      case 'load': return `B${e.buf}[${this.expr(e.idx)}]`;
      case 'lload': return this.arrayRef(e.arr, e.idx);
      case 'un': return this.unary[e.op](this.expr(e.a), typeOf(e.a));
      case 'bin': return this.binary[e.op](this.expr(e.a), this.expr(e.b), typeOf(e.a));
      case 'sel': return `(${this.expr(e.c)} ? ${this.expr(e.a)} : ${this.expr(e.b)})`;
      case 'cast': return e.t === 'bool' ? `(${this.expr(e.a)} != 0)` : `((${this.types[e.t]})${this.expr(e.a)})`;
    }
  }

  protected arrayRef(arr: string, i: Expr): string {
    const size = this.regSizes.get(arr);
    if (size !== undefined && this.regsShared) return `${arr}[lid * ${size} + ${this.expr(i)}]`;
    return `${arr}[${this.expr(i)}]`;
  }

  stmt(s: Stmt, ind: string): string {
    switch (s.k) {
      case 'let': return `${ind}${this.types[s.t]} ${s.name} = ${this.expr(s.v)};\n`;
      case 'set': return `${ind}${s.name} = ${this.expr(s.v)};\n`;
      case 'store': return `${ind}B${s.buf}[${this.expr(s.idx)}] = ${this.expr(s.v)};\n`;
      case 'lstore': return `${ind}${this.arrayRef(s.arr, s.idx)} = ${this.expr(s.v)};\n`;
      case 'for': {
        const head = `for (${this.types.i64} ${s.v} = ${this.expr(s.from)}; ${s.v} < ${this.expr(s.to)}; ${s.v}++) {\n`;
        return `${s.unroll ? `${ind}${this.unrollPragma}\n` : ''}${ind}${head}${this.stmts(s.body, ind + '  ')}${ind}}\n`;
      }
      case 'if': {
        const els = s.else && s.else.length ? ` else {\n${this.stmts(s.else, ind + '  ')}${ind}}` : '';
        return `${ind}if (${this.expr(s.c)}) {\n${this.stmts(s.then, ind + '  ')}${ind}}${els}\n`;
      }
      case 'barrier': return this.barrier(ind);
      case 'prefetch': return this.prefetch(s, ind);
      case 'shfl': case 'mma': return this.warpCollective(s, ind);
    }
  }

  /** A cache hint: GPUs have no use for it (their schedules stage tiles in workgroup memory), so it renders to nothing. */
  protected prefetch(_s: Extract<Stmt, { k: 'prefetch' }>, _ind: string): string { return ''; }

  /** Warp collectives exist on CUDA only: every other target refuses them (no schedule for it emits them). */
  protected warpCollective(s: Extract<Stmt, { k: 'shfl' | 'mma' }>, _ind: string): string {
    throw new Error(`${this.constructor.name}: warp collective '${s.k}' is CUDA-only (a kernel scheduled for another target must not contain it)`);
  }

  stmts(ss: readonly Stmt[], ind: string): string { return ss.map((s) => this.stmt(s, ind)).join(''); }

  protected abstract barrier(ind: string): string;

  /** A statement list split at barriers, each barrier-free run inside `wrap` (the C thread loop). */
  protected split(ss: readonly Stmt[], ind: string, wrap: (body: string, ind: string) => string): string {
    let out = '';
    let run: Stmt[] = [];
    const flush = (): void => { if (run.length) out += wrap(this.stmts(run, ind + '  '), ind); run = []; };
    for (const s of ss) {
      if (!hasBarrier([s])) { run.push(s); continue; }
      flush();
      if (s.k === 'barrier') out += this.barrier(ind);
      else if (s.k === 'for') {
        out += `${ind}for (${this.types.i64} ${s.v} = ${this.expr(s.from)}; ${s.v} < ${this.expr(s.to)}; ${s.v}++) {\n${this.split(s.body, ind + '  ', wrap)}${ind}}\n`;
      } else if (s.k === 'if') {
        const els = s.else ? ` else {\n${this.split(s.else, ind + '  ', wrap)}${ind}}` : '';
        out += `${ind}if (${this.expr(s.c)}) {\n${this.split(s.then, ind + '  ', wrap)}${ind}}${els}\n`;
      }
    }
    flush();
    return out;
  }

  /** One translation unit for all kernels. */
  unit(kernels: readonly Kernel[]): string {
    this.used = new Set();
    const bodies = kernels.map((k) => {
      this.regSizes = new Map(k.regs.map((r) => [r.name, r.size]));
      this.regsShared = hasBarrier(k.body);
      return this.kernel(k);
    });
    const helpers = [...this.used].sort().map((h) => this.helperDefs[h]).join('\n');
    return `${this.prelude()}${helpers ? helpers + '\n' : ''}\n${bodies.join('\n')}`;
  }
}

/** Shortest decimal that reads back as the same f32, always with a decimal point. */
export function f32Literal(v: number): string {
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) {
      const n = Number(s);
      return Number.isInteger(n) && Math.abs(n) < 1e15 ? `${n.toFixed(1)}f` : `${s}f`;
    }
  }
  return `${v.toPrecision(9)}f`;
}
