// Every forward op the scheduler lowers, fused and unfused, on the CPU
// runtime over randomised small shapes (odd sizes, stride 2, padding,
// dilation, groups, batch > 1), against the ops' references. All cases of a
// seed share one graph, so the whole sweep costs four C compiles, not one per
// op. Tolerance: |got - want| ≤ 1e-5 + 1e-5·|want| for f32 (summation order
// differs, libm is within an ulp); i32 and bool exactly. A case that does not
// compile is a failing test of its own (and leaves the shared graph).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../compiler/program.js';
import { Tensor, rng, tensor } from '../../compiler/tensor.js';
import { NO_SPAN } from '../../compiler/types.js';
import { Attrs } from '../../compiler/ops/op.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { TestGraph, compare, pick, referenceRun } from '../compiler/kernel/graphs.js';
import { CPU } from '../../compiler/target.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-cpu-ops-test-'));

/** A case's view of a shared graph: its names are prefixed so cases never collide. */
class Scope {
  constructor(readonly t: TestGraph, readonly prefix: string, readonly next: () => number) {}
  n(lo: number, hi: number): number { return pick(this.next, lo, hi); }
  input(name: string, shape: number[], lo = -1, hi = 1): number { return this.t.input(this.prefix + name, shape, lo, hi); }
  intInput(name: string, shape: number[], hi: number): number {
    const count = shape.reduce((a, b) => a * b, 1);
    this.t.inputs[this.prefix + name] = tensor('i32', shape, Array.from({ length: count }, () => this.n(0, hi - 1)));
    return this.t.b.input(this.prefix + name, { dtype: 'i32', shape }, NO_SPAN);
  }
  param(name: string, shape: number[], lo = -1, hi = 1): number { return this.t.param(this.prefix + name, shape, lo, hi); }
  op(name: string, inputs: number[], attrs: Attrs = {}): number { return this.t.op(name, inputs, attrs); }
  ops(name: string, inputs: number[], attrs: Attrs = {}): number[] { return this.t.ops(name, inputs, attrs); }
  k(v: number): number { return this.t.constant(v); }
  out(name: string, v: number): void { this.t.output(this.prefix + name, v); }
  nchw(): number[] { return [this.n(1, 3), this.n(1, 5), this.n(1, 9), this.n(2, 9)]; }
}

type Case = (s: Scope) => void;

const unary = (op: string, lo: number, hi: number): Case => (s) => s.out('y', s.op(op, [s.input('x', s.nchw(), lo, hi)]));
const binary = (op: string): Case => (s) => {
  const shape = s.nchw();
  s.out('y', s.op(op, [s.input('a', shape, -2, 2), s.input('b', [shape[1], 1, shape[3]], 0.25, 2)]));
};

const CASES: Record<string, Case> = {
  ...Object.fromEntries(['neg', 'abs', 'relu', 'sigmoid', 'tanh', 'exp', 'floor', 'ceil', 'softplus', 'square'].map((op) => [op, unary(op, -4, 4)])),
  ...Object.fromEntries(['log', 'sqrt', 'rsqrt'].map((op) => [op, unary(op, 0.05, 5)])),
  ...Object.fromEntries(['add', 'sub', 'mul', 'div', 'maximum', 'minimum'].map((op) => [op, binary(op)])),
  pow: (s) => s.out('y', s.op('pow', [s.input('a', s.nchw(), 0.1, 3), s.input('b', [1], -2, 2)])),
  'compare+where+logic': (s) => {
    const shape = s.nchw();
    const a = s.input('a', shape), b = s.input('b', [shape[3]]);
    const lt = s.op('lt', [a, b]);
    s.out('w', s.op('where', [s.op('logical_or', [lt, s.op('logical_not', [s.op('ge', [a, s.k(0.25)])])]), a, b]));
    s.out('m', s.op('logical_and', [s.op('ne', [a, b]), s.op('le', [a, s.k(0)])]));
    s.out('e', s.op('eq', [s.op('gt', [a, b]), lt]));
  },
  'clamp+cast': (s) => {
    const a = s.input('a', s.nchw(), -5, 5);
    s.out('c', s.op('clamp', [a], { lo: -0.75, hi: 1.5 }));
    s.out('i', s.op('cast', [s.op('mul', [a, s.k(7)])], { dtype: 'i32' }));
  },
  conv2d: (s) => {
    const g = s.n(1, 3), cin = g * s.n(1, 3), cout = g * s.n(1, 3), k = s.n(1, 3);
    const x = s.input('x', [s.n(1, 3), cin, s.n(5, 13), s.n(5, 13)]);
    const y = s.op('conv2d', [x, s.param('w', [cout, cin / g, k, k]), s.param('b', [cout])],
      { stride: [s.n(1, 2)], padding: [s.n(0, 2)], dilation: [s.n(1, 2)], groups: g });
    s.out('y', s.op('relu', [y]));
  },
  // A 20 × 20 map (N = 400) pads fewer columns in strips of 32: the 12 × 32 register tile (schedule/gemm.ts cpuRegisterTile).
  'conv2d on the tall register tile': (s) => {
    const cin = s.n(2, 5), cout = s.n(19, 24); // 19–24 rows: 4 tiles of 6 or 2 of 12, both 24
    const y = s.op('conv2d', [s.input('x', [1, cin, 20, 20]), s.param('w', [cout, cin, 3, 3]), s.param('b', [cout])], { padding: [1] });
    s.out('y', s.op('relu', [y]));
  },
  // Stride 1, rows of equal width: the input gradient packs masked runs (conv-packing.kernel.ts), across
  // row ends and image edges; kernel 3 padding 1, or kernel 3 dilation 2 padding 2, groups 1-2.
  'conv2d_grad_input (stride 1, same size)': (s) => {
    const g = s.n(1, 2), cin = g * s.n(1, 3), cout = g * s.n(1, 3), d = s.n(1, 2), h = s.n(3, 21), w = s.n(3, 21);
    const grad = s.input('g', [s.n(1, 2), cout, h, w]);
    s.out('dx', s.op('conv2d_grad_input', [grad, s.param('w', [cout, cin / g, 3, 3])],
      { stride: [1], padding: [d], dilation: [d], groups: g, size: [h, w] }));
  },
  // Few outputs of many elements (group-norm statistics): workgroups of fewer threads, spread over the cores.
  'mean over a large plane, few outputs': (s) => {
    const x = s.input('x', [s.n(1, 2), s.n(2, 9), 33, 35]);
    s.out('m', s.op('sqrt', [s.op('mean', [s.op('mul', [x, x])], { axes: [2, 3], keepdims: true })]));
  },
  // Stride 2 on even sizes: one GEMM per phase of the input (conv-grad.kernel.ts scheduleGradInputPhases), each
  // writing every other pixel of every other row through the fused epilogue; odd sizes take the single GEMM.
  'conv2d_grad_input (stride 2, phases)': (s) => {
    const [k, pad] = [[3, 1], [2, 0], [4, 1], [3, 0], [1, 0]][s.n(0, 4)]; // 1×1: three phases no tap reaches
    const cin = s.n(1, 9), cout = s.n(1, 9), oh = s.n(2, 9), ow = s.n(2, 9);
    // Mostly twice the gradient's size (the phased case where the window allows it), else the smallest size giving it.
    const twice = s.n(0, 3) > 0;
    const size = (o: number): number => (twice && Math.floor((2 * o + 2 * pad - k) / 2) + 1 === o ? 2 * o : (o - 1) * 2 + k - 2 * pad);
    const h = size(oh), w = size(ow);
    const grad = s.input('g', [s.n(1, 2), cout, oh, ow]);
    const dx = s.op('conv2d_grad_input', [grad, s.param('w', [cout, cin, k, k])], { stride: [2], padding: [pad], dilation: [1], groups: 1, size: [h, w] });
    s.out('dx', s.op('mul', [dx, s.input('m', [1, cin, h, w])]));
  },
  'conv2d 1x1 stride 2 + add': (s) => {
    const cin = s.n(3, 17), cout = s.n(3, 17), shape = [s.n(1, 2), cin, s.n(4, 11), s.n(4, 11)];
    const y = s.op('conv2d', [s.input('x', shape), s.param('w', [cout, cin, 1, 1])], { stride: [2], padding: [0] });
    s.out('y', s.op('sigmoid', [s.op('add', [y, s.param('b', [cout, 1, 1])])]));
  },
  matmul: (s) => {
    const m = s.n(1, 19), k = s.n(1, 19), n = s.n(1, 19);
    s.out('y', s.op('tanh', [s.op('add', [s.op('matmul', [s.input('a', [s.n(1, 3), m, k]), s.input('b', [k, n])]), s.input('c', [n])])]));
  },
  group_norm: (s) => {
    const g = s.n(1, 3), c = g * s.n(1, 3);
    s.out('y', s.op('group_norm', [s.input('x', [s.n(1, 2), c, s.n(1, 6), s.n(2, 6)]), s.param('w', [c]), s.param('b', [c])], { groups: g }));
  },
  // The CPU's group norm sums in vector lanes with a scalar tail (646 elements per group here) and normalises channel by channel.
  'group_norm on larger planes + relu + add': (s) => {
    const x = s.input('x', [2, 8, 17, 19]);
    const y = s.op('group_norm', [x, s.param('w', [8]), s.param('b', [8])], { groups: 4 });
    s.out('y', s.op('add', [s.op('relu', [y]), s.input('r', [2, 8, 17, 19])]));
  },
  frozen_bn: (s) => {
    const shape = s.nchw(), c = shape[1];
    s.out('y', s.op('relu', [s.op('frozen_bn', [s.input('x', shape), s.param('w', [c]), s.param('b', [c]), s.param('m', [c]), s.param('v', [c], 0.5, 2)])]));
  },
  max_pool2d: (s) => s.out('y', s.op('max_pool2d', [s.input('x', [s.n(1, 2), s.n(1, 4), s.n(3, 9), s.n(3, 9)])], { kernel: [s.n(1, 3)], stride: [s.n(1, 2)], padding: [0] })),
  resize: (s) => {
    const x = s.input('x', s.nchw());
    s.out('n', s.op('resize', [x], { size: [s.n(1, 11), s.n(1, 11)], mode: 'nearest' }));
    s.out('b', s.op('resize', [x], { size: [s.n(1, 11), s.n(1, 11)], mode: 'bilinear' }));
  },
  layout: (s) => {
    const shape = s.nchw();
    const a = s.input('a', shape), b = s.input('b', shape);
    const c = s.op('concat', [a, b], { axis: 1 });
    s.out('t', s.op('transpose', [s.op('slice', [c], { axis: 1, start: 1, end: shape[1] * 2, step: 2 })], { perm: [0, 2, 3, 1] }));
    s.out('r', s.op('reshape', [a], { shape: [shape[0] * shape[1], shape[2] * shape[3]] }));
    s.out('f', s.op('flatten', [b], { start: 1 }));
    s.out('e', s.op('expand', [s.input('c', [1, shape[1], 1, 1])], { shape }));
    s.out('s', s.op('stack', [a, b], { axis: 0 }));
  },
  gather: (s) => {
    const shape = [s.n(2, 6), s.n(2, 7)];
    const x = s.input('x', shape);
    s.out('g', s.op('gather', [x, s.intInput('gi', [shape[0], s.n(1, 5)], shape[1])], { axis: 1 }));
    s.out('i', s.op('index_select', [x, s.intInput('ii', [s.n(1, 7)], shape[0])], { axis: 0 }));
  },
  create: (s) => {
    s.out('a', s.op('arange', [], { n: s.n(1, 30), dtype: 'i32' }));
    s.out('f', s.op('full', [], { shape: [3, s.n(1, 5)], value: -1.5 }));
    s.out('l', s.op('locations', [s.input('x', s.nchw())], { stride: 16 }));
  },
  reduce: (s) => {
    const x = s.input('x', s.nchw());
    s.out('s', s.op('sum', [x], { axes: [1, 3] }));
    s.out('m', s.op('mean', [s.op('exp', [x])], { axes: [2], keepdims: true }));
    s.out('x', s.op('max', [x], { axes: [] }));
    s.out('n', s.op('min', [x], { axes: [3] }));
    s.out('a', s.op('argmax', [x], { axis: 1 }));
  },
  topk: (s) => {
    const c = s.n(3, 50);
    s.ops('topk', [s.input('x', [s.n(1, 3), c])], { k: s.n(1, Math.min(c, 9)) }).forEach((v, i) => s.out(`o${i}`, v));
  },
  sort: (s) => s.ops('sort', [s.input('x', [s.n(1, 3), s.n(2, 50)])], { descending: true }).forEach((v, i) => s.out(`o${i}`, v)),
  max3d: (s) => {
    const hw = s.n(5, 11);
    const levels = [0, 1, 2].map((l) => s.input(`p${l}`, [s.n(1, 1), 2, Math.max(1, hw >> l), Math.max(1, hw >> l)], 0, 1));
    s.ops('max3d', levels, { tau: 2, phi: 3 }).forEach((v, i) => s.out(`o${i}`, v));
  },
  boxes: (s) => {
    const m = s.n(1, 11);
    const boxes = s.op('box_decode', [s.input('p', [m, 2], 0, 64), s.input('d', [s.n(1, 2), m, 4], 0, 16)]);
    s.out('b', boxes);
    s.out('iou', s.op('box_iou_aligned', [boxes, s.op('add', [boxes, s.k(1.5)])]));
  },
};

// Probe each case alone: only compiling is probed, so a broken case fails below, not skips.
const ready: string[] = [];
for (const [name, build] of Object.entries(CASES)) {
  const probe = new TestGraph();
  build(new Scope(probe, '', rng(99)));
  try {
    compileGraph(probe.graph, CPU, { fuse: true });
    compileGraph(probe.graph, CPU, { fuse: false });
    ready.push(name);
  } catch (e) {
    test(`${name} compiles for the CPU runtime (fused and unfused)`, () => { throw e; });
  }
}

interface Outcome { got: Record<string, Tensor>; want: Record<string, Tensor> }
const outcomes = new Map<string, Outcome>(); // key: `${seed} ${fused}`
const SEEDS = [1, 2];
const runtime = new CpuRuntime();
for (const seed of SEEDS) {
  const t = new TestGraph();
  ready.forEach((name, i) => CASES[name](new Scope(t, `c${i}_`, rng(seed * 7919 + i))));
  const want = referenceRun(t);
  for (const fused of [true, false]) {
    const exe = await runtime.load(compileGraph(t.graph, CPU, { fuse: fused }));
    await exe.setParams(t.params);
    outcomes.set(`${seed} ${fused}`, { got: await exe.run(t.inputs), want });
    exe.dispose();
  }
}

ready.forEach((name, i) => {
  test(`${name} on the CPU runtime equals the reference (fused and unfused)`, () => {
    for (const [key, { got, want }] of outcomes) {
      const mine = Object.keys(want).filter((o) => o.startsWith(`c${i}_`));
      assert.ok(mine.length > 0, `${name}: no outputs`);
      for (const o of mine) {
        const exact = want[o].dtype !== 'f32';
        const msg = compare({ ...got[o], shape: want[o].shape }, want[o], exact ? 0 : 1e-5, exact ? 0 : 1e-5);
        assert.is(msg, '', `${name} (seed, fused = ${key}) output ${o.slice(`c${i}_`.length)}: ${msg}`);
      }
    }
  });
});

test.run();
