// The training steps with the assignment inside, compiled: one program does
// forward, assignment (POTO's match on the device, Quality-ATSS; FCOS's
// rule), losses, backward and update. Two steps on the CPU runtime and on
// WebGPU give the reference interpreter's losses and gradient norm (within
// 1e-4 relative, the train tests' tolerance), and a NaN image ends with the
// guard reporting it; and assign.fd's AssignImage
// compiled for the CPU runtime reproduces the scipy/numpy fixtures.
import * as assert from 'uvu/assert';
import { differentiate } from '../../compiler/autodiff.js';
import { initParams } from '../../compiler/init.js';
import { lower } from '../../compiler/lower.js';
import { DEFAULT_SGD } from '../../compiler/optimizer.js';
import { compileGraph } from '../../compiler/program.js';
import { TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { tensor } from '../../compiler/tensor.js';
import { checkFiles } from '../../dsl/index.js';
import { referenceRunner, runtimeRunner } from '../../models/step-runner.js';
import type { Runtime } from '../../runtime/interface.js';
import { cpuOrSkip, webGpuOrSkip } from '../helpers/skip.js';
import { assignGraph, checkAssign, loadCases } from '../models/assign-cases.js';
import { GT_ARGS, gtBatch, gtTypes } from './assign-batch.js';
import { test } from 'uvu';

const cpu = await cpuOrSkip();
const gpu = await webGpuOrSkip();

function step(model: 'defcn' | 'fcos', args: Record<string, number | boolean>): TrainStep {
  const { program, diagnostics } = checkFiles([`models/${model}-train.fd`]);
  assert.ok(program && !diagnostics.some((d) => d.severity === 'error'), diagnostics.map((d) => d.message).join('\n'));
  const g = lower(program!, { entry: model === 'defcn' ? 'DeFCNTrain' : 'FCOSTrain', fn: 'loss', inputs: gtTypes(2, 64, 8), args: { ...GT_ARGS, ...args } });
  return buildTrainStep(g, { sgd: DEFAULT_SGD, differentiate });
}

async function compare(st: TrainStep, runtime: Runtime, label: string): Promise<void> {
  const p0 = initParams(st.graph, 3);
  const rt = await runtimeRunner(st, p0, runtime);
  const ref = referenceRunner(st, p0);
  // Image 0 with 5 objects, image 1 with none; the same batch twice (the second step sees updated weights).
  const batch = gtBatch(st.graph, 2, [5, 0]);
  try {
    for (let i = 0; i < 2; i++) {
      const a = await rt.step(batch, 0.01, 1), b = await ref.step(batch, 0.01, 1);
      for (const t of [...st.terms, 'grad_norm', 'finite']) {
        assert.ok(Math.abs(a.scalars[t] - b.scalars[t]) <= 1e-4 * Math.max(1, Math.abs(b.scalars[t])), `${label} step ${i} ${t}: ${rt.where} ${a.scalars[t]} vs reference ${b.scalars[t]}`);
      }
      console.log(`${label} step ${i}: ${rt.where} loss ${a.scalars.loss} vs reference ${b.scalars.loss}`);
    }
    // NaN in the image reaches the scores and the match: the step still ends and its guard says so.
    const bad = gtBatch(st.graph, 2, [5, 0]);
    bad.image.data.fill(NaN, 0, 100);
    const a = await rt.step(bad, 0.01, 1);
    assert.is(a.scalars.finite, 0, `${label}: a NaN image gave finite = ${a.scalars.finite} on ${rt.where}`);
    assert.is(a.finite, false);
  } finally { rt.dispose(); }
}

const DEFCN = step('defcn', {});
const FCOS = step('fcos', { centerness: true });

cpu.test('DeFCN (POTO match + 3DMF + Quality-ATSS) training step: CPU runtime = reference', () => compare(DEFCN, cpu.runtime!, 'DeFCN'));
cpu.test('FCOS (its rule + centerness) training step: CPU runtime = reference', () => compare(FCOS, cpu.runtime!, 'FCOS'));
gpu.test('DeFCN training step: WebGPU = reference', () => compare(DEFCN, gpu.runtime!, 'DeFCN'));
gpu.test('FCOS training step: WebGPU = reference', () => compare(FCOS, gpu.runtime!, 'FCOS'));

cpu.test('AssignImage compiled for the CPU runtime = the scipy/numpy fixtures (12 images, GT rows padded to 64)', async () => {
  const cases = loadCases().filter((_, i) => i % 10 === 3);
  for (const c of cases) {
    const G = c.inputs.gt_boxes.shape[0];
    const pad = (t: { data: ArrayLike<number> }, w: number) => tensor('f32', w ? [64, w] : [64], [...Array.from(t.data), ...new Array<number>((64 - G) * (w || 1)).fill(0)]);
    const inputs = { ...c.inputs, gt_boxes: pad(c.inputs.gt_boxes, 4), gt_classes: pad(c.inputs.gt_classes, 0) };
    const graph = assignGraph({ ...c, inputs });
    const exe = await cpu.runtime!.load(compileGraph(graph, cpu.runtime!.target));
    try {
      const out = await exe.run(inputs);
      checkAssign(c, out);
    } finally { exe.dispose(); }
  }
});

test.run();
