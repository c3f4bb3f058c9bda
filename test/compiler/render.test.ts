// The C rendering compiled with cc and run against the references; the CUDA
// rendering of the same programs compiled by nvcc for sm_90 and sm_75 (one
// process per translation unit).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderCuda, renderC } from '../../compiler/program.js';
import { rng } from '../../compiler/tensor.js';
import { TestGraph, compare, pick, referenceRun } from './kernel/graphs.js';
import { compileGraph } from '../../compiler/program.js';
import { hasTool, nvccCompileAsync, runCMany } from './kernel/toolchain.js';
import { testUnless } from '../helpers/skip.js';
import { CPU } from '../../compiler/target.js';

const haveCC = hasTool('cc');
const haveNvcc = hasTool('nvcc');

function graphs(): [string, TestGraph][] {
  const out: [string, TestGraph][] = [];
  {
    const t = new TestGraph();
    const x = t.input('x', [2, 3, 5, 4], -3, 3);
    const y = t.op('sigmoid', [t.op('mul', [t.op('add', [x, t.input('b', [3, 1, 1])]), t.constant(1.5)])]);
    t.output('y', t.op('where', [t.op('gt', [y, t.constant(0.5)]), y, t.op('neg', [y])]));
    t.output('i', t.op('cast', [t.op('mul', [x, t.constant(3)])], { dtype: 'i32' }));
    out.push(['elementwise', t]);
  }
  const next = rng(3);
  for (let i = 0; i < 3; i++) {
    const g = i === 2 ? 2 : 1;
    const t = new TestGraph();
    const x = t.input('x', [2, 2 * g, pick(next, 5, 9), pick(next, 5, 9)]);
    const w = t.param('w', [3 * g, 2, 3, 3]), b = t.param('b', [3 * g]);
    const y = t.op('conv2d', [x, w, b], { stride: [1 + (i % 2)], padding: [1], dilation: [1 + (i === 2 ? 1 : 0)], groups: g });
    t.output('y', t.op('relu', [y]));
    out.push([`conv${i}`, t]);
  }
  {
    const t = new TestGraph();
    const conv = { stride: [2], padding: [1], dilation: [1], groups: 2 };
    const g = t.input('g', [2, 4, 4, 3]);
    t.output('dx', t.op('conv2d_grad_input', [g, t.param('w', [4, 3, 3, 3])], { ...conv, size: [7, 6] }));
    t.output('dw', t.op('conv2d_grad_weight', [t.input('x', [2, 6, 7, 6]), g], { ...conv, kernel: [3, 3] }));
    out.push(['conv-grads', t]);
  }
  {
    const t = new TestGraph();
    const x = t.input('x', [1, 2, 6, 5]);
    t.output('dp', t.op('max_pool2d_grad', [x, t.input('g', [1, 2, 3, 3])], { kernel: [3], stride: [2], padding: [1] }));
    t.output('dr', t.op('resize_grad', [t.input('gr', [1, 2, 9, 4])], { size: [6, 5], mode: 'bilinear' }));
    const idx = t.op('cast', [t.op('floor', [t.op('mul', [t.input('u', [3, 5], 0, 1), t.constant(4)])])], { dtype: 'i32' });
    t.output('sa', t.op('scatter_add', [t.input('y', [4, 5]), idx, t.input('src', [3, 5])], { axis: 0 }));
    const levels = [[6, 5], [3, 3]].map(([h, w], i) => t.input(`p${i}`, [1, 2, h, w]));
    const grads = [[6, 5], [3, 3]].map(([h, w], i) => t.input(`q${i}`, [1, 2, h, w]));
    const codes = t.ops('max3d_argmax', levels, { tau: 2, phi: 3 });
    t.ops('max3d_argmax_grad', [...codes, ...grads], { tau: 2, phi: 3 }).forEach((o, i) => t.output(`d${i}`, o));
    out.push(['adjoints', t]);
  }
  {
    const t = new TestGraph();
    const lt = t.input('lt', [2, 9, 2], 0, 6), wh = t.input('wh', [2, 9, 2], 1, 5);
    const boxes = t.op('concat', [lt, t.op('add', [lt, wh])], { axis: 2 });
    const classes = t.op('cast', [t.op('floor', [t.op('mul', [t.input('c', [2, 9], 0, 1), t.constant(2)])])], { dtype: 'i32' });
    const [keep, count] = t.ops('nms', [boxes, t.input('s', [2, 9], 0, 1), classes], { iou_threshold: 0.3, max_out: 6 });
    t.output('keep', keep); t.output('count', count);
    out.push(['nms', t]);
  }
  {
    const t = new TestGraph();
    t.output('y', t.op('add', [t.op('matmul', [t.input('a', [3, 5, 7]), t.input('b', [7, 11])]), t.input('c', [11])]));
    out.push(['matmul', t]);
  }
  {
    const t = new TestGraph();
    const x = t.input('x', [2, 4, 5, 7], -2, 2);
    const gn = t.op('group_norm', [x, t.param('w', [4]), t.param('b', [4])], { groups: 2 });
    t.output('y', t.op('relu', [gn]));
    t.output('m', t.op('mean', [t.op('exp', [x])], { axes: [2, 3], keepdims: true }));
    t.output('a', t.op('argmax', [x], { axis: 1 }));
    t.output('p', t.op('max_pool2d', [x], { kernel: [3], stride: [2], padding: [1] }));
    t.output('r', t.op('resize', [x], { size: [9, 4], mode: 'bilinear' }));
    out.push(['norm-reduce-pool', t]);
  }
  {
    const t = new TestGraph();
    const levels = [[9, 7], [5, 4], [3, 2]].map(([h, w], i) => t.input(`p${i}`, [1, 3, h, w]));
    t.ops('max3d', levels, { tau: 2, phi: 3 }).forEach((o, i) => t.output(`y${i}`, o));
    const [v, ix] = t.ops('topk', [t.op('reshape', [levels[0], ], { shape: [3, -1] })], { k: 5 });
    t.output('tv', v); t.output('ti', ix);
    const cat = t.op('concat', [levels[1], t.op('slice', [levels[0]], { axis: 2, start: 1, end: 6 })], { axis: 3 });
    t.output('cat', t.op('transpose', [cat], { perm: [0, 2, 3, 1] }));
    out.push(['max3d-topk-layout', t]);
  }
  return out;
}

testUnless(haveCC ? undefined : 'no cc on PATH')('C rendering compiles and matches the reference (fused and unfused)', () => {
  const runs = graphs().flatMap(([name, t]) => [true, false].map((fuse) => ({ name, fuse, t, program: compileGraph(t.graph, CPU, { fuse }) })));
  const outs = runCMany(runs.map((r) => ({ program: r.program, graph: r.t.graph, inputs: r.t.inputs, params: r.t.params })));
  runs.forEach((r, i) => {
    for (const [o, w] of Object.entries(referenceRun(r.t))) {
      const msg = compare(outs[i][o], w, 1e-4, 1e-4);
      assert.is(msg, '', `${r.name} ${r.fuse ? 'fused' : 'unfused'} output ${o}: ${msg}`);
    }
  });
});

test('C rendering is one unit with the ABI signature and no OpenMP', () => {
  const p = compileGraph(graphs()[1][1].graph, CPU, { fuse: true });
  const src = renderC(p);
  assert.match(src, /#include <stdint.h>/);
  assert.match(src, /void k0_conv2d_relu\(void\* const\* bufs, const int64_t\* args, int64_t wg_begin, int64_t wg_end\)/);
  assert.not.match(src, /pragma omp|omp\.h/);
});

const cudaTest = haveNvcc ? test : test.skip;
if (!haveNvcc) console.log('SKIP CUDA rendering: nvcc not on PATH');
cudaTest('CUDA rendering compiles with nvcc for sm_90 and sm_75', async () => {
  const ps = graphs().flatMap(([, t]) => [compileGraph(t.graph, CPU, { fuse: true }), compileGraph(t.graph, CPU, { fuse: false })]);
  // Two translation units compiled in parallel (one nvcc start each), both cores busy.
  // Structurally identical kernels (same hash) compile once.
  const seen = new Set<string>();
  const kernels = ps.flatMap((p, i) => p.kernels.map((k) => ({ ...k, ir: { ...k.ir, name: `p${i}_${k.name}` } })))
    .filter((k) => !seen.has(k.hash) && (seen.add(k.hash), true));
  const mid = Math.ceil(kernels.length / 2);
  const usages = await Promise.all([kernels.slice(0, mid), kernels.slice(mid)].map((ks) => nvccCompileAsync(renderCuda({ ...ps[0], kernels: ks }))));
  for (const usage of usages) assert.match(usage, /registers/i);
});

test.run();
