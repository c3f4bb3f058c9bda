// Warp collectives in the kernel IR: the mma fragment layouts against the
// PTX ISA tables (transcribed here independently of ir.ts), the
// interpreter's lane-collective semantics (butterfly shuffles, one warp's
// mma, tf32/bf16 rounding), the validator's rules, the C and WGSL refusals,
// and the CUDA rendering compiled by nvcc for sm_90 and sm_75 (with the
// float4 copy where alignment is provable, and only there).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kernel, MMA_SHAPES, MmaShape, Stmt, fragCoord, hasCollective } from '../../../compiler/kernel/ir.js';
import {
  add, bin, div, f32, for_, gid, idx, if_, let_, lid, load, lload, lstore, lt, mma, mod, mul, set, shflXor, store, v,
} from '../../../compiler/kernel/build.js';
import { validateKernel } from '../../../compiler/kernel/validate.js';
import { kernelHash } from '../../../compiler/kernel/hash.js';
import { roundBf16, roundTf32, runKernel } from '../../../compiler/kernel/interpret.js';
import { CRenderer } from '../../../compiler/render/c.js';
import { CudaRenderer } from '../../../compiler/render/cuda.js';
import { renderWgsl } from '../../../compiler/render/wgsl.js';
import { hasTool, nvccCompile } from './toolchain.js';

test('fragment layouts match the PTX ISA tables (mma.m16n8k8 .tf32, mma.m16n8k16 .bf16)', () => {
  // Lane 5: groupID 1, threadID_in_group 1. Lane 30: groupID 7, threadID_in_group 2.
  const want: [MmaShape, 'a' | 'b' | 'c', number, [number, number][]][] = [
    ['m16n8k8.tf32', 'a', 5, [[1, 1], [9, 1], [1, 5], [9, 5]]],
    ['m16n8k8.tf32', 'b', 5, [[1, 1], [5, 1]]],
    ['m16n8k8.tf32', 'c', 5, [[1, 2], [1, 3], [9, 2], [9, 3]]],
    ['m16n8k8.tf32', 'a', 30, [[7, 2], [15, 2], [7, 6], [15, 6]]],
    ['m16n8k16.bf16', 'a', 5, [[1, 2], [1, 3], [9, 2], [9, 3], [1, 10], [1, 11], [9, 10], [9, 11]]],
    ['m16n8k16.bf16', 'b', 5, [[2, 1], [3, 1], [10, 1], [11, 1]]],
    ['m16n8k16.bf16', 'a', 30, [[7, 4], [7, 5], [15, 4], [15, 5], [7, 12], [7, 13], [15, 12], [15, 13]]],
    ['m16n8k16.bf16', 'b', 30, [[4, 7], [5, 7], [12, 7], [13, 7]]],
    ['m16n8k16.bf16', 'c', 30, [[7, 4], [7, 5], [15, 4], [15, 5]]],
  ];
  for (const [shape, which, lane, coords] of want) {
    assert.equal(coords.map((_, i) => fragCoord(shape, which, lane, i)), coords, `${shape} ${which} lane ${lane}`);
  }
  // Each layout covers its matrix exactly once over the 32 lanes.
  for (const shape of Object.keys(MMA_SHAPES) as MmaShape[]) {
    const sh = MMA_SHAPES[shape];
    for (const [which, rows, cols, n] of [['a', sh.m, sh.k, sh.a], ['b', sh.k, sh.n, sh.b], ['c', sh.m, sh.n, sh.c]] as const) {
      const seen = new Set<string>();
      for (let lane = 0; lane < 32; lane++) for (let i = 0; i < n; i++) {
        const [r, c] = fragCoord(shape, which, lane, i);
        assert.ok(r >= 0 && r < rows && c >= 0 && c < cols, `${shape} ${which} in range`);
        seen.add(`${r},${c}`);
      }
      assert.is(seen.size, rows * cols, `${shape} ${which} covers the matrix`);
    }
  }
});

test('tf32 rounds to nearest with ties away from zero (cvt.rna), bf16 to nearest even', () => {
  assert.is(roundTf32(1 + 2 ** -11), 1 + 2 ** -10, 'tie away from zero');
  assert.is(roundTf32(-(1 + 2 ** -11)), -(1 + 2 ** -10));
  assert.is(roundTf32(1 + 2 ** -12), 1);
  assert.is(roundTf32(1 + 3 * 2 ** -12), 1 + 2 ** -10);
  assert.is(roundBf16(1 + 2 ** -8), 1, 'tie to even (down)');
  assert.is(roundBf16(1 + 3 * 2 ** -8), 1 + 2 ** -6, 'tie to even (up)');
  assert.is(roundBf16(1 + 2 ** -8 + 2 ** -12), 1 + 2 ** -7);
  assert.ok(Number.isNaN(roundTf32(NaN)) && Number.isNaN(roundBf16(NaN)));
  assert.is(roundTf32(Infinity), Infinity);
  assert.is(roundBf16(-Infinity), -Infinity);
});

/** Every lane gets its warp's sum of x by a 5-step butterfly; lets live across the shuffles. */
function butterfly(wg = 64): Kernel {
  const body: Stmt[] = [
    let_('i', 'i64', add(mul(gid, idx(wg)), lid)),
    let_('s', 'f32', load(0, v('i'), 'f32')),
  ];
  for (const m of [16, 8, 4, 2, 1]) body.push(shflXor(`o${m}`, v('s', 'f32'), m), set('s', bin('add', v('s', 'f32'), v(`o${m}`, 'f32'))));
  body.push(store(1, v('i'), v('s', 'f32')));
  return { name: 'k0_butterfly', bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }], nargs: 0, workgroupSize: wg, locals: [], regs: [], body };
}

test('interpreter: shuffle-xor butterfly gives every lane its warp total', () => {
  const k = butterfly();
  validateKernel(k);
  const x = Float32Array.from({ length: 128 }, (_, i) => (i % 7) - 3 + i / 64);
  const y = new Float32Array(128);
  runKernel(k, [x, y], [], 2);
  for (let w = 0; w < 4; w++) {
    let s = 0;
    for (let l = 0; l < 32; l++) s += x[w * 32 + l];
    for (let l = 0; l < 32; l++) assert.ok(Math.abs(y[w * 32 + l] - s) < 1e-4, `warp ${w} lane ${l}: ${y[w * 32 + l]} vs ${s}`);
  }
});

/**
 * One warp: D (16×8) = A (16×K) · B (K×8) with fragments loaded by the
 * formulas written here from the PTX text, stored back through C's layout.
 */
function oneMma(shape: MmaShape): Kernel {
  const sh = MMA_SHAPES[shape];
  const g = div(lid, idx(4)), t = mod(lid, idx(4));
  const aAt = (i: number): [ReturnType<typeof add>, ReturnType<typeof add>] => shape === 'm16n8k8.tf32'
    ? [add(g, idx(i % 2 ? 8 : 0)), add(t, idx(i >= 2 ? 4 : 0))]
    : [add(g, idx(i % 4 >= 2 ? 8 : 0)), add(mul(t, idx(2)), idx((i % 2) + (i >= 4 ? 8 : 0)))];
  const bAt = (i: number): [ReturnType<typeof add>, ReturnType<typeof add>] => shape === 'm16n8k8.tf32'
    ? [add(t, idx(i ? 4 : 0)), g]
    : [add(mul(t, idx(2)), idx((i % 2) + (i >= 2 ? 8 : 0))), g];
  const cAt = (i: number): [ReturnType<typeof add>, ReturnType<typeof add>] => [add(g, idx(i >= 2 ? 8 : 0)), add(mul(t, idx(2)), idx(i % 2))];
  const body: Stmt[] = [];
  for (let i = 0; i < sh.a; i++) { const [r, c] = aAt(i); body.push(lstore('fa', idx(i), load(0, add(mul(r, idx(sh.k)), c), 'f32'))); }
  for (let i = 0; i < sh.b; i++) { const [r, c] = bAt(i); body.push(lstore('fb', idx(i), load(1, add(mul(r, idx(8)), c), 'f32'))); }
  for (let i = 0; i < sh.c; i++) { const [r, c] = cAt(i); body.push(lstore('acc', idx(i), load(2, add(mul(r, idx(8)), c), 'f32'))); }
  body.push(mma(shape, 'acc', idx(0), 'fa', idx(0), 'fb', idx(0)));
  for (let i = 0; i < sh.c; i++) { const [r, c] = cAt(i); body.push(store(3, add(mul(r, idx(8)), c), lload('acc', idx(i), 'f32'))); }
  return {
    name: `k0_mma_${shape.replace('.', '_')}`, bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }],
    nargs: 0, workgroupSize: 32, locals: [], body,
    regs: [{ name: 'acc', t: 'f32', size: sh.c }, { name: 'fa', t: 'f32', size: sh.a }, { name: 'fb', t: 'f32', size: sh.b }],
  };
}

test('interpreter: one warp mma equals A·B + C with inputs rounded to tf32 / bf16', () => {
  for (const shape of Object.keys(MMA_SHAPES) as MmaShape[]) {
    const sh = MMA_SHAPES[shape], round = sh.input === 'tf32' ? roundTf32 : roundBf16;
    const k = oneMma(shape);
    validateKernel(k);
    const A = Float32Array.from({ length: 16 * sh.k }, (_, i) => Math.sin(i * 1.7) * 3);
    const B = Float32Array.from({ length: sh.k * 8 }, (_, i) => Math.cos(i * 0.9));
    const C = Float32Array.from({ length: 128 }, (_, i) => i / 16 - 4);
    const D = new Float32Array(128);
    runKernel(k, [A, B, C, D], [], 1);
    let rawErr = 0;
    for (let r = 0; r < 16; r++) for (let c = 0; c < 8; c++) {
      let want = C[r * 8 + c], raw = want;
      for (let kk = 0; kk < sh.k; kk++) { want += round(A[r * sh.k + kk]) * round(B[kk * 8 + c]); raw += A[r * sh.k + kk] * B[kk * 8 + c]; }
      assert.ok(Math.abs(D[r * 8 + c] - want) < 1e-5, `${shape} D[${r},${c}] = ${D[r * 8 + c]}, want ${want}`);
      rawErr = Math.max(rawErr, Math.abs(D[r * 8 + c] - raw));
    }
    assert.ok(rawErr > 0, `${shape}: the inputs really were rounded`);
  }
});

test('validator: warp collectives need uniform control flow, whole warps and per-thread f32 fragments', () => {
  const base = oneMma('m16n8k8.tf32');
  const cases: [string, Kernel, RegExp][] = [
    ['shfl under a thread-dependent if', { ...butterfly(), body: [if_(lt(lid, idx(3)), [shflXor('o', f32(1), 1)])] }, /warp collective but its condition varies/],
    ['shfl in a loop with thread-dependent bounds', { ...butterfly(), body: [for_('r', idx(0), lid, [shflXor('o', f32(1), 1)])] }, /warp collective but its bounds vary/],
    ['not whole warps', { ...butterfly(), workgroupSize: 48 }, /not whole warps/],
    ['xor mask 32', { ...butterfly(), body: [shflXor('o', f32(1), 32)] }, /xor mask 32/],
    ['fragment in workgroup memory', { ...base, locals: [{ name: 'sh', t: 'f32', size: 64 }], body: [mma('m16n8k8.tf32', 'acc', idx(0), 'sh', idx(0), 'fb', idx(0))] }, /workgroup memory/],
    ['fragment past the array', { ...base, body: [mma('m16n8k8.tf32', 'acc', idx(1), 'fa', idx(0), 'fb', idx(0))] }, /out of bounds/],
  ];
  for (const [what, k, re] of cases) assert.throws(() => validateKernel(k), re, what);
  assert.ok(hasCollective(base.body));
});

test('hash: the mma shape and the shuffle mask are structure', () => {
  const a = oneMma('m16n8k8.tf32');
  const swap = (s: Stmt): Stmt => (s.k === 'mma' ? { ...s, shape: 'm16n8k16.bf16' } : s);
  assert.is.not(kernelHash(a), kernelHash({ ...a, body: a.body.map(swap) }));
  const b = butterfly();
  const remask = (s: Stmt): Stmt => (s.k === 'shfl' && s.xor === 16 ? { ...s, xor: 8 } : s);
  assert.is.not(kernelHash(b), kernelHash({ ...b, body: b.body.map(remask) }));
});

test('C and WGSL refuse warp collectives: CUDA-only', () => {
  assert.throws(() => new CRenderer().unit([butterfly()]), /CUDA-only/);
  assert.throws(() => new CRenderer().unit([oneMma('m16n8k8.tf32')]), /CUDA-only/);
  assert.throws(() => renderWgsl(butterfly()), /CUDA-only/);
});

/** A vector-hinted copy of 16 floats from B0[base + j] into workgroup memory. */
function copy(offset: number): Kernel {
  return {
    name: `k0_copy${offset}`, bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }], nargs: 0, workgroupSize: 1,
    locals: [{ name: 'sh', t: 'f32', size: 16 }], regs: [],
    body: [
      let_('base', 'i64', add(mul(gid, idx(64)), idx(offset))),
      for_('j', idx(0), idx(16), [lstore('sh', v('j'), load(0, add(v('base'), v('j')), 'f32'))], false, 16),
      store(1, gid, lload('sh', idx(3), 'f32')),
    ],
  };
}

test('CUDA: float4 loads exactly where the source index is a provable multiple of 4', () => {
  const aligned = new CudaRenderer().unit([copy(8)]);
  assert.match(aligned, /__ldg\(reinterpret_cast<const float4\*>\(&B0\[\(base \+ j\)\]\)\)/);
  assert.match(aligned, /j \+= 4/);
  for (const off of [1, 2, 6]) assert.not.match(new CudaRenderer().unit([copy(off)]), /float4/, `offset ${off}`);
  const x = Float32Array.from({ length: 200 }, (_, i) => i);
  const y = new Float32Array(2);
  runKernel(copy(8), [x, y], [], 2);
  assert.equal([...y], [11, 75], 'the scalar semantics are unchanged');
});

const haveNvcc = hasTool('nvcc');
(haveNvcc ? test : test.skip)('CUDA: shuffles, tf32 and bf16 mma, float4 copies compile with nvcc for sm_90 and sm_75', () => {
  const unit = new CudaRenderer().unit([butterfly(), oneMma('m16n8k8.tf32'), oneMma('m16n8k16.bf16'), copy(4)]);
  for (const text of ['__shfl_xor_sync(0xffffffffu, s, 16)', 'mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32', 'mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32', 'cvt.rna.tf32.f32', 'cvt.rn.bf16x2.f32', 'float4']) {
    assert.ok(unit.includes(text), text);
  }
  const usage = nvccCompile(unit);
  for (const arch of ['sm_90', 'sm_75']) assert.match(usage, new RegExp(`Compiling entry function 'k0_mma_m16n8k16_bf16' for '${arch}'`));
});

test.run();
