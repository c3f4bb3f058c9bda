// C rendering for the CPU runtime. ABI of every kernel:
//   void <name>(void* const* bufs, const int64_t* args, int64_t wg_begin, int64_t wg_end);
// The runtime owns the threads and hands each one a range of workgroups; the
// threads of a workgroup are a loop here, split at every barrier, and
// workgroup memory is a local array.
import { Expr, Kernel, Stmt, hasBarrier, typeOf } from '../kernel/ir.js';
import { CFamilyRenderer, f32Literal } from './cfamily.js';
import { vectorBody } from './vectorize.js';
import type { Program } from '../program.js';

/** AVX-512's masked load per vector width: the condition it needs and the statement. */
const MASKED_LOAD: Readonly<Record<number, { when: string; code: string } | undefined>> = {
  16: { when: 'defined(__AVX512F__)', code: '  return (v16f)_mm512_maskz_loadu_ps((__mmask16)m, p);\n' },
  8: { when: 'defined(__AVX512F__) && defined(__AVX512VL__)', code: '  return (v8f)_mm256_maskz_loadu_ps((__mmask8)m, p);\n' },
};

/** `fallback`, or the intrinsic (builtin) code where the compiler defines what it needs. */
function withIntrinsic(intrinsic: { when: string; code: string } | undefined, fallback: string): string {
  return intrinsic ? `#if ${intrinsic.when}\n${intrinsic.code}#else\n${fallback}#endif\n` : fallback;
}

export class CRenderer extends CFamilyRenderer {
  readonly types = { f32: 'float', i32: 'int32_t', i64: 'int64_t', u32: 'uint32_t', bool: 'uint8_t' } as const;
  readonly bufTypes = { f32: 'float', i32: 'int32_t', bool: 'uint8_t' } as const;
  readonly unrollPragma = '#pragma GCC unroll 16';
  protected readonly popcount = (a: string): string => `((uint32_t)__builtin_popcount(${a}))`;
  protected readonly ctz = (a: string): string => this.helper('ctz32', a);

  constructor() {
    super();
    // __builtin_ctz(0) is undefined; the IR's ctz(0) is 32.
    this.helperDefs.ctz32 = 'static inline uint32_t ctz32(uint32_t x) { return x ? (uint32_t)__builtin_ctz(x) : 32u; }';
    for (const w of [4, 8, 16]) {
      this.helperDefs[`vec${w}`] = `typedef float v${w}f __attribute__((vector_size(${4 * w})));\n` +
        `static inline v${w}f vload${w}(const float* p) { v${w}f v; __builtin_memcpy(&v, p, sizeof v); return v; }\n` +
        `static inline void vstore${w}(float* p, v${w}f v) { __builtin_memcpy(p, &v, sizeof v); }\n` +
        // Lane l is p[l] where bit l of m is set, else 0; masked-off lanes are never read (they may
        // lie outside the buffer). AVX-512 loads under a mask without faulting; elsewhere a loop.
        `static inline v${w}f vload${w}_mask(const float* p, uint32_t m) {\n` +
        withIntrinsic(MASKED_LOAD[w], `  v${w}f v; for (int l = 0; l < ${w}; l++) v[l] = (m >> l) & 1u ? p[l] : 0.0f; return v;\n`) + '}\n' +
        // Lane l is p[2l] (a stride-2 convolution's run): two loads, p[0..w) and p[w-1..2w-1), and
        // one shuffle of their even elements; it reads p[0..2w-2], exactly the elements it returns' span.
        `static inline v${w}f vload${w}_s2(const float* p) {\n` +
        withIntrinsic({
          when: 'defined(__clang__) || __GNUC__ >= 12',
          code: `  v${w}f a = vload${w}(p), b = vload${w}(p + ${w - 1});\n` +
            `  return __builtin_shufflevector(a, b, ${Array.from({ length: w }, (_, l) => (l < w / 2 ? 2 * l : 2 * l + 1)).join(', ')});\n`,
        }, `  v${w}f v; for (int l = 0; l < ${w}; l++) v[l] = p[2 * l]; return v;\n`) + '}';
      // Lane l is a[l] where m[l] is set (all ones), else b[l]: a comparison's result picks lanes.
      this.helperDefs[`vsel_${w}`] = `typedef int32_t v${w}si __attribute__((vector_size(${4 * w})));\n` +
        `static inline v${w}f vsel${w}(v${w}si m, v${w}f a, v${w}f b) { return (v${w}f)(((v${w}si)a & m) | ((v${w}si)b & ~m)); }`;
      // Lane l is p[l·k] (elements a constant stride apart): a gather.
      this.helperDefs[`vsk_${w}`] = `static inline v${w}f vload${w}_sk(const float* p, int64_t k) { v${w}f v; for (int l = 0; l < ${w}; l++) v[l] = p[l * k]; return v; }`;
      // p[2l] = a[l], p[2l + 1] = b[l]: the two interleaved, as two vector stores.
      this.helperDefs[`vx2_${w}`] = `static inline void vstore${w}_x2(float* p, v${w}f a, v${w}f b) {\n` +
        withIntrinsic({
          when: 'defined(__clang__) || __GNUC__ >= 12',
          code: `  vstore${w}(p, __builtin_shufflevector(a, b, ${Array.from({ length: w }, (_, l) => (l % 2 ? w + (l >> 1) : l >> 1)).join(', ')}));\n` +
            `  vstore${w}(p + ${w}, __builtin_shufflevector(a, b, ${Array.from({ length: w }, (_, l) => (l % 2 ? w + w / 2 + (l >> 1) : w / 2 + (l >> 1))).join(', ')}));\n`,
        }, `  for (int l = 0; l < ${w}; l++) { p[2 * l] = a[l]; p[2 * l + 1] = b[l]; }\n`) + '}';
    }
  }

  /** The vector loop's helpers beyond loads and stores (render/vectorize.ts VectorTarget.use). */
  use(helper: 'sel' | 'x2' | 'sk', width: number): void { this.used.add(`v${helper}_${width}`); }

  address(e: { k: 'load' | 'lload' | 'store' | 'lstore'; idx: Expr; buf?: number; arr?: string }): string {
    return e.k === 'load' || e.k === 'store' ? `&B${e.buf}[${this.expr(e.idx)}]` : `&${this.arrayRef(e.arr!, e.idx)}`;
  }

  /** Read, keep in all cache levels (prefetcht0): measured against prefetcht1/t2 on a 64-channel 3×3 convolution at 200 × 304. */
  protected override prefetch(s: Extract<Stmt, { k: 'prefetch' }>, ind: string): string {
    return `${ind}__builtin_prefetch(&B${s.buf}[${this.expr(s.idx)}], 0, 3);\n`;
  }

  /** Loops marked `vector` become GCC vector-extension code where the body fits (render/vectorize.ts). */
  override stmt(s: Stmt, ind: string): string {
    if (s.k === 'for' && s.vector && s.body.every((b) => (b.k === 'store' || b.k === 'lstore' ? typeOf(b.v) === 'f32' : b.k === 'let'))) {
      const w = s.vector;
      const body = vectorBody(s, this, `v${w}f`, ind + '  ');
      if (body !== undefined) {
        this.used.add(`vec${w}`);
        const head = `for (int64_t ${s.v} = 0; ${s.v} < ${this.expr(s.to)}; ${s.v} += ${w}) {\n`;
        return `${s.unroll ? `${ind}${this.unrollPragma}\n` : ''}${ind}${head}${body}${ind}}\n`;
      }
    }
    return super.stmt(s, ind);
  }

  floatConst(v: number): string {
    if (Number.isNaN(v)) return 'NAN';
    if (!Number.isFinite(v)) return v > 0 ? 'INFINITY' : '(-INFINITY)';
    return f32Literal(v);
  }
  argRef(i: number): string { return `args[${i}]`; }
  protected barrier(): string { return ''; }

  prelude(): string {
    return '// Generated by fusedet (compiler/render/c.ts). Do not edit.\n#include <stdint.h>\n#include <math.h>\n#include <stdlib.h>\n' +
      '#if defined(__AVX512F__)\n#include <immintrin.h>\n#endif\n';
  }

  kernel(k: Kernel): string {
    const bufs = k.bufs.map((b, i) => {
      const t = this.bufTypes[b.dtype];
      return `  ${b.access === 'r' ? 'const ' : ''}${t}* restrict B${i} = (${b.access === 'r' ? 'const ' : ''}${t}*)bufs[${i}];\n`;
    }).join('');
    // Aligned explicitly: GCC 12 (-O3, AVX-512) was seen assuming 32-byte
    // alignment for a local array it had placed at 16 bytes (aligned vector
    // stores, a segfault); naming the alignment makes assumption and
    // placement agree.
    const locals = k.locals.map((a) => `    ${this.types[a.t]} ${a.name}[${a.size}] __attribute__((aligned(64)));\n`).join('');
    const barriers = hasBarrier(k.body);
    const regs = (ind: string, wg: number): string => k.regs.map((a) => `${ind}${this.types[a.t]} ${a.name}[${a.size * wg}] __attribute__((aligned(64)));\n`).join('');
    const wg = k.workgroupSize;
    const threadLoop = (body: string, ind: string): string =>
      wg === 1
        ? `${ind}{\n${ind}  const int64_t lid = 0;\n${barriers ? '' : regs(ind + '  ', 1)}${body}${ind}}\n`
        : `${ind}for (int64_t lid = 0; lid < ${wg}; lid++) {\n${barriers ? '' : regs(ind + '  ', 1)}${body}${ind}}\n`;
    const inner = this.split(k.body, '    ', threadLoop);
    // Register-tiled kernels (GEMM) may fuse multiply-adds: the runtime compiles with
    // -ffp-contract=off for reproducible elementwise code, which would halve GEMM peak.
    const attr = k.regs.length ? '__attribute__((optimize("fp-contract=fast")))\n' : '';
    return `${attr}void ${k.name}(void* const* bufs, const int64_t* args, int64_t wg_begin, int64_t wg_end) {\n${bufs}` +
      `  (void)args;\n  for (int64_t gid = wg_begin; gid < wg_end; gid++) {\n${locals}${barriers ? regs('    ', wg) : ''}${inner}  }\n}\n`;
  }
}

/** ONE translation unit holding every kernel of the program. */
export function renderC(program: Program): string {
  return new CRenderer().unit(program.kernels.map((k) => k.ir));
}
