// CUDA rendering: one .cu for the program, `extern "C" __global__` kernels
// with typed buffer pointers and int64 args; blockIdx.x is the workgroup,
// threadIdx.x the thread, workgroup memory is __shared__. Warp collectives
// become __shfl_xor_sync and inline-PTX mma.sync (helpers emitted only when
// used, so a unit without tensor-core kernels still builds for sm_75), and
// copy loops marked `vector` read 16-byte float4s where the source index is
// provably a multiple of 4 floats (Alignment below).
import { Expr, Kernel, MMA_SHAPES, Stmt } from '../kernel/ir.js';
import { add, idx } from '../kernel/build.js';
import { CFamilyRenderer, f32Literal } from './cfamily.js';
import { coefficient, mentions } from './vectorize.js';
import type { Program } from '../program.js';

// TF32/BF16 mma.sync and their conversions need sm_80: an older target gets
// a trap in their place (the schedule declines below capability 8.0, so such
// a kernel is only reached by a compile for the wrong device), and a unit
// stays compilable for every architecture.
const SM80 = (body: string): string => `#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800\n  __trap();\n#else\n${body}\n#endif\n`;
const MMA_HELPERS: Record<string, string> = {
  fd_tf32: `__device__ __forceinline__ unsigned fd_tf32(float x) {\n  unsigned r = 0;\n${SM80('  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));')}  return r;\n}`,
  // cvt.rn.bf16x2.f32 d, a, b puts a in the upper half: the lower-indexed element goes low.
  fd_bf16x2: `__device__ __forceinline__ unsigned fd_bf16x2(float lo, float hi) {\n  unsigned r = 0;\n${SM80('  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));')}  return r;\n}`,
  'm16n8k8.tf32': '__device__ __forceinline__ void fd_mma_m16n8k8_tf32(float& d0, float& d1, float& d2, float& d3, float a0, float a1, float a2, float a3, float b0, float b1) {\n' +
    SM80('  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"\n' +
    '    : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)\n' +
    '    : "r"(fd_tf32(a0)), "r"(fd_tf32(a1)), "r"(fd_tf32(a2)), "r"(fd_tf32(a3)), "r"(fd_tf32(b0)), "r"(fd_tf32(b1)));') + '}',
  // A and B already rounded to tf32 where they were stored (CudaRenderer.preRounded): their bits are the operands.
  'm16n8k8.tf32r': '__device__ __forceinline__ void fd_mma_m16n8k8_tf32r(float& d0, float& d1, float& d2, float& d3, float a0, float a1, float a2, float a3, float b0, float b1) {\n' +
    SM80('  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"\n' +
    '    : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)\n' +
    '    : "r"(__float_as_uint(a0)), "r"(__float_as_uint(a1)), "r"(__float_as_uint(a2)), "r"(__float_as_uint(a3)), "r"(__float_as_uint(b0)), "r"(__float_as_uint(b1)));') + '}',
  'm16n8k16.bf16': '__device__ __forceinline__ void fd_mma_m16n8k16_bf16(float& d0, float& d1, float& d2, float& d3, float a0, float a1, float a2, float a3, float a4, float a5, float a6, float a7, float b0, float b1, float b2, float b3) {\n' +
    SM80('  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"\n' +
    '    : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)\n' +
    '    : "r"(fd_bf16x2(a0, a1)), "r"(fd_bf16x2(a2, a3)), "r"(fd_bf16x2(a4, a5)), "r"(fd_bf16x2(a6, a7)), "r"(fd_bf16x2(b0, b1)), "r"(fd_bf16x2(b2, b3)));') + '}',
};

export class CudaRenderer extends CFamilyRenderer {
  readonly types = { f32: 'float', i32: 'int', i64: 'long long', u32: 'unsigned', bool: 'bool' } as const;
  readonly bufTypes = { f32: 'float', i32: 'int', bool: 'unsigned char' } as const;
  readonly unrollPragma = '#pragma unroll';
  protected readonly popcount = (a: string): string => `((unsigned)__popc(${a}))`;
  // Trailing zeros are the leading zeros of the bit-reversed word: __clz(0) = 32, the IR's ctz(0).
  protected readonly ctz = (a: string): string => `((unsigned)__clz(__brev(${a})))`;
  private align = new Alignment([]);
  private readOnly: readonly boolean[] = [];
  /**
   * Per-thread arrays read only as A/B operands of tf32 mmas: rounded once
   * where stored (cvt.rna is idempotent), not again at every mma that reads
   * them (an A fragment feeds NT mmas).
   */
  private preRounded = new Set<string>();

  constructor() {
    super();
    this.helperDefs.imax = '__device__ __forceinline__ long long imax(long long a, long long b) { return a > b ? a : b; }';
    this.helperDefs.imin = '__device__ __forceinline__ long long imin(long long a, long long b) { return a < b ? a : b; }';
    Object.assign(this.helperDefs, MMA_HELPERS);
    this.unary.abs = (a, t) => (t === 'f32' ? `fabsf(${a})` : t === 'i64' ? `llabs(${a})` : `abs(${a})`);
  }

  floatConst(v: number): string {
    if (Number.isNaN(v)) return '__int_as_float(0x7fffffff)';
    if (!Number.isFinite(v)) return v > 0 ? '__int_as_float(0x7f800000)' : '__int_as_float(0xff800000)';
    return f32Literal(v);
  }
  argRef(i: number): string { return `A${i}`; }
  protected barrier(ind: string): string { return `${ind}__syncthreads();\n`; }
  protected override arrayRef(arr: string, i: Parameters<CFamilyRenderer['expr']>[0]): string { return `${arr}[${this.expr(i)}]`; }

  protected override warpCollective(s: Extract<Stmt, { k: 'shfl' | 'mma' }>, ind: string): string {
    if (s.k === 'shfl') {
      const v = this.expr(s.v);
      const shfl = s.t === 'bool' ? `(__shfl_xor_sync(0xffffffffu, (int)${v}, ${s.xor}) != 0)` : `__shfl_xor_sync(0xffffffffu, ${v}, ${s.xor})`;
      return `${ind}${this.types[s.t]} ${s.name} = ${shfl};\n`;
    }
    const sh = MMA_SHAPES[s.shape];
    this.used.add(sh.input === 'tf32' ? 'fd_tf32' : 'fd_bf16x2');
    const el = (f: { arr: string; off: Expr }, n: number): string[] => Array.from({ length: n }, (_, i) => this.arrayRef(f.arr, add(f.off, idx(i))));
    const args = [...el(s.acc, sh.c), ...el(s.a, sh.a), ...el(s.b, sh.b)].join(', ');
    const fn = s.shape === 'm16n8k8.tf32' && this.preRounded.has(s.a.arr) && this.preRounded.has(s.b.arr) ? 'm16n8k8.tf32r' : s.shape;
    this.used.add(fn);
    return `${ind}fd_mma_${fn.replace('.', '_')}(${args});\n`;
  }

  /**
   * A `vector` loop copying f32 from a read-only buffer, every statement a
   * store of `B[base + j]` (unit stride) with `base` a provable multiple of 4:
   * one float4 load per 4 lanes. Buffers are separate cuMemAlloc blocks
   * (runtime-cuda/allocator.ts), so element 0 is 256-byte aligned.
   */
  override stmt(s: Stmt, ind: string): string {
    if (s.k === 'lstore' && this.preRounded.has(s.arr)) {
      this.used.add('fd_tf32');
      return `${ind}${this.arrayRef(s.arr, s.idx)} = __uint_as_float(fd_tf32(${this.expr(s.v)}));\n`;
    }
    if (s.k === 'for' && s.vector && s.vector % 4 === 0) {
      const fast = this.float4Copy(s, ind);
      if (fast !== undefined) return fast;
    }
    return super.stmt(s, ind);
  }

  private float4Copy(s: Extract<Stmt, { k: 'for' }>, ind: string): string | undefined {
    const j = s.v;
    const rows: { st: Extract<Stmt, { k: 'store' | 'lstore' }>; ld: Extract<Expr, { k: 'load' }> }[] = [];
    for (const st of s.body) {
      if (st.k !== 'store' && st.k !== 'lstore') return undefined;
      const ld = st.v;
      if (ld.k !== 'load' || ld.t !== 'f32' || !this.readOnly[ld.buf]) return undefined;
      if (coefficient(ld.idx, j) !== 1 || coefficient(st.idx, j) !== 1) return undefined;
      if (!this.align.multipleOf(ld.idx, 4, j)) return undefined;
      rows.push({ st, ld });
    }
    if (!rows.length) return undefined;
    const jv: Expr = { k: 'var', name: j, t: 'i64' };
    let body = '';
    rows.forEach(({ st, ld }, r) => {
      const q = `${j}_q${r}`;
      body += `${ind}  const float4 ${q} = __ldg(reinterpret_cast<const float4*>(&B${ld.buf}[${this.expr(ld.idx)}]));\n`;
      ['x', 'y', 'z', 'w'].forEach((lane, l) => {
        const at = substitute(st.idx, j, add(jv, idx(l)));
        const dst = st.k === 'store' ? `B${st.buf}[${this.expr(at)}]` : this.arrayRef(st.arr, at);
        body += `${ind}  ${dst} = ${q}.${lane};\n`;
      });
    });
    const head = `for (long long ${j} = 0; ${j} < ${this.expr(s.to)}; ${j} += 4) {\n`;
    return `${s.unroll ? `${ind}${this.unrollPragma}\n` : ''}${ind}${head}${body}${ind}}\n`;
  }

  prelude(): string { return '// Generated by fusedet (compiler/render/cuda.ts). Do not edit.\n'; }

  kernel(k: Kernel): string {
    this.align = new Alignment(k.body);
    this.preRounded = tf32Operands(k);
    this.readOnly = k.bufs.map((b) => b.access === 'r');
    const params = [
      ...k.bufs.map((b, i) => `${b.access === 'r' ? 'const ' : ''}${this.bufTypes[b.dtype]}* __restrict__ B${i}`),
      ...Array.from({ length: k.nargs }, (_, i) => `long long A${i}`),
    ].join(', ');
    const locals = k.locals.map((a) => `  __shared__ ${this.types[a.t]} ${a.name}[${a.size}];\n`).join('');
    const regs = k.regs.map((a) => `  ${this.types[a.t]} ${a.name}[${a.size}];\n`).join('');
    return `extern "C" __global__ void __launch_bounds__(${k.workgroupSize}) ${k.name}(${params}) {\n` +
      `  const long long gid = blockIdx.x;\n  const long long lid = threadIdx.x;\n${locals}${regs}` +
      // Barrier-free runs get a scope each: the IR lets no `let` cross a barrier, so names may repeat.
      `${this.split(k.body, '  ', (body, ind) => `${ind}{\n${body}${ind}}\n`)}}\n`;
  }
}

const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b));

/**
 * What every value of an i64 index expression is known to be a multiple of,
 * from the kernel's lets (a name bound several times counts all its values;
 * one assigned by `set`, a loop variable or a shuffle knows nothing). 0 means
 * always 0.
 */
class Alignment {
  private readonly defs = new Map<string, Expr[]>();
  private readonly memo = new Map<string, number>();

  constructor(body: readonly Stmt[]) {
    const walk = (ss: readonly Stmt[]): void => {
      for (const s of ss) {
        if (s.k === 'let' || s.k === 'set') this.def(s.name, s.k === 'let' && s.t === 'i64' ? s.v : undefined);
        else if (s.k === 'shfl') this.def(s.name, undefined);
        else if (s.k === 'for') { this.def(s.v, undefined); walk(s.body); }
        else if (s.k === 'if') { walk(s.then); walk(s.else ?? []); }
      }
    };
    walk(body);
  }

  private def(name: string, e: Expr | undefined): void {
    const list = this.defs.get(name) ?? [];
    list.push(e ?? { k: 'lid' });
    this.defs.set(name, list);
  }

  /** Divisor known for e, with variable `zero` (a loop counter stepping by the divisor) taken as 0. */
  divisor(e: Expr, zero?: string): number {
    switch (e.k) {
      case 'const': return e.t === 'i64' ? Math.abs(e.v) : 1;
      case 'var': {
        if (e.name === zero) return 0;
        const hit = this.memo.get(e.name);
        if (hit !== undefined) return hit;
        this.memo.set(e.name, 1); // a self-reference knows nothing
        const d = (this.defs.get(e.name) ?? [{ k: 'lid' } as Expr]).reduce((g, x) => gcd(g, this.divisor(x)), 0);
        this.memo.set(e.name, d);
        return d;
      }
      case 'bin': {
        if (e.t !== 'i64') return 1;
        const a = this.divisor(e.a, zero), b = this.divisor(e.b, zero);
        if (e.op === 'add' || e.op === 'sub') return gcd(a, b);
        if (e.op === 'mul') return a * b;
        return 1;
      }
      case 'sel': return gcd(this.divisor(e.a, zero), this.divisor(e.b, zero));
      default: return 1;
    }
  }

  multipleOf(e: Expr, n: number, zero?: string): boolean { return this.divisor(e, zero) % n === 0; }
}

/** Arrays that are A/B operands of tf32 mmas and nothing else (never read by an expression, never an accumulator or bf16 operand). */
function tf32Operands(k: Kernel): Set<string> {
  const ops = new Set<string>(), other = new Set<string>();
  const reads = (e: Expr): void => {
    switch (e.k) {
      case 'lload': other.add(e.arr); reads(e.idx); break;
      case 'load': reads(e.idx); break;
      case 'un': case 'cast': reads(e.a); break;
      case 'bin': reads(e.a); reads(e.b); break;
      case 'sel': reads(e.c); reads(e.a); reads(e.b); break;
      default: break;
    }
  };
  const walk = (ss: readonly Stmt[]): void => {
    for (const s of ss) {
      switch (s.k) {
        case 'let': case 'set': reads(s.v); break;
        case 'store': reads(s.idx); reads(s.v); break;
        case 'lstore': reads(s.idx); reads(s.v); break;
        case 'shfl': reads(s.v); break;
        case 'for': reads(s.from); reads(s.to); walk(s.body); break;
        case 'if': reads(s.c); walk(s.then); walk(s.else ?? []); break;
        case 'mma':
          other.add(s.acc.arr);
          for (const f of [s.a, s.b]) (s.shape === 'm16n8k8.tf32' ? ops : other).add(f.arr);
          break;
        case 'barrier': break;
        case 'prefetch': reads(s.idx); break;
      }
    }
  };
  walk(k.body);
  const locals = new Set(k.locals.map((a) => a.name));
  return new Set([...ops].filter((a) => !other.has(a) && !locals.has(a)));
}

/** e with variable `name` replaced by `by`. */
function substitute(e: Expr, name: string, by: Expr): Expr {
  if (!mentions(e, name)) return e;
  switch (e.k) {
    case 'var': return by;
    case 'bin': return e.t === 'i64' && e.op === 'add' ? add(substitute(e.a, name, by), substitute(e.b, name, by)) : { ...e, a: substitute(e.a, name, by), b: substitute(e.b, name, by) };
    case 'un': case 'cast': return { ...e, a: substitute(e.a, name, by) };
    case 'sel': return { ...e, c: substitute(e.c, name, by), a: substitute(e.a, name, by), b: substitute(e.b, name, by) };
    case 'load': case 'lload': return { ...e, idx: substitute(e.idx, name, by) };
    default: return e;
  }
}

/** ONE .cu translation unit holding every kernel of the program. */
export function renderCuda(program: Program): string {
  return new CudaRenderer().unit(program.kernels.map((k) => k.ir));
}
