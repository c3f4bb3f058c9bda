// The tiny DeFCN forward (models/defcn.fd: ResNet-18-shaped backbone at
// width 8, FPN and head at 16 channels, 2 classes, 64×64 image) compiled and
// run on WebGPU, against the reference interpreter and, where it can run
// here, the CPU runtime. Tolerance: |a - b| / max(|b|, 1e-3·max|b|) ≤ 2e-3
// per output (the `fusedet run --compare` measure).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { initParams } from '../../compiler/init.js';
import { interpret } from '../../compiler/interpret.js';
import { compileGraph } from '../../compiler/program.js';
import { parseArgSpecs, parseInputSpecs } from '../../cli/input-spec.js';
import { randomTensor, type Tensor } from '../../compiler/tensor.js';
import { openOrSkip } from './open.js';

const rt = await openOrSkip('test/runtime-webgpu/defcn.test.ts');
const gpuTest = rt ? test : test.skip;

function relError(got: Tensor, want: Tensor): number {
  let scale = 0;
  for (const v of want.data) scale = Math.max(scale, Math.abs(v));
  const floor = Math.max(1e-3 * scale, 1e-30);
  let worst = 0;
  for (let i = 0; i < want.data.length; i++) {
    if (Number.isNaN(got.data[i]) !== Number.isNaN(want.data[i])) return Infinity;
    if (!Number.isNaN(want.data[i])) worst = Math.max(worst, Math.abs(got.data[i] - want.data[i]) / Math.max(Math.abs(want.data[i]), floor));
  }
  return worst;
}

gpuTest('tiny DeFCN forward on WebGPU equals the reference and the CPU runtime', async () => {
  const file = fileURLToPath(new URL('../../../models/defcn.fd', import.meta.url));
  const { program, diagnostics } = checkFiles([file]);
  assert.ok(program && !diagnostics.some((d) => d.severity === 'error'), 'models/defcn.fd checks');
  const graph = lower(program!, {
    entry: 'DeFCN', inputs: parseInputSpecs(['image=f32[1,3,64,64]']),
    args: parseArgSpecs(['K=2', 'depth=18', 'C=16', 'groups=4', 'width=8']),
  });
  const params = initParams(graph, 0);
  const inputs = { image: randomTensor([1, 3, 64, 64], 1) };
  const want = interpret(graph, inputs, params);
  const compiled = compileGraph(graph, { fuse: true });
  const ex = await rt!.load(compiled);
  await ex.setParams(params);
  const got = await ex.run(inputs);
  assert.equal(Object.keys(got).sort(), graph.outputs.map((o) => o.name).sort());
  for (const o of graph.outputs) {
    const e = relError(got[o.name], want[o.name]);
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
    const e = relError(got[o.name], viaCpu[o.name]);
    assert.ok(e <= 2e-3, `${o.name}: WebGPU vs CPU runtime relative error ${e.toExponential(2)}`);
  }
  cpu.dispose();
});

test.run();
