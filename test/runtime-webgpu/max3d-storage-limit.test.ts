// DeFCN's 3D Max Filtering block (models/defcn.fd DeFCNHead: a conv shared
// over the five levels, max3d, the residual, GroupNorm + ReLU, the filter
// conv), forward and backward, compiled for a WebGPU device that allows 8
// storage buffers per shader stage (a browser's default). max3d and its
// gradient ops over five levels would bind 10 and 15 buffers in one launch;
// their schedules split the pyramid into launches within the limit
// (compiler/ops/max3d-launches.kernel.ts), so no kernel binds more than 8
// and the runtime needs no workaround. On SwiftShader the loss and every
// gradient equal the reference interpreter within 2e-3 (|a - b| /
// max(|b|, 1e-3·max|b|), the `fusedet run --compare` measure).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { differentiate } from '../../compiler/autodiff.js';
import { interpret } from '../../compiler/interpret.js';
import { compileGraph } from '../../compiler/program.js';
import type { Tensor } from '../../compiler/tensor.js';
import type { Graph } from '../../compiler/graph.js';
import { TestGraph } from '../compiler/kernel/graphs.js';
import { within } from '../helpers/compare.js';
import { openOrSkip } from './open.js';
import { relError } from './tiny-defcn.js';

const LIMIT = 8;
const C = 4;
/** P3–P7 of a 128×96 image. */
const SIZES = [[16, 12], [8, 6], [4, 3], [2, 2], [1, 1]] as const;

const rt = await openOrSkip('test/runtime-webgpu/max3d-storage-limit.test.ts', { maxStorageBuffers: LIMIT });
const gpuTest = rt ? test : test.skip;

/** The 3DMF block over SIZES and a weighted sum of its filter logits as the loss, differentiated. */
function mf3dStep(tau: number, phi: number): { graph: Graph; names: string[]; inputs: Record<string, Tensor>; params: Map<string, Tensor> } {
  const t = new TestGraph();
  const conv = { w: t.param('mf_conv.weight', [C, C, 3, 3], -0.3, 0.3), b: t.param('mf_conv.bias', [C]) };
  const norm = { w: t.param('mf_norm.weight', [C], 0.5, 1.5), b: t.param('mf_norm.bias', [C]) };
  const filter = t.param('filter.weight', [1, C, 3, 3], -0.3, 0.3);
  const xs = SIZES.map(([h, w], l) => t.input(`x${l}`, [1, C, h, w]));
  const fs = t.ops('max3d', xs.map((x) => t.op('conv2d', [x, conv.w, conv.b], { padding: [1, 1] })), { tau, phi });
  let loss = -1;
  fs.forEach((f, l) => {
    const y = t.op('conv2d', [t.op('relu', [t.op('group_norm', [t.op('add', [f, xs[l]]), norm.w, norm.b], { groups: 2 })]), filter], { padding: [1, 1] });
    const [h, w] = SIZES[l];
    const s = t.op('sum', [t.op('mul', [y, t.input(`r${l}`, [1, 1, h, w])])], { axes: [], keepdims: false });
    loss = loss < 0 ? s : t.op('add', [loss, s]);
  });
  t.output('loss', loss);
  const { graph, grads } = differentiate(t.graph, 'loss');
  return { graph, names: ['loss', ...[...grads.keys()].map((n) => `grad/${n}`)], inputs: t.inputs, params: new Map(Object.entries(t.params)) };
}

for (const [tau, phi] of [[2, 3], [4, 3]] as const) {
  gpuTest(`3DMF forward + backward (τ ${tau}, φ ${phi}) on a device allowing ${LIMIT} storage buffers: no launch binds more, results equal the reference`, async () => {
    assert.is(rt!.target.maxStorageBuffers, LIMIT);
    const step = mf3dStep(tau, phi);
    const program = compileGraph(step.graph, rt!.target, { fuse: true });
    program.launches.forEach((l, i) => assert.ok(l.buffers.length <= LIMIT, `launch ${i} (${program.kernels[l.kernel].name}) binds ${l.buffers.length} storage buffers`));
    const max3dLaunches = (op: string): number => program.launches.filter((l) => program.kernels[l.kernel].name.endsWith(`_${op}`)).length;
    for (const op of ['max3d', 'max3d_argmax', 'max3d_argmax_grad']) assert.ok(max3dLaunches(op) > 1, `${op}: the pyramid in more than one launch`);
    const want = interpret(step.graph, step.inputs, step.params);
    const exe = await rt!.load(program);
    try {
      await exe.setParams(step.params);
      const got = await exe.run(step.inputs);
      for (const name of step.names) {
        const e = relError(got[name].data, want[name].data);
        assert.ok(within(e, 2e-3), `${name}: WebGPU vs reference relative error ${e.toExponential(2)}`);
      }
      assert.ok(step.names.includes('grad/mf_conv.weight'), 'the gradient reaches the conv before max3d');
    } finally {
      exe.dispose();
    }
  });
}

test.after(() => rt?.destroy());
test.run();
