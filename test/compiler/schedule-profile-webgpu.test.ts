// The webgpu target's conv tiles on a real WebGPU device (Dawn/SwiftShader in
// CI): compiled for a browser's default limits (16 KiB, 256 invocations),
// they load and equal the reference; the CPU-shaped tiles would not fit. The
// software profile's barrier-free kernels run there too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { checkKernelLimits } from '../../runtime-webgpu/core.js';
import type { ComputeLimits } from '../../runtime-webgpu/device.js';
import { TestGraph, compare, referenceRun } from './kernel/graphs.js';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { CPU, webgpuTarget } from '../../compiler/target.js';

const rt = await openOrSkip('test/compiler/schedule-profile-webgpu.test.ts');
const BROWSER = { maxWorkgroupStorageBytes: 16384, maxInvocations: 256 };

function convStack(): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', [1, 3, 17, 15]);
  const a = t.op('relu', [t.op('conv2d', [x, t.param('w0', [8, 3, 7, 7]), t.param('b0', [8])], { stride: [2], padding: [3] })]);
  const b = t.op('conv2d', [a, t.param('w1', [12, 8, 3, 3]), t.param('b1', [12])], { padding: [1] });
  t.output('y', t.op('add', [t.op('conv2d', [b, t.param('w2', [12, 12, 1, 1])], {}), b]));
  return t;
}

/** Only the workgroup limits matter to checkKernelLimits; the rest are WebGPU's defaults. */
const browserLimits: ComputeLimits = {
  maxStorageBuffersPerShaderStage: 8, maxUniformBuffersPerShaderStage: 12, maxStorageBufferBindingSize: 134217728,
  maxUniformBufferBindingSize: 65536, maxBufferSize: 268435456, maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256, maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535, maxBindingsPerBindGroup: 1000, minUniformBufferOffsetAlignment: 256, minStorageBufferOffsetAlignment: 256,
};

test('CPU-shaped conv tiles exceed a browser default; webgpu-shaped ones fit', () => {
  const t = convStack();
  assert.throws(() => checkKernelLimits(compileGraph(t.graph, CPU, { fuse: true }), browserLimits), /workgroup memory/);
  checkKernelLimits(compileGraph(t.graph, webgpuTarget(BROWSER), { fuse: true }), browserLimits);
});

(rt ? test : test.skip)('webgpu-target conv stack on WebGPU equals the reference', async () => {
  const t = convStack();
  const want = referenceRun(t).y;
  for (const fuse of [true, false]) {
    const ex = await rt!.load(compileGraph(t.graph, webgpuTarget(BROWSER), { fuse }));
    await ex.setParams(t.params);
    const got = (await ex.run(t.inputs)).y;
    ex.dispose();
    assert.is(compare(got, want, 1e-4, 1e-4), '', fuse ? 'fused' : 'unfused');
  }
});

(rt ? test : test.skip)('software-profile (barrier-free) convs, matmul and weight gradient on WebGPU equal the reference', async () => {
  const t = convStack();
  const a = t.input('a', [2, 19, 30]), b = t.input('b', [2, 30, 21]);
  t.output('m', t.op('relu', [t.op('matmul', [a, b])]));
  // Groups, dilation, stride and a ragged 19-wide output row (two 10-wide tiles, the last partial).
  const g = t.op('conv2d', [t.input('g', [2, 8, 11, 37]), t.param('wg', [10, 4, 3, 3])], { stride: [2], padding: [2], dilation: [2], groups: 2 });
  t.output('gy', g);
  // Large enough (48 × 320 × 576) for the whole 3×3 window per channel step.
  t.output('big', t.op('relu', [t.op('conv2d', [t.input('bx', [1, 64, 16, 20]), t.param('bw', [48, 64, 3, 3]), t.param('bb', [48])], { padding: [1] })]));
  t.output('gw', t.op('conv2d_grad_weight', [t.input('gx', [2, 8, 11, 37]), g], { stride: [2], padding: [2], dilation: [2], groups: 2, kernel: [3, 3] }));
  const want = referenceRun(t);
  const program = compileGraph(t.graph, webgpuTarget({ ...BROWSER, software: true }), { fuse: true });
  assert.ok(program.kernels.every((k) => k.ir.locals.length === 0), 'no workgroup memory');
  const ex = await rt!.load(program);
  await ex.setParams(t.params);
  const got = await ex.run(t.inputs);
  ex.dispose();
  for (const name of ['y', 'm', 'gy', 'big', 'gw']) assert.is(compare(got[name], want[name], 1e-4, 1e-4), '', name);
});

test.run();
