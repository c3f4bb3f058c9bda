// The tiny DeFCN forward (models/defcn.fd: ResNet-18-shaped backbone at
// width 8, FPN and head at 16 channels, 2 classes, 64×64 image) compiled and
// run on WebGPU, against the reference interpreter and, where it can run
// here, the CPU runtime. Tolerance: |a - b| / max(|b|, 1e-3·max|b|) ≤ 2e-3
// per output (the `fusedet run --compare` measure).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { interpret } from '../../compiler/interpret.js';
import { compileGraph } from '../../compiler/program.js';
import { openOrSkip } from './open.js';
import { testUnless } from '../helpers/skip.js';
import { within } from '../helpers/compare.js';
import { requireRuntime } from '../../runtime/select.js';
import type { Graph } from '../../compiler/graph.js';
import type { Tensor } from '../../compiler/tensor.js';
import type { Program } from '../../compiler/program.js';
import { tinyDefcn, relError } from './tiny-defcn.js';
import { CPU } from '../../compiler/target.js';

const rt = await openOrSkip('test/runtime-webgpu/defcn.test.ts');
const gpuTest = rt ? test : test.skip;

// The CPU runtime's absence is decided at registration: it skips the second test, counted.
const { probeCpu } = await import('../../runtime-cpu/load.js');
const cpuWhy = rt ? await probeCpu() : undefined;
if (rt) requireRuntime('cpu', cpuWhy);

/** The tiny DeFCN compiled and run on WebGPU once, shared by the two tests below. */
let onGpu: Promise<{ graph: Graph; params: Map<string, Tensor>; inputs: Record<string, Tensor>; compiled: Program; got: Record<string, Tensor> }> | undefined;
function runOnGpu() {
  onGpu ??= (async () => {
    const { graph, params, inputs } = tinyDefcn();
    const compiled = compileGraph(graph, CPU, { fuse: true });
    const ex = await rt!.load(compiled);
    await ex.setParams(params);
    const got = await ex.run(inputs);
    ex.dispose();
    return { graph, params, inputs, compiled, got };
  })();
  return onGpu;
}

gpuTest('tiny DeFCN forward on WebGPU equals the reference', async () => {
  const { graph, params, inputs, got } = await runOnGpu();
  const want = interpret(graph, inputs, params);
  assert.equal(Object.keys(got).sort(), graph.outputs.map((o) => o.name).sort());
  for (const o of graph.outputs) {
    const e = relError(got[o.name].data, want[o.name].data);
    assert.ok(within(e, 2e-3), `${o.name}: WebGPU vs reference relative error ${e.toExponential(2)}`);
  }
});

(rt ? testUnless(cpuWhy) : gpuTest)('tiny DeFCN forward on WebGPU equals the CPU runtime', async () => {
  const { graph, params, inputs, compiled, got } = await runOnGpu();
  const { CpuRuntime } = await import('../../runtime-cpu/runtime.js');
  const cpu = await new CpuRuntime().load(compiled);
  await cpu.setParams(params);
  const viaCpu = await cpu.run(inputs);
  for (const o of graph.outputs) {
    const e = relError(got[o.name].data, viaCpu[o.name].data);
    assert.ok(within(e, 2e-3), `${o.name}: WebGPU vs CPU runtime relative error ${e.toExponential(2)}`);
  }
  cpu.dispose();
});

gpuTest('tiny DeFCN compiled for this adapter (Runtime.target, as fusedet run does) equals the reference', async () => {
  const { graph, params, inputs } = tinyDefcn();
  const want = interpret(graph, inputs, params);
  const ex = await rt!.load(compileGraph(graph, rt!.target, { fuse: true }));
  await ex.setParams(params);
  const got = await ex.run(inputs);
  for (const o of graph.outputs) {
    const e = relError(got[o.name].data, want[o.name].data);
    assert.ok(e <= 2e-3, `${o.name}: WebGPU (adapter-shaped) vs reference relative error ${e.toExponential(2)}`);
  }
  ex.dispose();
});

test.run();
