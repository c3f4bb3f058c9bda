// The CUDA runtime's compute capability reaches the compiler through
// compileOptionsFor: an sm_75 device gets no tensor-core (mma.sync TF32)
// kernels, an sm_90 device does, and a runtime that cannot tell leaves it unset.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import type { Program } from '../../compiler/program.js';
import { compileOptionsFor } from '../../runtime/compile-options.js';
import type { Runtime } from '../../runtime/interface.js';
import { TestGraph } from '../compiler/kernel/graphs.js';

const cuda = (computeCapability: number | undefined): Runtime => ({
  name: 'cuda',
  load: async () => { throw new Error('not used'); },
  computeCapability,
}) as unknown as Runtime;

function convGraph(): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', [1, 16, 12, 12]);
  t.output('y', t.op('conv2d', [x, t.param('w', [32, 16, 3, 3]), -1], { stride: [1], padding: [1], groups: 1 }));
  return t;
}
const mmaKernels = (p: Program): number => p.kernels.filter((k) => JSON.stringify(k.ir.body).includes('"k":"mma"')).length;

test('the capability is passed when the runtime knows it', () => {
  assert.equal(compileOptionsFor(cuda(75)), { target: 'cuda', cudaCapability: 75 });
  assert.equal(compileOptionsFor(cuda(undefined)), { target: 'cuda' });
});

test('sm_75 compiles the plain f32 GEMM, sm_90 the tensor-core one', () => {
  const prev = process.env.FUSEDET_CUDA_MATH;
  delete process.env.FUSEDET_CUDA_MATH;
  try {
    const g = convGraph().graph;
    assert.is(mmaKernels(compileGraph(g, compileOptionsFor(cuda(75)))), 0);
    assert.ok(mmaKernels(compileGraph(g, compileOptionsFor(cuda(90)))) > 0);
  } finally {
    if (prev !== undefined) process.env.FUSEDET_CUDA_MATH = prev;
  }
});

test.run();
