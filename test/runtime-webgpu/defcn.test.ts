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
import { tinyDefcn, relError } from './tiny-defcn.js';
import { CPU } from '../../compiler/target.js';

const rt = await openOrSkip('test/runtime-webgpu/defcn.test.ts');
const gpuTest = rt ? test : test.skip;

gpuTest('tiny DeFCN forward on WebGPU equals the reference and the CPU runtime', async () => {
  const { graph, params, inputs } = tinyDefcn();
  const want = interpret(graph, inputs, params);
  const compiled = compileGraph(graph, CPU, { fuse: true });
  const ex = await rt!.load(compiled);
  await ex.setParams(params);
  const got = await ex.run(inputs);
  assert.equal(Object.keys(got).sort(), graph.outputs.map((o) => o.name).sort());
  for (const o of graph.outputs) {
    const e = relError(got[o.name].data, want[o.name].data);
    assert.ok(e <= 2e-3, `${o.name}: WebGPU vs reference relative error ${e.toExponential(2)}`);
  }
  ex.dispose();

  const { probeCpu } = await import('../../runtime-cpu/load.js');
  const why = await probeCpu();
  if (why) { console.log(`SKIP DeFCN WebGPU vs CPU runtime: ${why}`); return; }
  const { CpuRuntime } = await import('../../runtime-cpu/runtime.js');
  const cpu = await new CpuRuntime().load(compiled);
  await cpu.setParams(params);
  const viaCpu = await cpu.run(inputs);
  for (const o of graph.outputs) {
    const e = relError(got[o.name].data, viaCpu[o.name].data);
    assert.ok(e <= 2e-3, `${o.name}: WebGPU vs CPU runtime relative error ${e.toExponential(2)}`);
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
