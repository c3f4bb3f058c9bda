// The WGSL rendering: text checks without a device, then compiled programs
// (fused and unfused) run on WebGPU against the ops' references.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderWgsl } from '../../compiler/render/wgsl.js';
import { compileGraph } from '../../compiler/program.js';
import type { Kernel } from '../../compiler/kernel/ir.js';
import * as K from '../../compiler/kernel/build.js';
import { rng, tensor } from '../../compiler/tensor.js';
import { TestGraph, compare, pick, referenceRun } from './kernel/graphs.js';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { CPU } from '../../compiler/target.js';
import { scalarizeRegisterTiles } from '../../compiler/kernel/unroll.js';

const rt = await openOrSkip('test/compiler/render-wgsl.test.ts');
const gpuTest = rt ? test : test.skip;

const tiny: Kernel = {
  name: 'k_tiny', nargs: 1, workgroupSize: 4, locals: [], regs: [],
  bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'bool', access: 'w' }],
  body: [
    K.let_('i', 'i64', K.add(K.mul(K.gid, K.idx(4)), K.lid)),
    K.if_(K.lt(K.v('i'), K.arg(0)), [K.store(1, K.v('i'), K.bin('gt', K.load(0, K.v('i'), 'f32'), K.f32(0.5)))]),
  ],
};

test('bindings, args struct, 2-D workgroup index and guard', () => {
  const src = renderWgsl(tiny);
  assert.match(src, /struct Args \{ grid: u32, a0: i32 \}/);
  assert.match(src, /@group\(0\) @binding\(0\) var<storage, read> B0: array<f32>;/);
  assert.match(src, /@group\(0\) @binding\(1\) var<storage, read_write> B1: array<u32>;/);
  assert.match(src, /@group\(0\) @binding\(2\) var<uniform> args: Args;/);
  assert.match(src, /@compute @workgroup_size\(4\)/);
  assert.match(src, /let wgu = wid\.x \+ wid\.y \* nwg\.x;\n  if \(wgu >= args\.grid\) \{ return; \}/);
  assert.match(src, /B1\[i\] = select\(0u, 1u, \(B0\[i\] > 0\.5f\)\);/, 'bool stored as a u32 word');
  assert.not.match(src, /^fn f32_/m, 'no helper unless used');
});

test('helpers only when used; NaN/Inf without const-expressions; reserved names escaped', () => {
  const k: Kernel = {
    ...tiny, bufs: [{ dtype: 'f32', access: 'rw' }],
    body: [
      K.let_('filter', 'f32', K.bin('pow', K.load(0, K.lid, 'f32'), K.f32(2))),
      K.store(0, K.lid, K.bin('max', K.v('filter', 'f32'), K.f32(-Infinity))),
    ],
  };
  const src = renderWgsl(k);
  assert.match(src, /let filter_: f32 = f32_pow\(B0\[lid\], 2\.0f\);/);
  assert.match(src, /fn f32_pow\(/);
  assert.match(src, /fn f32_max\(/);
  assert.match(src, /fn f32_isnan\(/);
  assert.match(src, /f32_bits\(0xff800000u\)/);
  assert.not.match(src, /fn f32_min\(/);
});

// A GEMM-like register tile: acc[TM*TN] += wv[i] * x[j], zeroed, accumulated and stored in loops.
const TILE: Kernel = {
  name: 'k_tile', nargs: 0, workgroupSize: 8, locals: [],
  regs: [{ name: 'acc', t: 'f32', size: 8 }, { name: 'wv', t: 'f32', size: 2 }],
  bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }],
  body: [
    K.for_('ii', K.idx(0), K.idx(8), [K.lstore('acc', K.v('ii'), K.f32(0))], true),
    K.for_('kk', K.idx(0), K.idx(16), [
      K.for_('i', K.idx(0), K.idx(2), [K.lstore('wv', K.v('i'), K.load(0, K.add(K.mul(K.v('kk'), K.idx(2)), K.v('i')), 'f32'))], true),
      K.for_('i', K.idx(0), K.idx(2), [
        K.for_('j', K.idx(0), K.idx(4), [
          K.lstore('acc', K.add(K.mul(K.v('i'), K.idx(4)), K.v('j')), K.add(K.lload('acc', K.add(K.mul(K.v('i'), K.idx(4)), K.v('j')), 'f32'),
            K.mul(K.lload('wv', K.v('i'), 'f32'), K.load(1, K.add(K.mul(K.v('kk'), K.idx(4)), K.v('j')), 'f32')))),
        ], true),
      ], true),
    ]),
    K.for_('ii', K.idx(0), K.idx(8), [K.store(2, K.add(K.mul(K.lid, K.idx(8)), K.v('ii')), K.lload('acc', K.v('ii'), 'f32'))]),
  ],
};

test('register tiles: loops indexing them are unrolled and the arrays become scalars', () => {
  const src = renderWgsl(scalarizeRegisterTiles(TILE));
  assert.match(src, /var acc_0: f32; var acc_1: f32;/);
  assert.match(src, /var wv_0: f32; var wv_1: f32;/);
  assert.match(src, /acc_7 = \(acc_7 \+ \(wv_1 \* B1\[\(\(kk \* 4\) \+ 3\)\]\)\);/);
  assert.match(src, /B2\[\(\(lid \* 8\) \+ 5\)\] = acc_5;/, 'the store loop is unrolled too: it indexes the tile');
  assert.not.match(src, /acc\[|wv\[/, 'no dynamic indexing of a tile');
  assert.match(src, /for \(var kk: i32 = 0; kk < 16; kk\+\+\)/, 'the reduction loop stays a loop');
  assert.not.match(renderWgsl(TILE), /acc_0/, 'the renderer only prints what the IR says');
});

test('a tile over 64 elements stays an array', () => {
  const big: Kernel = { ...TILE, regs: [{ name: 'acc', t: 'f32', size: 96 }, { name: 'wv', t: 'f32', size: 2 }] };
  const src = renderWgsl(scalarizeRegisterTiles(big));
  assert.match(src, /var acc: array<f32, 96>;/);
  assert.match(src, /var wv_0: f32;/);
});

gpuTest('a register-tiled kernel computes the same with and without scalar tiles', async () => {
  const prog = (name: string): Parameters<NonNullable<typeof rt>['load']>[0] => ({
    buffers: [{ id: 0, bytes: 128, dtype: 'f32', role: 'input', name: 'w' }, { id: 1, bytes: 256, dtype: 'f32', role: 'input', name: 'x' }, { id: 2, bytes: 256, dtype: 'f32', role: 'output', name: 'y' }],
    kernels: [{ name, hash: `test:${name}`, ir: { wgsl: renderWgsl(name === 'tiled' ? scalarizeRegisterTiles(TILE) : TILE) }, workgroupSize: 8 }],
    launches: [{ kernel: 0, buffers: [0, 1, 2], args: [], grid: 1 }],
    inputs: { w: 0, x: 1 }, outputs: { y: 2 }, params: {}, peakBytes: 640,
  });
  const w = tensor('f32', [32], Array.from({ length: 32 }, (_, i) => (i % 5) - 2));
  const x = tensor('f32', [64], Array.from({ length: 64 }, (_, i) => (i % 7) * 0.5));
  const want = new Float32Array(8);
  for (let kk = 0; kk < 16; kk++) for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) want[i * 4 + j] += w.data[kk * 2 + i] * x.data[kk * 4 + j];
  for (const name of ['tiled', 'plain']) {
    const ex = await rt!.load(prog(name));
    const y = (await ex.run({ w, x })).y.data;
    for (let t = 0; t < 8; t++) assert.equal(Array.from(y.slice(8 * t, 8 * t + 8)), Array.from(want), `${name} thread ${t}`);
    ex.dispose();
  }
});

test('a let declared again after a barrier becomes an assignment (one WGSL scope)', () => {
  const k: Kernel = {
    ...tiny, bufs: [{ dtype: 'f32', access: 'rw' }], locals: [{ name: 'tile', t: 'f32', size: 4 }],
    body: [
      K.let_('base', 'i64', K.mul(K.gid, K.idx(4))),
      K.lstore('tile', K.lid, K.load(0, K.add(K.v('base'), K.lid), 'f32')),
      K.barrier,
      K.let_('base', 'i64', K.mul(K.gid, K.idx(4))),
      K.store(0, K.add(K.v('base'), K.lid), K.lload('tile', K.sub(K.idx(3), K.lid), 'f32')),
    ],
  };
  const src = renderWgsl(k);
  assert.match(src, /var base: i32 = \(gid \* 4\);\n[^]*workgroupBarrier\(\);\n  base = \(gid \* 4\);/);
  assert.match(src, /var<workgroup> tile: array<f32, 4>;/);
});

test('fma renders as WGSL fma', () => {
  const fma = { k: 'fma', a: K.load(0, K.lid, 'f32'), b: K.f32(2), c: K.f32(1), t: 'f32' } as unknown as Parameters<typeof K.store>[2];
  const src = renderWgsl({ ...tiny, bufs: [{ dtype: 'f32', access: 'rw' }], body: [K.store(0, K.lid, fma)] });
  assert.match(src, /B0\[lid\] = fma\(B0\[lid\], 2\.0f, 1\.0f\);/);
});

function graphs(): [string, TestGraph][] {
  const out: [string, TestGraph][] = [];
  {
    const t = new TestGraph();
    const x = t.input('x', [2, 3, 5, 4], -3, 3);
    const y = t.op('sigmoid', [t.op('mul', [t.op('add', [x, t.input('b', [3, 1, 1])]), t.constant(1.5)])]);
    t.output('y', t.op('where', [t.op('gt', [y, t.constant(0.5)]), y, t.op('neg', [y])]));
    t.output('i', t.op('cast', [t.op('mul', [x, t.constant(3)])], { dtype: 'i32' }));
    t.output('m', t.op('logical_not', [t.op('le', [x, t.constant(0)])]));
    out.push(['elementwise', t]);
  }
  const next = rng(5);
  {
    const t = new TestGraph();
    const x = t.input('x', [2, 4, pick(next, 6, 9), pick(next, 6, 9)]);
    const y = t.op('conv2d', [x, t.param('w', [6, 2, 3, 3]), t.param('b', [6])], { stride: [2], padding: [1], dilation: [2], groups: 2 });
    t.output('y', t.op('relu', [y]));
    out.push(['conv', t]);
  }
  return out;
}

gpuTest('compiled programs on WebGPU equal the references (fused and unfused)', async () => {
  for (const [name, t] of graphs()) {
    const want = referenceRun(t);
    for (const fuse of [true, false]) {
      const ex = await rt!.load(compileGraph(t.graph, CPU, { fuse }));
      await ex.setParams(t.params);
      const got = await ex.run(t.inputs);
      for (const [o, w] of Object.entries(want)) {
        const exact = w.dtype !== 'f32';
        const msg = compare(got[o], w, exact ? 0 : 1e-4, exact ? 0 : 1e-4);
        assert.is(msg, '', `${name} ${fuse ? 'fused' : 'unfused'} output ${o}: ${msg}`);
      }
      ex.dispose();
    }
  }
});

test.run();
