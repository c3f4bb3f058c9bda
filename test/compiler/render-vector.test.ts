// The C renderer's vector loops (render/vectorize.ts) beyond loads and
// stores: lets inside the loop (vector values where they depend on the
// lanes, scalar where not), a comparison picking lanes (sel of an f32
// compare: a ReLU), and elements 2j and 2j + 1 stored as two interleaved
// vectors (a Winograd tile's two output columns), loads a constant stride
// apart by gather. The rendering uses them,
// and the CPU runtime's values equal the interpreter's and values computed
// here; loops outside the pattern keep the scalar rendering.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kernel, Stmt } from '../../compiler/kernel/ir.js';
import { add, bin, f32, for_, idx, let_, load, lt, mul, sel, store, v } from '../../compiler/kernel/build.js';
import { validateKernel } from '../../compiler/kernel/validate.js';
import { oneLaunchProgram } from './kernel/graphs.js';
import { runKernel } from '../../compiler/kernel/interpret.js';
import { CRenderer } from '../../compiler/render/c.js';
import { Program } from '../../compiler/program.js';
import { tensor } from '../../compiler/tensor.js';
import { cpuOrSkip } from '../helpers/skip.js';

const n = 64, W = 16;
const A = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
const B = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7) * 2);
// out[2i] = relu(a[i] − 0.5·b[i]), out[2i + 1] = 2·a[i] + s, s = a[0] (an invariant let).
const expected = Array.from({ length: 2 * n }, (_, e) => {
  const i = e >> 1;
  return e % 2 ? Math.fround(Math.fround(2 * A[i]) + A[0]) : Math.max(0, Math.fround(A[i] - Math.fround(0.5 * B[i])));
});

function kernel(body: (at: ReturnType<typeof add>) => Stmt[]): Kernel {
  const at = add(v('base'), v('j'));
  return {
    name: 'k_vec', nargs: 0, workgroupSize: 1, locals: [], regs: [],
    bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }],
    body: [for_('q', idx(0), idx(n / W), [let_('base', 'i64', mul(v('q'), idx(W))), for_('j', idx(0), idx(W), body(at), false, W)])],
  };
}

const even = (at: ReturnType<typeof add>) => mul(at, idx(2));
const PATTERN = kernel((at) => [
  let_('s', 'f32', load(0, idx(0), 'f32')),
  let_('x', 'f32', bin('sub', load(0, at, 'f32'), bin('mul', f32(0.5), load(1, at, 'f32')))),
  let_('r', 'f32', sel(lt(v('x', 'f32'), f32(0)), f32(0), v('x', 'f32'))),
  store(2, even(at), v('r', 'f32')),
  let_('y', 'f32', bin('add', bin('mul', f32(2), load(0, at, 'f32')), v('s', 'f32'))),
  store(2, add(even(at), idx(1)), v('y', 'f32')),
]);

function run(k: Kernel): number[] {
  const out = new Float32Array(2 * n);
  runKernel(k, [A, B, out], [], 1);
  return Array.from(out);
}

const program = (k: Kernel): Program => oneLaunchProgram(k, [
  { name: 'a', role: 'input', dtype: 'f32', n }, { name: 'b', role: 'input', dtype: 'f32', n }, { name: 'out', role: 'output', dtype: 'f32', n: 2 * n },
], 1);

test('lets, a lane-picking comparison and an interleaved pair of stores render as one vector loop', () => {
  validateKernel(PATTERN);
  const c = new CRenderer().unit([PATTERN]);
  assert.match(c, /for \(int64_t j = 0; j < 16; j \+= 16\)/);
  assert.match(c, /v16f x = \(vload16\(&B0\[\(base \+ j\)\]\) - \(0\.5f \* vload16\(&B1\[\(base \+ j\)\]\)\)\);/);
  assert.match(c, /float s = B0\[0\];/, 'the invariant let stays scalar');
  assert.match(c, /v16f r = vsel16\(\(x < \(\(v16f\)\{0\} \+ 0\.0f\)\), \(\(v16f\)\{0\} \+ 0\.0f\), x\);/);
  assert.match(c, /vstore16_x2\(&B2\[\(\(base \+ j\) \* 2\)\], r, y\);/);
  assert.match(c, /static inline v16f vsel16\(/);
  assert.match(c, /static inline void vstore16_x2\(/);
  assert.equal(run(PATTERN), expected, 'interpreter');
});

test('outside the pattern the loop stays scalar: a lane-dependent index let; a store read before its partner', () => {
  const indexLet = kernel((at) => [let_('e', 'i64', mul(at, idx(2))), store(2, v('e'), load(0, at, 'f32')), store(2, add(v('e'), idx(1)), load(1, at, 'f32'))]);
  const readBack = kernel((at) => [store(2, even(at), load(0, at, 'f32')), let_('z', 'f32', load(2, even(at), 'f32')), store(2, add(even(at), idx(1)), v('z', 'f32'))]);
  for (const [what, k] of [['index let', indexLet], ['read back', readBack]] as const) {
    const c = new CRenderer().unit([k]);
    assert.not.match(c, /vstore16/, what);
    assert.match(c, /for \(int64_t j = 0; j < 16; j\+\+\)/, what);
  }
});

test('a constant stride above 2 loads by gather (a filter\'s taps, 9 apart)', () => {
  const strided: Kernel = {
    name: 'k_gather', nargs: 0, workgroupSize: 1, locals: [], regs: [],
    bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }],
    body: [for_('j', idx(0), idx(W), [store(1, v('j'), bin('mul', f32(2), load(0, add(mul(v('j'), idx(3)), idx(1)), 'f32')))], false, W)],
  };
  validateKernel(strided);
  const c = new CRenderer().unit([strided]);
  assert.match(c, /vstore16\(&B1\[j\], \(2\.0f \* vload16_sk\(&B0\[\(\(j \* 3\) \+ 1\)\], 3\)\)\);/);
  assert.match(c, /static inline v16f vload16_sk\(/);
  const out = new Float32Array(W);
  runKernel(strided, [A, out], [], 1);
  assert.equal(Array.from(out), Array.from({ length: W }, (_, j) => Math.fround(2 * A[3 * j + 1])));
});

test('a condition the same for every lane picks one vector, and only its loads run', () => {
  const uniform: Kernel = {
    name: 'k_uniform', nargs: 0, workgroupSize: 1, locals: [], regs: [],
    bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }],
    body: [
      let_('ok', 'bool', lt(load(0, idx(0), 'f32'), f32(0))),
      for_('j', idx(0), idx(W), [store(1, v('j'), sel(v('ok', 'bool'), load(0, add(v('j'), idx(1)), 'f32'), f32(0)))], false, W),
    ],
  };
  validateKernel(uniform);
  assert.match(new CRenderer().unit([uniform]), /vstore16\(&B1\[j\], \(ok \? vload16\(&B0\[\(j \+ 1\)\]\) : \(\(v16f\)\{0\} \+ 0\.0f\)\)\);/);
  const out = new Float32Array(W);
  runKernel(uniform, [A, out], [], 1);
  assert.equal(Array.from(out), Array.from({ length: W }, (_, j) => (A[0] < 0 ? A[j + 1] : 0)));
});

const cpu = await cpuOrSkip();
cpu.test('CPU runtime: the vector loop computes what the interpreter and this test do', async () => {
  const exe = await cpu.runtime!.load(program(PATTERN));
  try {
    const got = Array.from((await exe.run({ a: tensor('f32', [n], A), b: tensor('f32', [n], B) })).out.data);
    assert.equal(got, expected);
  } finally { exe.dispose(); }
});

test.run();
