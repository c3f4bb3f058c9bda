// The WGSL rendering: text checks without a device, then compiled programs
// (fused and unfused) run on WebGPU against the ops' references.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderWgsl } from '../../compiler/render/wgsl.js';
import { compileGraph } from '../../compiler/program.js';
import type { Kernel } from '../../compiler/kernel/ir.js';
import * as K from '../../compiler/kernel/build.js';
import { rng } from '../../compiler/tensor.js';
import { TestGraph, compare, pick, referenceRun } from './kernel/graphs.js';
import { openOrSkip } from '../runtime-webgpu/open.js';

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
  assert.match(src, /var filter_: f32 = f32_pow\(B0\[lid\], 2\.0f\);/);
  assert.match(src, /fn f32_pow\(/);
  assert.match(src, /fn f32_max\(/);
  assert.match(src, /fn f32_isnan\(/);
  assert.match(src, /f32_bits\(0xff800000u\)/);
  assert.not.match(src, /fn f32_min\(/);
});

test('register tiles: loops indexing them are unrolled and the arrays become scalars', () => {
  const t = new TestGraph();
  const x = t.input('x', [1, 4, 6, 6]);
  t.output('y', t.op('relu', [t.op('conv2d', [x, t.param('w', [4, 4, 3, 3]), t.param('b', [4])], { padding: [1] })]));
  const src = renderWgsl(compileGraph(t.graph, { fuse: true }).kernels[0].ir);
  assert.match(src, /var acc_0: f32; var acc_1: f32;/);
  assert.match(src, /acc_(\d+) = (\(acc_\1 \+ |fma\()/, 'accumulation into a scalar');
  assert.not.match(src, /acc\[/, 'no dynamic indexing of the accumulator');
  assert.match(src, /for \(var \w+: i32 = 0; \w+ < \w+/, 'the reduction loop stays a loop');
});

// The op-by-op sweep on WebGPU is test/runtime-webgpu/ops.test.ts; here one
// elementwise program with i32 and bool values and one grouped, dilated conv
// check the renderer end to end.
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
      const ex = await rt!.load(compileGraph(t.graph, { fuse }));
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
