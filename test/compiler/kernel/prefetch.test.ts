// The kernel IR's prefetch statement (ir.ts): a hint that changes no result.
// The validator checks its buffer and index; the interpreter, the C
// rendering compiled by cc and the CPU runtime give the same values with
// prefetches far outside the buffer (nothing is read there); C renders
// __builtin_prefetch, CUDA and WGSL nothing; the CPU convolution packings
// emit one ahead of each run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kernel } from '../../../compiler/kernel/ir.js';
import { add, f32, gid, idx, let_, lid, load, mul, prefetch, store, v } from '../../../compiler/kernel/build.js';
import { validateKernel } from '../../../compiler/kernel/validate.js';
import { kernelHash } from '../../../compiler/kernel/hash.js';
import { runKernel } from '../../../compiler/kernel/interpret.js';
import { CRenderer } from '../../../compiler/render/c.js';
import { CudaRenderer } from '../../../compiler/render/cuda.js';
import { renderWgsl } from '../../../compiler/render/wgsl.js';
import { Program, compileGraph } from '../../../compiler/program.js';
import { GraphBuilder } from '../../../compiler/graph.js';
import { NO_SPAN } from '../../../compiler/types.js';
import { tensor } from '../../../compiler/tensor.js';
import { CPU } from '../../../compiler/target.js';
import { hasTool, runC } from './toolchain.js';
import { oneLaunchProgram } from './graphs.js';
import { cpuOrSkip } from '../../helpers/skip.js';

const n = 64;
const src = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 7);

/** out[i] = 2·a[i], each thread first hinting a[i + 2^24] and a[i - 2^20] (outside the buffer). */
const COPY: Kernel = {
  name: 'k_hinted', nargs: 0, workgroupSize: 16, locals: [], regs: [],
  bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }],
  body: [
    let_('i', 'i64', add(mul(gid, idx(16)), lid)),
    prefetch(0, add(v('i'), idx(1 << 24))),
    prefetch(0, add(v('i'), idx(-(1 << 20)))),
    store(1, v('i'), mul(f32(2), load(0, v('i'), 'f32'))),
  ],
};
const expected = Array.from(src, (x) => 2 * x);

test('validator: a prefetch names a buffer of the kernel and an i64 index', () => {
  validateKernel(COPY);
  assert.throws(() => validateKernel({ ...COPY, body: [prefetch(5, idx(0))] }), /prefetch of buffer 5 of 2/);
  assert.throws(() => validateKernel({ ...COPY, body: [prefetch(0, f32(1))] }), /prefetch index not i64/);
});

test('interpreter: prefetches far outside the buffer change nothing', () => {
  const out = new Float32Array(n);
  runKernel(COPY, [src, out], [], n / 16);
  assert.equal(Array.from(out), expected);
});

test('renderings: C asks for the line (read, all cache levels); CUDA and WGSL drop the hint; the hash sees it', () => {
  const c = new CRenderer().unit([COPY]);
  assert.match(c, /__builtin_prefetch\(&B0\[\(i \+ 16777216\)\], 0, 3\);/);
  assert.match(c, /__builtin_prefetch\(&B0\[\(i \+ -1048576\)\], 0, 3\);/);
  assert.not.match(new CudaRenderer().unit([COPY]), /prefetch/);
  assert.not.match(renderWgsl(COPY), /prefetch/);
  const plain: Kernel = { ...COPY, body: COPY.body.filter((s) => s.k !== 'prefetch') };
  assert.is.not(kernelHash(plain), kernelHash(COPY));
});

function program(): { program: Program; graph: GraphBuilder } {
  const g = new GraphBuilder();
  const a = g.input('a', { dtype: 'f32', shape: [n] }, NO_SPAN);
  g.output('out', g.node('twice', [a], {}, [{ dtype: 'f32', shape: [n] }], NO_SPAN, '')[0]);
  return { graph: g, program: oneLaunchProgram(COPY, [{ name: 'a', role: 'input', dtype: 'f32', n }, { name: 'out', role: 'output', dtype: 'f32', n }], n / 16) };
}

(hasTool('cc') ? test : test.skip)('C rendering compiled by cc: the hints outside the buffer neither fault nor change the values', () => {
  const { program: p, graph } = program();
  assert.equal(Array.from(runC(p, graph.graph, { a: tensor('f32', [n], src) }, {}).out.data), expected);
});

const cpu = await cpuOrSkip();
cpu.test('CPU runtime: the same values', async () => {
  const exe = await cpu.runtime!.load(program().program);
  try { assert.equal(Array.from((await exe.run({ a: tensor('f32', [n], src) })).out.data), expected); } finally { exe.dispose(); }
});

test('CPU convolutions prefetch each packing run ahead: 3×3 stride 1 (masked runs), stride 2 (two lines a run), 1×1', () => {
  for (const [k, s, lines] of [[3, 1, 1], [3, 2, 2], [1, 1, 1]] as const) {
    const g = new GraphBuilder();
    // Stride 2 on an odd size: the strided packing (an even one splits its input into phases: conv-phases.kernel.ts).
    const H = s === 2 ? 41 : 40, OH = Math.floor((H + 2 * (k >> 1) - k) / s) + 1;
    const x = g.input('x', { dtype: 'f32', shape: [1, 8, H, H] }, NO_SPAN);
    const w = g.param('w', { dtype: 'f32', shape: [16, 8, k, k] }, { kind: 'zeros' }, true, NO_SPAN, 'conv');
    const [y] = g.node('conv2d', [x, w], { stride: s, padding: k >> 1 }, [{ dtype: 'f32', shape: [1, 16, OH, OH] }], NO_SPAN, '');
    g.output('y', y);
    const conv = compileGraph(g.graph, CPU).kernels.find((kk) => kk.name.includes('conv2d'))!;
    const hints = new CRenderer().unit([conv.ir]).match(/__builtin_prefetch/g) ?? [];
    assert.is(hints.length, lines, `k${k} s${s}: one prefetch per cache line of a run`);
  }
});

test.run();
