// The CUDA warp-per-output reduction schedule (ops/reduce.kernel.ts with
// its lane-strided loops and shuffle-xor butterflies) on the
// kernel-IR interpreter against the ops' references, with fused prologue and
// epilogue; and what it leaves alone (other targets, short reductions).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuse } from '../../compiler/fuse.js';
import { makeTarget, type TargetName } from '../../compiler/target.js';
import { LOWERINGS } from '../../compiler/schedule/index.js';
import { scheduleReduce } from '../../compiler/ops/reduce.kernel.js';
import type { Scheduled } from '../../compiler/schedule/index.js';
import { validateKernel } from '../../compiler/kernel/validate.js';
import { runKernel } from '../../compiler/kernel/interpret.js';
import { hasWarpCollective } from '../../compiler/kernel/ir.js';
import { CudaRenderer } from '../../compiler/render/cuda.js';
import { allocData, rng } from '../../compiler/tensor.js';
import type { Tensor } from '../../compiler/tensor.js';
import { numel } from '../../compiler/types.js';
import { TestGraph, compare, pick, referenceRun } from './kernel/graphs.js';
import { hasTool, nvccCompile } from './kernel/toolchain.js';

/** The single fusion group of t scheduled by scheduleReduce for `target`, run on the interpreter. */
function runReduce(t: TestGraph, target: TargetName): { s: Scheduled; out: Tensor } {
  const graph = t.graph;
  const groups = fuse(graph, { fuse: true });
  assert.is(groups.length, 1, 'one kernel');
  const g = groups[0];
  const s = scheduleReduce(graph, new Set(g.nodes), g.anchor, g.sink, LOWERINGS, makeTarget(target));
  validateKernel({ name: 'k0_reduce', ...s.kernel });
  const feeds: Record<number, Tensor> = {};
  for (const n of graph.nodes) if (n.op === 'input') feeds[n.outputs[0]] = t.inputs[String(n.attrs.name)];
  const outValue = graph.outputs[0].value;
  const outT = graph.values[outValue].type;
  const bufs = s.bufValues.map((val) => (feeds[val] ? feeds[val].data : allocData(graph.values[val].type.dtype, numel(graph.values[val].type.shape))));
  runKernel({ name: 'k0_reduce', ...s.kernel }, bufs, s.args, s.grid);
  return { s, out: { dtype: outT.dtype, shape: [...outT.shape], data: bufs[s.bufValues.indexOf(outValue)] } };
}

test('sum, mean, max, min over axes with a fused prologue and epilogue: warp lanes + butterfly equal the reference', () => {
  const next = rng(8);
  for (const op of ['sum', 'mean', 'max', 'min']) {
    for (let trial = 0; trial < 3; trial++) {
      const shape = [pick(next, 1, 3), pick(next, 5, 40), pick(next, 2, 9)];
      const axes = trial === 0 ? [1] : trial === 1 ? [1, 2] : [0, 1, 2];
      const t = new TestGraph();
      const x = t.input('x', shape);
      const red = t.op(op, [t.op('mul', [x, t.op('exp', [x])])], { axes, keepdims: trial === 1 });
      t.output('y', t.op('sqrt', [t.op('add', [red, t.constant(8)])]));
      const count = axes.reduce((n, d) => n * shape[d], 1);
      const { s, out } = runReduce(t, 'cuda');
      assert.is(hasWarpCollective(s.kernel.body), count >= 32, `${op} ${shape} axes ${axes}: lanes iff ≥ 32 elements`);
      const msg = compare(out, referenceRun(t).y, 1e-5, 1e-5);
      assert.is(msg, '', `${op} ${shape} axes ${axes}: ${msg}`);
    }
  }
});

test('NaN wins a max through the butterfly; the last, partial block of warps stores only real outputs', () => {
  const t = new TestGraph();
  const x = t.input('x', [11, 70]);
  t.inputs.x.data[3 * 70 + 41] = NaN;
  t.output('y', t.op('max', [x], { axes: [1] }));
  const { s, out } = runReduce(t, 'cuda');
  assert.is(s.grid, 2, '11 outputs, 8 warps a block');
  assert.is(compare(out, referenceRun(t).y, 0, 0), '');
  assert.ok(Number.isNaN(out.data[3]));
});

test('a workgroup per output from 2048 elements: butterflies, one barrier, partials in workgroup memory', () => {
  for (const [op, shape, axes] of [['sum', [3, 2500], [1]], ['mean', [40, 60], [0, 1]], ['max', [2, 30, 80], [1, 2]], ['min', [2, 2100], [1]]] as const) {
    const t = new TestGraph();
    const x = t.input('x', [...shape]);
    t.output('y', t.op('sqrt', [t.op('add', [t.op(op, [t.op('mul', [x, x])], { axes: [...axes] }), t.constant(1)])]));
    const { s, out } = runReduce(t, 'cuda');
    assert.is(s.kernel.workgroupSize, 256, op);
    assert.ok(JSON.stringify(s.kernel.body).includes('"k":"barrier"'), `${op}: one barrier`);
    const msg = compare(out, referenceRun(t).y, 1e-5, 1e-5);
    assert.is(msg, '', `${op}: ${msg}`);
  }
});

test('an epilogue value computed before the barrier sends the group to the warp form', () => {
  const t = new TestGraph();
  const x = t.input('x', [3, 2200]), y = t.input('w', [3]);
  t.output('y', t.op('mul', [t.op('exp', [y]), t.op('sum', [x], { axes: [1] })]));
  const { s, out } = runReduce(t, 'cuda');
  assert.is(s.kernel.workgroupSize, 256);
  assert.not.ok(JSON.stringify(s.kernel.body).includes('"k":"barrier"'), 'warp form: no barrier');
  assert.is(compare(out, referenceRun(t).y, 1e-5, 1e-5), '');
});

test('other targets keep the one-thread-per-output schedule', () => {
  const t = new TestGraph();
  t.output('y', t.op('sum', [t.input('x', [4, 100])], { axes: [1] }));
  for (const target of ['cpu', 'webgpu'] as const) assert.not.ok(hasWarpCollective(runReduce(t, target).s.kernel.body), target);
});

(hasTool('nvcc') ? test : test.skip)('the warp reduction compiles with nvcc for sm_90 and sm_75', () => {
  const t = new TestGraph();
  const x = t.input('x', [3, 50, 7]);
  t.output('y', t.op('mean', [t.op('mul', [x, x])], { axes: [1, 2] }));
  const { s } = runReduce(t, 'cuda');
  const unit = new CudaRenderer().unit([{ name: 'k0_mean', ...s.kernel }]);
  assert.match(unit, /__shfl_xor_sync\(0xffffffffu, acc_\d+, 16\)/);
  assert.match(nvccCompile(unit), /Compiling entry function 'k0_mean' for 'sm_75'/);
});

test.run();
