// A program compiled for this runtime (Runtime.target) on this adapter:
// on a software one (SwiftShader) its convs are the barrier-free
// register-tile kernels, with no workgroup memory, and the adapter kind
// reaches the compiler; either way the outputs equal the reference.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { TestGraph, compare, referenceRun } from '../compiler/kernel/graphs.js';
import { openOrSkip } from './open.js';

const rt = await openOrSkip('test/runtime-webgpu/software-profile.test.ts');

function block(): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', [1, 6, 13, 18]);
  const a = t.op('relu', [t.op('conv2d', [x, t.param('w0', [16, 6, 3, 3]), t.param('b0', [16])], { padding: [1] })]);
  const b = t.op('conv2d', [a, t.param('w1', [10, 16, 1, 1]), t.param('b1', [10])], { stride: [2] });
  t.output('y', t.op('relu', [t.op('add', [b, t.op('conv2d', [x, t.param('w2', [10, 6, 3, 3])], { stride: [2], padding: [1] })])]));
  return t;
}

(rt ? test : test.skip)('a conv block compiled for this WebGPU adapter equals the reference', async () => {
  const t = block();
  assert.is(rt!.target.software, rt!.gpu.software, 'the adapter kind reaches the compiler');
  const program = compileGraph(t.graph, rt!.target, { fuse: true });
  const convs = program.kernels.filter((k) => k.name.includes('conv2d'));
  assert.ok(convs.length > 0);
  if (rt!.gpu.software) assert.ok(convs.every((k) => k.ir.locals.length === 0), 'software adapter: barrier-free convs');
  const ex = await rt!.load(program);
  await ex.setParams(t.params);
  const got = await ex.run(t.inputs);
  ex.dispose();
  assert.is(compare(got.y, referenceRun(t).y, 1e-4, 1e-4), '');
});

test.run();
