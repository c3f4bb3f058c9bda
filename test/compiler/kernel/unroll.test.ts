// The register-tile pass (compiler/kernel/unroll.ts) that WebGPU kernels go
// through: its output validates, the IR interpreter computes the same as
// before the pass, tiles indexed by constants only are marked scalar, and the
// validator refuses a scalar tile indexed by a variable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Kernel } from '../../../compiler/kernel/ir.js';
import * as K from '../../../compiler/kernel/build.js';
import { scalarizeRegisterTiles } from '../../../compiler/kernel/unroll.js';
import { validateKernel } from '../../../compiler/kernel/validate.js';
import { runKernel } from '../../../compiler/kernel/interpret.js';
import { CPU, webgpuTarget } from '../../../compiler/target.js';
import { TestGraph, compare, compileAndRun, referenceRun } from './graphs.js';

/** Each of 4 threads: acc[2 × 4] += w[kk, i] · x[kk, j] over 6 k steps, then stores its tile. */
const TILE: Kernel = {
  name: 'k0_tile', workgroupSize: 4, nargs: 0,
  bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }],
  locals: [], regs: [{ name: 'acc', t: 'f32', size: 8 }, { name: 'wv', t: 'f32', size: 2 }],
  body: [
    K.for_('ii', K.idx(0), K.idx(8), [K.lstore('acc', K.v('ii'), K.f32(0))], true),
    K.for_('kk', K.idx(0), K.idx(6), [
      K.for_('i', K.idx(0), K.idx(2), [K.lstore('wv', K.v('i'), K.load(0, K.add(K.mul(K.v('kk'), K.idx(2)), K.v('i')), 'f32'))], true),
      K.for_('i', K.idx(0), K.idx(2), [
        K.let_('w', 'f32', K.lload('wv', K.v('i'), 'f32')),
        K.for_('j', K.idx(0), K.idx(4), [
          K.lstore('acc', K.add(K.mul(K.v('i'), K.idx(4)), K.v('j')), K.add(K.lload('acc', K.add(K.mul(K.v('i'), K.idx(4)), K.v('j')), 'f32'),
            K.mul(K.v('w', 'f32'), K.load(1, K.add(K.mul(K.add(K.v('kk'), K.lid), K.idx(4)), K.v('j')), 'f32')))),
        ], true),
      ], true),
    ]),
    K.for_('ii', K.idx(0), K.idx(8), [K.store(2, K.add(K.mul(K.lid, K.idx(8)), K.v('ii')), K.lload('acc', K.v('ii'), 'f32'))]),
  ],
};

function run(k: Kernel): Float32Array {
  const w = Float32Array.from({ length: 12 }, (_, i) => (i % 5) - 2);
  const x = Float32Array.from({ length: 40 }, (_, i) => (i % 7) * 0.5);
  const y = new Float32Array(32);
  runKernel(k, [w, x, y], [], 1);
  return y;
}

test('the unrolled kernel validates, computes the same, and marks its tiles scalar', () => {
  validateKernel(TILE);
  const out = scalarizeRegisterTiles(TILE);
  validateKernel(out);
  assert.equal(out.regs.map((r) => r.scalar === true), [true, true]);
  assert.ok(JSON.stringify(out.body).includes('"k":"for","v":"kk"'), 'the loop not indexing a tile stays a loop');
  assert.not.ok(JSON.stringify(out.body).includes('"v":"j"'), 'the tile loops are gone');
  assert.equal(Array.from(run(out)), Array.from(run(TILE)));
  assert.ok(run(TILE).some((v) => v !== 0));
});

test('a tile over 64 elements stays an array, unmarked', () => {
  const big: Kernel = { ...TILE, regs: [{ name: 'acc', t: 'f32', size: 96 }, { name: 'wv', t: 'f32', size: 2 }] };
  const out = scalarizeRegisterTiles(big);
  validateKernel(out);
  assert.equal(out.regs.map((r) => r.scalar === true), [false, true]);
});

test('the validator refuses a scalar tile indexed by a variable', () => {
  const wrong: Kernel = { ...TILE, regs: TILE.regs.map((r) => ({ ...r, scalar: true })) };
  assert.throws(() => validateKernel(wrong), /scalar register array 'acc' (written|read) at a non-constant index/);
});

test('WebGPU programs carry the pass (scalar GEMM tiles) and still equal the reference on the interpreter', () => {
  const t = new TestGraph();
  const x = t.input('x', [1, 8, 9, 10]);
  t.output('y', t.op('relu', [t.op('conv2d', [x, t.param('w', [12, 8, 3, 3]), t.param('b', [12])], { padding: [1] })]));
  const want = referenceRun(t);
  const gpu = compileAndRun(t, webgpuTarget(), { fuse: true });
  assert.ok(gpu.program.kernels.some((k) => k.ir.regs.some((r) => r.scalar)), 'a register tile became scalars');
  assert.is(compare(gpu.outputs.y, want.y), '');
  const cpu = compileAndRun(t, CPU, { fuse: true });
  assert.ok(cpu.program.kernels.every((k) => k.ir.regs.every((r) => !r.scalar)), 'the CPU target keeps its arrays');
});

test.run();
