// The tiny DeFCNTrain forward + backward (defcn-train.fd: backbone, FPN,
// head, 3DMF, focal + GIoU on a fixed batch), its reference gradients and its
// compiled program, shared by the runtime tests. Measure: max |a - b| /
// max(|b|, 1e-3) over each gradient tensor, against the reference.
import * as assert from 'uvu/assert';
import { differentiate } from '../../../compiler/autodiff.js';
import { initParams } from '../../../compiler/init.js';
import { interpret } from '../../../compiler/interpret.js';
import { lower } from '../../../compiler/lower.js';
import { Program, compileGraph } from '../../../compiler/program.js';
import { Tensor, randomTensor } from '../../../compiler/tensor.js';
import { checkFiles } from '../../../dsl/index.js';
import { defcnTargetTypes, fixedBatch } from '../../../models/fixed-batch.js';
import { Executable } from '../../../runtime/interface.js';
import { finiteScale, within, worstError } from '../../helpers/compare.js';
import { CPU, type Target } from '../../../compiler/target.js';

export interface TinyStep { compiled: Program; names: string[]; params: Map<string, Tensor>; inputs: Record<string, Tensor>; want: Record<string, Tensor> }

/** `target`: the runtime's (a WebGPU adapter allows fewer storage buffers per kernel than the CPU). */
export function tinyStep(target: Target = CPU): TinyStep {
  const { program, diagnostics } = checkFiles(['models/defcn-train.fd']);
  assert.ok(program && diagnostics.length === 0, diagnostics.map((d) => d.message).join('\n'));
  const g = lower(program!, { entry: 'DeFCNTrain', fn: 'loss_fixed', inputs: { image: { dtype: 'f32', shape: [1, 3, 32, 32] }, ...defcnTargetTypes(1, 3, 32) }, args: { depth: 0, width: 4, C: 8, K: 3, groups: 4 } });
  const { graph, grads } = differentiate(g, g.outputs[0].name);
  const params = initParams(graph, 1);
  const inputs = { ...fixedBatch(g, 3), image: randomTensor([1, 3, 32, 32], 4) };
  return {
    compiled: compileGraph(graph, target, { fuse: true }),
    names: [g.outputs[0].name, ...[...grads.keys()].map((n) => `grad/${n}`)],
    params, inputs, want: interpret(graph, inputs, params),
  };
}

/** Runs the step on an executable and checks the loss and every gradient within `tol`. */
export async function matchesReference(s: TinyStep, exe: Executable, tol: number, runtime: string): Promise<void> {
  await exe.setParams(s.params);
  const got = await exe.run(s.inputs);
  // NaN, a wrong infinity or a missing output is an error of Infinity, and
  // `within` refuses NaN: a comparison written `e > worst` never sees NaN.
  let worst = 0, where = '';
  for (const name of s.names) {
    const b = s.want[name].data;
    const scale = finiteScale(b, 1e-3);
    const w = got[name] ? worstError(got[name].data, b, (x, y) => Math.abs(x - y) / scale) : { worst: Infinity, at: -1 };
    if (where === '' || w.worst > worst) { worst = w.worst; where = `${name}[${w.at}]`; }
  }
  assert.ok(within(worst, tol), `${runtime}: worst ${worst.toExponential(2)} at ${where}`);
  console.log(`  ${runtime}: ${s.compiled.launches.length} launches, ${s.names.length - 1} gradients, worst ${worst.toExponential(2)} (${where})`);
}
