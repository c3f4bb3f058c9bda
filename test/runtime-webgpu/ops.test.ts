// Every forward op the scheduler lowers, fused and unfused, on WebGPU over
// randomised small shapes, against the ops' references. Tolerance: |got -
// want| ≤ 1e-4 + 1e-4·|want| (SwiftShader's exp/log/tanh are not correctly
// rounded); integer and bool outputs exactly. A case that does not compile
// fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { CPU } from '../../compiler/target.js';
import { rng, tensor } from '../../compiler/tensor.js';
import { NO_SPAN } from '../../compiler/types.js';
import { TestGraph, compare, pick, referenceRun } from '../compiler/kernel/graphs.js';
import { openOrSkip } from './open.js';

const rt = await openOrSkip('test/runtime-webgpu/ops.test.ts');

type Build = (t: TestGraph, next: () => number) => void;

function intInput(t: TestGraph, name: string, shape: number[], hi: number, next: () => number): number {
  const n = shape.reduce((a, b) => a * b, 1);
  t.inputs[name] = tensor('i32', shape, Array.from({ length: n }, () => pick(next, 0, hi - 1)));
  return t.b.input(name, { dtype: 'i32', shape }, NO_SPAN);
}

const shape4 = (next: () => number): number[] => [pick(next, 1, 2), pick(next, 1, 4), pick(next, 2, 7), pick(next, 2, 7)];

const UNARY = ['neg', 'abs', 'relu', 'sigmoid', 'tanh', 'exp', 'floor', 'ceil', 'softplus', 'square'];
const BINARY = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];

const CASES: [string, Build][] = [
  ...UNARY.map((op): [string, Build] => [op, (t, n) => t.output('y', t.op(op, [t.input('x', shape4(n), -3, 3)]))]),
  ...['log', 'sqrt', 'rsqrt'].map((op): [string, Build] => [op, (t, n) => t.output('y', t.op(op, [t.input('x', shape4(n), 0.1, 4)]))]),
  ...BINARY.map((op): [string, Build] => [op, (t, n) => {
    const s = shape4(n);
    t.output('y', t.op(op, [t.input('a', s, -2, 2), t.input('b', [s[1], 1, s[3]], 0.5, 2)]));
  }]),
  ['pow', (t, n) => t.output('y', t.op('pow', [t.input('a', shape4(n), 0.1, 3), t.input('b', [1], -2, 2)]))],
  ['comparisons+where+logical', (t, n) => {
    const s = shape4(n);
    const a = t.input('a', s), b = t.input('b', [s[3]]);
    const lt = t.op('lt', [a, b]), ge = t.op('ge', [a, t.constant(0)]);
    t.output('w', t.op('where', [t.op('logical_or', [lt, t.op('logical_not', [ge])]), a, b]));
    t.output('m', t.op('logical_and', [t.op('ne', [a, b]), t.op('le', [a, t.constant(0.5)])]));
    t.output('e', t.op('eq', [t.op('gt', [a, b]), lt]));
  }],
  ['clamp+cast', (t, n) => {
    const a = t.input('a', shape4(n), -4, 4);
    t.output('c', t.op('clamp', [a], { lo: -0.5, hi: 1.25 }));
    t.output('i', t.op('cast', [t.op('mul', [a, t.constant(10)])], { dtype: 'i32' }));
    t.output('f', t.op('cast', [t.op('cast', [a], { dtype: 'i32' })], { dtype: 'f32' }));
  }],
  ['conv2d', (t, n) => {
    const g = pick(n, 1, 2), ci = g * pick(n, 1, 2), co = g * pick(n, 1, 3), k = pick(n, 1, 3);
    const x = t.input('x', [pick(n, 1, 2), ci, pick(n, 6, 10), pick(n, 6, 10)]);
    const y = t.op('conv2d', [x, t.param('w', [co, ci / g, k, k]), t.param('b', [co])], { stride: [pick(n, 1, 2)], padding: [pick(n, 0, 1)], dilation: [pick(n, 1, 2)], groups: g });
    t.output('y', t.op('relu', [y]));
  }],
  ['matmul', (t, n) => {
    const m = pick(n, 1, 9), k = pick(n, 1, 9), c = pick(n, 1, 9);
    t.output('y', t.op('sigmoid', [t.op('add', [t.op('matmul', [t.input('a', [pick(n, 1, 3), m, k]), t.input('b', [k, c])]), t.input('c', [c])])]));
  }],
  ['group_norm', (t, n) => {
    const g = pick(n, 1, 2), c = g * pick(n, 1, 3);
    t.output('y', t.op('group_norm', [t.input('x', [pick(n, 1, 2), c, pick(n, 2, 5), pick(n, 2, 5)]), t.param('w', [c]), t.param('b', [c])], { groups: g }));
  }],
  ['frozen_bn', (t, n) => {
    const s = shape4(n), c = s[1];
    t.output('y', t.op('frozen_bn', [t.input('x', s), t.param('w', [c]), t.param('b', [c]), t.param('m', [c]), t.param('v', [c], 0.5, 2)]));
  }],
  ['max_pool2d', (t, n) => t.output('y', t.op('max_pool2d', [t.input('x', shape4(n))], { kernel: [pick(n, 1, 3)], stride: [pick(n, 1, 2)], padding: [0] }))],
  ['resize nearest+bilinear', (t, n) => {
    const x = t.input('x', shape4(n));
    t.output('a', t.op('resize', [x], { size: [pick(n, 2, 9), pick(n, 2, 9)], mode: 'nearest' }));
    t.output('b', t.op('resize', [x], { size: [pick(n, 2, 9), pick(n, 2, 9)], mode: 'bilinear' }));
  }],
  ['concat+slice+transpose+reshape+flatten+expand+stack', (t, n) => {
    const s = shape4(n);
    const a = t.input('a', s), b = t.input('b', s);
    const c = t.op('concat', [a, b], { axis: 1 });
    const sl = t.op('slice', [c, ], { axis: 1, start: 0, end: s[1] * 2, step: 2 });
    t.output('t', t.op('transpose', [sl], { perm: [0, 2, 3, 1] }));
    t.output('r', t.op('reshape', [a], { shape: [s[0] * s[1], s[2] * s[3]] }));
    t.output('f', t.op('flatten', [b], { start: 1 }));
    t.output('e', t.op('expand', [t.input('c', [1, s[1], 1, 1])], { shape: s }));
    t.output('s', t.op('stack', [a, b], { axis: 0 }));
  }],
  ['gather+index_select', (t, n) => {
    const s = [pick(n, 2, 5), pick(n, 2, 6)];
    const x = t.input('x', s);
    t.output('g', t.op('gather', [x, intInput(t, 'gi', [s[0], pick(n, 1, 4)], s[1], n)], { axis: 1 }));
    t.output('i', t.op('index_select', [x, intInput(t, 'ii', [pick(n, 1, 6)], s[0], n)], { axis: 0 }));
  }],
  ['arange+full+locations', (t, n) => {
    t.output('a', t.op('arange', [], { n: pick(n, 1, 20), dtype: 'i32' }));
    t.output('f', t.op('full', [], { shape: [2, pick(n, 1, 4)], value: 2.5 }));
    t.output('l', t.op('locations', [t.input('x', shape4(n))], { stride: 8 }));
  }],
  ['sum+mean+max+min+argmax', (t, n) => {
    const x = t.input('x', shape4(n));
    t.output('s', t.op('sum', [x], { axes: [1, 3] }));
    t.output('m', t.op('mean', [x], { axes: [2], keepdims: true }));
    t.output('x', t.op('max', [x], { axes: [] }));
    t.output('n', t.op('min', [x], { axes: [3] }));
    t.output('a', t.op('argmax', [x], { axis: 1 }));
  }],
  ['topk', (t, n) => {
    const c = pick(n, 3, 40);
    t.ops('topk', [t.input('x', [pick(n, 1, 3), c])], { k: pick(n, 1, Math.min(c, 8)) }).forEach((v, i) => t.output(`o${i}`, v));
  }],
  ['sort', (t, n) => {
    t.ops('sort', [t.input('x', [pick(n, 1, 3), pick(n, 2, 40)])], { descending: true }).forEach((v, i) => t.output(`o${i}`, v));
  }],
  ['max3d', (t, n) => {
    const hw = pick(n, 6, 10);
    const levels = [0, 1, 2].map((l) => t.input(`p${l}`, [1, 2, Math.max(1, hw >> l), Math.max(1, hw >> l)], 0, 1));
    t.ops('max3d', levels, { tau: 2, phi: 3 }).forEach((v, i) => t.output(`o${i}`, v));
  }],
  ['box_decode+box_iou_aligned', (t, n) => {
    const m = pick(n, 1, 9);
    const pts = t.input('p', [m, 2], 0, 64), ltrb = t.input('d', [pick(n, 1, 2), m, 4], 0, 16);
    const boxes = t.op('box_decode', [pts, ltrb]);
    t.output('b', boxes);
    t.output('iou', t.op('box_iou_aligned', [boxes, t.op('add', [boxes, t.constant(1)])]));
  }],
];

const SEEDS = [1, 2];

for (const [name, build] of CASES) {
  const run = rt ? test : test.skip;
  run(`${name} on WebGPU equals the reference (fused and unfused; CPU-shaped and adapter-shaped)`, async () => {
    for (const seed of SEEDS) {
      const next = rng(seed * 7919 + name.length);
      const t = new TestGraph();
      build(t, next);
      const want = referenceRun(t);
      // Both shapes of program: the CPU-shaped one (the same program on every
      // runtime) and the one compiled for this adapter (what `fusedet run
      // --runtime webgpu` loads: on SwiftShader, the barrier-free GEMMs).
      for (const [fuse, own] of [[true, false], [false, false], [true, true], [false, true]] as const) {
        const ex = await rt!.load(compileGraph(t.graph, own ? rt!.target : CPU, { fuse }));
        await ex.setParams(t.params);
        const got = await ex.run(t.inputs);
        for (const [o, w] of Object.entries(want)) {
          assert.is(got[o].dtype, w.dtype, `${name} ${o} dtype`);
          const exact = w.dtype !== 'f32';
          const msg = compare(got[o], w, exact ? 0 : 1e-4, exact ? 0 : 1e-4);
          assert.is(msg, '', `${name} seed ${seed} ${fuse ? 'fused' : 'unfused'}${own ? ', compiled for this adapter' : ''} output ${o}: ${msg}`);
        }
        ex.dispose();
      }
    }
  });
}

test.run();
