// The CUDA runtime's compute capability and math reach the compiler through
// its target (Runtime.target): an sm_75 device gets no tensor-core (mma.sync
// TF32) kernels, an sm_90 device does, and a runtime that cannot open its
// device reports the sm_80+ default (load() then says why).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import type { Program } from '../../compiler/program.js';
import { CudaRuntime } from '../../runtime-cuda/runtime.js';
import type { CudaDevice } from '../../runtime-cuda/device.js';
import { CudaUnavailable } from '../../runtime-cuda/errors.js';
import { TestGraph } from '../compiler/kernel/graphs.js';

const device = (cc: number) => (): CudaDevice => ({ info: { cc } }) as unknown as CudaDevice;
const absent = (): CudaDevice => { throw new CudaUnavailable('no driver (test)'); };

function convGraph(): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', [1, 16, 12, 12]);
  t.output('y', t.op('conv2d', [x, t.param('w', [32, 16, 3, 3]), -1], { stride: [1], padding: [1], groups: 1 }));
  return t;
}
const mmaKernels = (p: Program): number => p.kernels.filter((k) => JSON.stringify(k.ir.body).includes('"k":"mma"')).length;

test('the target carries the device capability, or the default when it cannot open', () => {
  assert.is(new CudaRuntime(undefined, device(75)).target.cudaCapability, 75);
  assert.is(new CudaRuntime(undefined, absent).target.cudaCapability, 90);
  assert.is(new CudaRuntime(undefined, device(90)).target.cudaMath, 'tf32');
  assert.is(new CudaRuntime(undefined, device(90), { math: 'bf16' }).target.cudaMath, 'bf16');
});

test('sm_75 compiles the plain f32 GEMM, sm_90 the tensor-core one; f32 math never mma', () => {
  const g = convGraph().graph;
  assert.is(mmaKernels(compileGraph(g, new CudaRuntime(undefined, device(75)).target)), 0);
  assert.ok(mmaKernels(compileGraph(g, new CudaRuntime(undefined, device(90)).target)) > 0);
  assert.is(mmaKernels(compileGraph(g, new CudaRuntime(undefined, device(90), { math: 'f32' }).target)), 0);
});

test.run();
