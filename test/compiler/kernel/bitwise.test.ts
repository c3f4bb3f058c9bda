// u32 words and the bitwise ops of the kernel IR (ir.ts): validator rules,
// the interpreter against values computed here bit by bit, the renderings'
// text, and one kernel applying every op run by the interpreter, by cc, on
// the CPU runtime and on WebGPU (all equal to the expected values), and
// compiled by nvcc for sm_90 and sm_75 where nvcc is installed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Expr, Kernel, Stmt } from '../../../compiler/kernel/ir.js';
import {
  bin, bitSet, bitand, bitnot, bitor, bitxor, cast, ctz, f32, gid, i32, idx, if_, let_, lid, load, lt, popcount, shl, shr, store, u32, un, v, add, mul,
} from '../../../compiler/kernel/build.js';
import { validateKernel } from '../../../compiler/kernel/validate.js';
import { kernelHash } from '../../../compiler/kernel/hash.js';
import { runKernel } from '../../../compiler/kernel/interpret.js';
import { CRenderer } from '../../../compiler/render/c.js';
import { CudaRenderer } from '../../../compiler/render/cuda.js';
import { renderWgsl } from '../../../compiler/render/wgsl.js';
import { Program } from '../../../compiler/program.js';
import { GraphBuilder } from '../../../compiler/graph.js';
import { NO_SPAN } from '../../../compiler/types.js';
import { tensor } from '../../../compiler/tensor.js';
import { hasTool, nvccCompile, runC } from './toolchain.js';
import { oneLaunchProgram } from './graphs.js';
import { cpuOrSkip } from '../../helpers/skip.js';
import { openOrSkip } from '../../runtime-webgpu/open.js';

// Reference semantics, written independently of the interpreter: BigInt bit arithmetic.
const W = (x: number): bigint => BigInt(x >>> 0);
const N32 = (x: bigint): number => Number(BigInt.asUintN(32, x));
const EXPECT: Record<string, (a: number, b: number) => number> = {
  bitand: (a, b) => N32(W(a) & W(b)),
  bitor: (a, b) => N32(W(a) | W(b)),
  bitxor: (a, b) => N32(W(a) ^ W(b)),
  shl: (a, b) => N32(W(a) << BigInt((b >>> 0) % 32)),
  shr: (a, b) => N32(W(a) >> BigInt((b >>> 0) % 32)),
  bitnot: (a) => N32(~W(a)),
  popcount: (a) => [...(a >>> 0).toString(2)].filter((c) => c === '1').length,
  ctz: (a) => { const s = (a >>> 0).toString(2).padStart(32, '0'); const i = s.lastIndexOf('1'); return i < 0 ? 32 : 31 - i; },
  add: (a, b) => N32(W(a) + W(b)),
  sub: (a, b) => N32(W(a) - W(b)),
  mul: (a, b) => N32(W(a) * W(b)),
  div: (a, b) => N32(W(a) / (W(b) | 1n)),
  max: (a, b) => N32(W(a) > W(b) ? W(a) : W(b)),
  lt: (a, b) => (W(a) < W(b) ? 1 : 0),
  bit: (a, b) => Number((W(a) >> BigInt((b >>> 0) % 32)) & 1n),
  // u32 → i64 → back to i32 for the low 31 bits (u32 → i64 is exact only below 2^31: ir.ts)
  low31: (a) => (a >>> 0) & 0x7fffffff,
};
const OPS = Object.keys(EXPECT);

const ua: Expr = cast(load(0, v('i'), 'i32'), 'u32');
const ub: Expr = cast(load(1, v('i'), 'i32'), 'u32');
const EXPR: Record<string, Expr> = {
  bitand: bitand(ua, ub), bitor: bitor(ua, ub), bitxor: bitxor(ua, ub), shl: shl(ua, ub), shr: shr(ua, ub),
  bitnot: bitnot(ua), popcount: popcount(ua), ctz: ctz(ua),
  add: bin('add', ua, ub), sub: bin('sub', ua, ub), mul: bin('mul', ua, ub), div: bin('div', ua, bitor(ub, u32(1))),
  max: bin('max', ua, ub), lt: cast(lt(ua, ub), 'u32'), bit: cast(bitSet(ua, ub), 'u32'),
  low31: cast(cast(bitand(ua, u32(0x7fffffff)), 'i64'), 'u32'),
};

// Words with the top bit set (negative as i32), zero, all ones, single bits; shift counts 0..40 (>= 32 wraps).
const A = [0, 1, 2, 0x80000000 | 0, -1, 0x7fffffff, 0x12345678, 0xdeadbeef | 0, 0x00f000, 0x80, 6, 0xffff0000 | 0, 3, 0x40000000, 5, 0x55555555];
const B = [0, 1, 31, 32, 33, 40, 4, 7, 0x80000000 | 0, -1, 16, 12, 2, 30, 0x0f0f0f0f, 9];
const n = A.length;

/** out[op · n + i] = op(a[i], b[i]) as an i32 word, one thread per i. */
const ALL: Kernel = {
  name: 'k_bitwise', nargs: 0, workgroupSize: n, locals: [], regs: [],
  bufs: [{ dtype: 'i32', access: 'r' }, { dtype: 'i32', access: 'r' }, { dtype: 'i32', access: 'w' }],
  body: [
    let_('i', 'i64', add(mul(gid, idx(n)), lid)),
    ...OPS.map((op, o): Stmt => store(2, add(idx(o * n), v('i')), cast(EXPR[op], 'i32'))),
  ],
};

function expected(): Int32Array {
  const out = new Int32Array(OPS.length * n);
  OPS.forEach((op, o) => A.forEach((a, i) => { out[o * n + i] = EXPECT[op](a, B[i]) | 0; }));
  return out;
}

function check(got: ArrayLike<number>, where: string): void {
  const want = expected();
  OPS.forEach((op, o) => A.forEach((a, i) => {
    assert.is(got[o * n + i] >>> 0, want[o * n + i] >>> 0, `${where}: ${op}(0x${(a >>> 0).toString(16)}, 0x${(B[i] >>> 0).toString(16)})`);
  }));
}

test('validator: bitwise ops take u32 words only, with messages that say so', () => {
  validateKernel(ALL);
  const base: Kernel = { ...ALL, body: [] };
  const s = (e: Expr): Kernel => ({ ...base, body: [store(2, idx(0), e)] });
  const cases: [string, Kernel, RegExp][] = [
    ['bitand of i32', s(bin('bitand', i32(1), i32(2))), /bitand of i32: bitwise ops take u32 words/],
    ['shl of i64', s(cast(bin('shl', idx(1), idx(2)), 'i32')), /shl of i64: bitwise ops take u32 words/],
    ['popcount of f32', s(cast(un('popcount', f32(1)), 'i32')), /popcount of f32: bitwise ops take u32 words/],
    ['shift by an i32 count', s(cast(bin('shl', u32(1), i32(2)), 'i32')), /shl of u32 and i32/],
    ['logical not of a word', s(cast(un('not', u32(1)), 'i32')), /not of u32 \(not is logical; the bitwise complement is bitnot\)/],
    ['logical and of words', s(cast(bin('and', u32(1), u32(2)), 'i32')), /and of u32 \(and is logical; the bitwise one is bitand\)/],
    ['neg of a word', s(cast(un('neg', u32(1)), 'i32')), /neg of u32/],
    ['f32 to u32', s({ k: 'cast', t: 'i32', a: { k: 'cast', t: 'u32', a: f32(1.5) } }), /cast of f32 to u32: u32 words convert to and from integers only/],
    ['u32 to f32', { ...base, bufs: [{ dtype: 'f32', access: 'w' }], body: [store(0, idx(0), { k: 'cast', t: 'f32', a: u32(3) })] }, /cast of u32 to f32/],
    ['constant out of range', s({ k: 'cast', t: 'i32', a: { k: 'const', t: 'u32', v: 2 ** 32 } }), /u32 constant 4294967296 outside/],
    ['u32 stored into an i32 buffer', s(u32(1)), /store of u32 into i32 buffer/],
  ];
  for (const [what, k, re] of cases) assert.throws(() => validateKernel(k), re, what);
});

test('constructors type the results: popcount and ctz are u32 words, bitSet a bool; u32 constants wrap', () => {
  assert.is((popcount(ua) as { t: string }).t, 'u32');
  assert.is((ctz(ua) as { t: string }).t, 'u32');
  assert.is((bitSet(ua, ub) as { t: string }).t, 'bool');
  assert.equal(u32(-1), { k: 'const', t: 'u32', v: 0xffffffff });
});

test('interpreter: every op on u32 words equals its bit-by-bit value', () => {
  const out = new Int32Array(OPS.length * n);
  runKernel(ALL, [Int32Array.from(A), Int32Array.from(B), out], [], 1);
  check(out, 'interpreter');
});

test('interpreter: u32 per-thread and workgroup arrays keep words unsigned', () => {
  const k: Kernel = {
    name: 'k_words', nargs: 0, workgroupSize: 1, locals: [{ name: 'lw', t: 'u32', size: 1 }], regs: [{ name: 'rw', t: 'u32', size: 1 }],
    bufs: [{ dtype: 'i32', access: 'w' }],
    body: [
      { k: 'lstore', arr: 'lw', idx: idx(0), v: bitnot(u32(0)) },
      { k: 'lstore', arr: 'rw', idx: idx(0), v: shl(u32(1), u32(31)) },
      // Both above 2^31: compared as unsigned words, lw > rw.
      if_(bin('gt', { k: 'lload', arr: 'lw', idx: idx(0), t: 'u32' }, { k: 'lload', arr: 'rw', idx: idx(0), t: 'u32' }), [store(0, idx(0), i32(1))], [store(0, idx(0), i32(2))]),
    ],
  };
  validateKernel(k);
  const out = new Int32Array(1);
  runKernel(k, [out], [], 1);
  assert.is(out[0], 1);
});

test('renderings: C, CUDA and WGSL spell each op for their target (shift counts masked; helpers only when used)', () => {
  const c = new CRenderer().unit([ALL]);
  assert.match(c, /uint32_t/);
  assert.match(c, /\(\(\(uint32_t\)B0\[i\]\) << \(\(\(uint32_t\)B1\[i\]\) & 31u\)\)/);
  assert.match(c, /\(\(\(uint32_t\)B0\[i\]\) >> \(\(\(uint32_t\)B1\[i\]\) & 31u\)\)/);
  assert.match(c, /\(\(uint32_t\)imax\(/, 'the int64 imax helper narrowed back to a word');
  assert.match(c, /__builtin_popcount\(/);
  assert.match(c, /static inline uint32_t ctz32\(uint32_t x\) \{ return x \? \(uint32_t\)__builtin_ctz\(x\) : 32u; \}/);
  assert.match(c, /\(~\(\(uint32_t\)B0\[i\]\)\)/);
  assert.match(c, /2147483647u/);
  const cu = new CudaRenderer().unit([ALL]);
  assert.match(cu, /\(\(unsigned\)__popc\(/);
  assert.match(cu, /\(\(unsigned\)__clz\(__brev\(/);
  assert.match(cu, /\(\(\(unsigned\)B0\[i\]\) << \(\(\(unsigned\)B1\[i\]\) & 31u\)\)/);
  assert.not.match(cu, /ctz32/);
  const w = renderWgsl(ALL);
  assert.match(w, /countOneBits\(u32\(B0\[i\]\)\)/);
  assert.match(w, /countTrailingZeros\(u32\(B0\[i\]\)\)/);
  assert.match(w, /\(u32\(B0\[i\]\) << \(u32\(B1\[i\]\) & 31u\)\)/);
  assert.match(w, /B2\[\(\d+ \+ i\)\] = i32\(/);
  assert.not.match(w, /f32_max/, 'u32 max is WGSL max, not the NaN-aware float helper');
  const plain: Kernel = { ...ALL, body: [let_('i', 'i64', lid), store(2, v('i'), load(0, v('i'), 'i32'))] };
  assert.not.match(new CRenderer().unit([plain]), /ctz32/, 'no helper unless used');
});

test('structural hash sees the op and the u32 type', () => {
  const one = (e: Expr): Kernel => ({ ...ALL, body: [let_('i', 'i64', lid), store(2, v('i'), cast(e, 'i32'))] });
  assert.is.not(kernelHash(one(bitand(ua, ub))), kernelHash(one(bitor(ua, ub))));
  assert.is.not(kernelHash(one(shl(ua, u32(1)))), kernelHash(one(shr(ua, u32(1)))));
});

/** The kernel as a one-launch program over buffers a, b (inputs) and out. */
function program(): { program: Program; graph: GraphBuilder } {
  const g = new GraphBuilder();
  g.input('a', { dtype: 'i32', shape: [n] }, NO_SPAN);
  const bv = g.input('b', { dtype: 'i32', shape: [n] }, NO_SPAN);
  g.output('out', g.node('bitwise', [bv], {}, [{ dtype: 'i32', shape: [OPS.length * n] }], NO_SPAN, '')[0]);
  return {
    graph: g,
    program: oneLaunchProgram(ALL, [
      { name: 'a', role: 'input', dtype: 'i32', n }, { name: 'b', role: 'input', dtype: 'i32', n }, { name: 'out', role: 'output', dtype: 'i32', n: OPS.length * n },
    ], 1),
  };
}
const inputs = { a: tensor('i32', [n], A), b: tensor('i32', [n], B) };

(hasTool('cc') ? test : test.skip)('C rendering compiled by cc equals the bit-by-bit values', () => {
  const { program: p, graph } = program();
  check(runC(p, graph.graph, inputs, {}).out.data, 'cc');
});

const cpu = await cpuOrSkip();
cpu.test('CPU runtime equals the bit-by-bit values', async () => {
  const exe = await cpu.runtime!.load(program().program);
  try { check((await exe.run(inputs)).out.data, 'cpu runtime'); } finally { exe.dispose(); }
});

const gpu = await openOrSkip('test/compiler/kernel/bitwise.test.ts');
(gpu ? test : test.skip)('WebGPU runtime equals the bit-by-bit values', async () => {
  const exe = await gpu!.load(program().program);
  try { check((await exe.run(inputs)).out.data, 'webgpu'); } finally { exe.dispose(); }
});

(hasTool('nvcc') ? test : test.skip)('CUDA rendering compiles with nvcc for sm_90 and sm_75', () => {
  nvccCompile(new CudaRenderer().unit([ALL]));
});

test.run();
