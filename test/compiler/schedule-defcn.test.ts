// The whole DeFCN forward (tiny backbone), lowered from models/defcn.fd,
// compiled fused and unfused, equals the reference interpreter: on the CPU
// runtime where it loads, and always on the kernel-IR interpreter.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { interpret } from '../../compiler/interpret.js';
import { initParams } from '../../compiler/init.js';
import { compileGraph } from '../../compiler/program.js';
import { runProgram } from '../../compiler/kernel/run-program.js';
import { randomTensor } from '../../compiler/tensor.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { probeCpu } from '../../runtime-cpu/load.js';
import { compare } from './kernel/graphs.js';
import { CPU } from '../../compiler/target.js';

const { program, diagnostics } = checkFiles(['models/defcn.fd']);
if (!program) throw new Error(diagnostics.map((d) => d.message).join('\n'));
const graph = lower(program, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [2, 3, 32, 32] } }, args: { depth: 0, width: 4, C: 16, K: 3, groups: 4 } });
const params = initParams(graph, 1);
const inputs = { image: randomTensor([2, 3, 32, 32], 5) };
const want = interpret(graph, inputs, params);
const paramRecord = Object.fromEntries(params);

test('tiny DeFCN forward on the kernel-IR interpreter equals the reference (fused and unfused)', () => {
  for (const fuse of [true, false]) {
    const p = compileGraph(graph, CPU, { fuse });
    const got = runProgram(p, graph, inputs, paramRecord);
    for (const [name, w] of Object.entries(want)) assert.is(compare(got[name], w, 1e-4, 1e-3), '', `${fuse ? 'fused' : 'unfused'} ${name}`);
  }
});

const why = await probeCpu();
if (why) console.log(`SKIP tiny DeFCN on the CPU runtime: ${why}`);
(why ? test.skip : test)('tiny DeFCN forward on the CPU runtime equals the reference; fusion cuts launches', async () => {
  const fused = compileGraph(graph, CPU, { fuse: true });
  assert.ok(fused.launches.length < 0.7 * fused.report!.kernelsBefore, `${fused.launches.length} launches of ${fused.report!.kernelsBefore} ops`);
  const exe = await new CpuRuntime().load(fused);
  try {
    await exe.setParams(params);
    const got = await exe.run(inputs);
    for (const [name, w] of Object.entries(want)) assert.is(compare(got[name], w, 1e-4, 1e-3), '', name);
  } finally {
    exe.dispose();
  }
});

test.run();
