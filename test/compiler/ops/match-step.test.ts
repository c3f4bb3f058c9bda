// `match` inside a compiled program: the DeFCN training entry's loss
// (forward, POTO + auxiliary assignment, losses: models/defcn-train.fd) for
// the CPU target, on the kernel-IR interpreter and on the CPU runtime, equals
// the reference interpreter; the match launch's workspace shares buffer
// slots with other launches' temporaries (planned like them).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkFiles } from '../../../dsl/index.js';
import { lower } from '../../../compiler/lower.js';
import { interpret } from '../../../compiler/interpret.js';
import { initParams } from '../../../compiler/init.js';
import { compileGraph } from '../../../compiler/program.js';
import { runProgram } from '../../../compiler/kernel/run-program.js';
import { CPU } from '../../../compiler/target.js';
import { CpuRuntime } from '../../../runtime-cpu/runtime.js';
import { probeCpu } from '../../../runtime-cpu/load.js';
import type { Tensor } from '../../../compiler/tensor.js';
import { GT_ARGS, gtBatch, gtTypes } from '../../train/assign-batch.js';

const why = await probeCpu();
if (why) console.log(`SKIP CPU runtime part of match-step: ${why}`);

function setup(): { graph: ReturnType<typeof lower>; batch: Record<string, Tensor>; params: Map<string, Tensor> } {
  const { program, diagnostics } = checkFiles(['models/defcn-train.fd']);
  assert.ok(program, diagnostics.map((d) => d.message).join('\n'));
  const graph = lower(program!, { entry: 'DeFCNTrain', fn: 'loss', inputs: gtTypes(2, 64, 8), args: { ...GT_ARGS } });
  return { graph, batch: gtBatch(graph, 3, [8, 3]), params: initParams(graph, 4) };
}

function sameLosses(got: Record<string, Tensor>, want: Record<string, Tensor>, what: string): void {
  for (const [k, w] of Object.entries(want)) {
    const a = got[k].data[0], b = w.data[0];
    assert.ok(Number.isFinite(a) && Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what} ${k}: ${a} vs reference ${b}`);
  }
}

test('DeFCN loss with the assignment compiled: interpreter and CPU runtime equal the reference; workspace slots shared', async () => {
  const { graph, batch, params } = setup();
  assert.ok(graph.nodes.some((n) => n.op === 'match'));
  const want = interpret(graph, batch, params);
  const program = compileGraph(graph, CPU);
  const li = program.launches.findIndex((l) => program.kernels[l.kernel].name.includes('match'));
  assert.ok(li >= 0, 'a match launch');
  for (const id of program.launches[li].buffers.slice(-2)) {
    assert.is(program.buffers[id].role, 'temp');
    assert.ok(program.launches.some((l, i) => i !== li && l.buffers.includes(id)), `workspace buffer ${id} shares its slot`);
  }
  sameLosses(runProgram(program, graph, batch, Object.fromEntries(params)), want, 'interpreter');
  if (why) return;
  const exe = await new CpuRuntime().load(program);
  try {
    await exe.setParams(params);
    sameLosses(await exe.run(batch), want, 'cpu runtime');
  } finally {
    exe.dispose();
  }
});

test.run();
