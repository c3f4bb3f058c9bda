// Kernel IR: validation rules, structural hash, and the interpreter's
// workgroup semantics (barriers inside a uniform loop), cross-checked with
// the C rendering of the same hand-written kernel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kernel, Stmt } from '../../../compiler/kernel/ir.js';
import {
  add, arg, barrier, f32, for_, gid, idx, if_, let_, lid, load, lload, lstore, lt, mul, store, v, bin, sel,
} from '../../../compiler/kernel/build.js';
import { validateKernel } from '../../../compiler/kernel/validate.js';
import { kernelHash } from '../../../compiler/kernel/hash.js';
import { runKernel } from '../../../compiler/kernel/interpret.js';
import { Program } from '../../../compiler/program.js';
import { GraphBuilder } from '../../../compiler/graph.js';
import { NO_SPAN } from '../../../compiler/types.js';
import { hasTool, runC } from './toolchain.js';

const WG = 8;
/** Per-workgroup sum of 8 values by a tree reduction: log2(8) barrier-separated steps in a uniform loop. */
function treeSum(name = 'k0_tree'): Kernel {
  const body: Stmt[] = [
    lstore('sh', lid, load(0, add(mul(gid, idx(WG)), lid), 'f32')),
    barrier,
    for_('s', idx(0), idx(3), [
      let_('stride', 'i64', sel(bin('eq', v('s'), idx(0)), idx(4), sel(bin('eq', v('s'), idx(1)), idx(2), idx(1)))),
      if_(lt(lid, v('stride')), [lstore('sh', lid, bin('add', lload('sh', lid, 'f32'), lload('sh', add(lid, v('stride')), 'f32')))]),
      barrier,
    ]),
    if_(bin('eq', lid, idx(0)), [store(1, gid, lload('sh', idx(0), 'f32'))]),
  ];
  return { name, bufs: [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }], nargs: 0, workgroupSize: WG, locals: [{ name: 'sh', t: 'f32', size: WG }], regs: [], body };
}

test('validator accepts a well-formed kernel with barriers in a uniform loop', () => {
  validateKernel(treeSum());
});

test('validator rejects what a renderer could not honour', () => {
  const base = treeSum();
  const bad = (body: Stmt[], extra: Partial<Kernel> = {}): Kernel => ({ ...base, ...extra, body });
  const cases: [string, Kernel, RegExp][] = [
    ['store to read-only', bad([store(0, idx(0), f32(1))]), /read-only/],
    ['undeclared variable', bad([store(1, idx(0), v('nope', 'f32'))]), /outside its scope/],
    ['barrier under a thread-dependent if', bad([if_(lt(lid, idx(2)), [barrier])]), /varies by thread/],
    ['let used across a barrier', bad([let_('a', 'f32', f32(1)), barrier, store(1, idx(0), v('a', 'f32'))]), /outside its scope/],
    ['type mismatch', bad([store(1, idx(0), bin('add', f32(1), idx(2)))]), /add of f32 and i64/],
    ['arg out of range', bad([store(1, arg(0), f32(1))]), /arg 0 out of range/],
    ['constant index out of bounds', bad([lstore('sh', idx(8), f32(0))]), /out of bounds/],
    ['bad name', { ...base, name: 'k-1' }, /bad name/],
    // A WGSL loop bound of 0.5 is a type error (f32 minus i32); C would have compiled it as a double.
    ['fractional index constant', bad([for_('q', idx(0), { k: 'const', t: 'i64', v: 0.5 }, [])]), /i64 constant 0.5 is not an integer/],
  ];
  for (const [what, k, re] of cases) assert.throws(() => validateKernel(k), re, what);
});

test('structural hash ignores the name, sees every structural change', () => {
  const a = treeSum('k0_a'), b = treeSum('k7_b');
  assert.is(kernelHash(a), kernelHash(b));
  assert.is.not(kernelHash(a), kernelHash({ ...a, workgroupSize: 16 }));
  assert.is.not(kernelHash(a), kernelHash({ ...a, body: a.body.slice(0, -1) }));
  assert.is.not(kernelHash(a), kernelHash({ ...a, locals: [{ name: 'sh', t: 'f32', size: 9 }] }));
});

test('interpreter: threads run in lockstep between barriers (tree reduction)', () => {
  const x = Float32Array.from({ length: 3 * WG }, (_, i) => i + 1);
  const out = new Float32Array(3);
  runKernel(treeSum(), [x, out], [], 3);
  assert.equal([...out], [36, 100, 164]);
});

test('interpreter reports out-of-bounds accesses', () => {
  const k: Kernel = { ...treeSum(), body: [store(1, idx(5), f32(1))] };
  assert.throws(() => runKernel(k, [new Float32Array(8), new Float32Array(3)], [], 1), /out of bounds/);
});

const cTest = hasTool('cc') ? test : test.skip;
cTest('the C rendering splits the thread loop at barriers inside loops and agrees', () => {
  const g = new GraphBuilder();
  const xv = g.input('x', { dtype: 'f32', shape: [3 * WG] }, NO_SPAN);
  g.output('y', g.node('sum', [xv], {}, [{ dtype: 'f32', shape: [3] }], NO_SPAN, '')[0]);
  const k = treeSum();
  const program: Program = {
    buffers: [{ id: 0, bytes: 3 * WG * 4, dtype: 'f32', role: 'input', name: 'x' }, { id: 1, bytes: 12, dtype: 'f32', role: 'output', name: 'y' }],
    kernels: [{ name: k.name, hash: kernelHash(k), ir: k, workgroupSize: WG }],
    launches: [{ kernel: 0, buffers: [0, 1], args: [], grid: 3 }],
    inputs: { x: 0 }, outputs: { y: 1 }, params: {}, peakBytes: 3 * WG * 4 + 12,
  };
  const x = Float32Array.from({ length: 3 * WG }, (_, i) => i + 1);
  const y = runC(program, g.graph, { x: { dtype: 'f32', shape: [3 * WG], data: x } }, {});
  assert.equal([...y.y.data], [36, 100, 164]);
});

test.run();
