// One full training step of the tiny network: reference vs the CPU runtime
// (when it can compile every backward op; otherwise the missing op is named
// and that comparison is skipped), and the NaN/Inf guard on injected input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initParams } from '../../compiler/init.js';
import { compileGraph } from '../../compiler/program.js';
import { Tensor } from '../../compiler/tensor.js';
import type { TrainStep } from '../../compiler/train-step.js';
import { fixedBatch } from '../../models/fixed-batch.js';
import { referenceRunner, runtimeRunner } from '../../models/step-runner.js';
import { tinyStep } from './tiny.js';

const step = tinyStep();
const params = initParams(step.graph, 3);
const batch = fixedBatch(step.graph, 3);

test('the step graph: lr and loss_scale inputs, momentum params frozen, updates for every trained param', () => {
  assert.ok(step.graph.inputs.some((i) => i.name === 'lr') && step.graph.inputs.some((i) => i.name === 'loss_scale'));
  assert.equal(step.terms, ['loss', 'loss_cls', 'loss_box']);
  assert.is(step.momentum.length, step.trained.length);
  for (const m of step.momentum) assert.ok(step.graph.params.find((p) => p.name === m)!.frozen, m);
  // The frozen stem (FrozenBN + frozen stage) gets no gradient and no update.
  assert.not.ok(step.trained.some((n) => n.includes('stem')));
  assert.ok(step.graph.params.some((p) => p.name.includes('stem')));
  const outs = new Set(step.graph.outputs.map((o) => o.name));
  for (const n of [...step.trained, ...step.momentum]) assert.ok(outs.has(`new/${n}`), n);
  assert.ok(outs.has('finite') && outs.has('grad_norm'));
});

test('a step on the reference moves the weights; loss_scale does not change the update', async () => {
  const a = referenceRunner(step, params), b = referenceRunner(step, params);
  const ra = await a.step(batch, 0.01, 1), rb = await b.step(batch, 0.01, 1024);
  assert.ok(ra.finite && rb.finite);
  const sa = await a.getState(), sb = await b.getState();
  const name = 'net.head.cls.weight';
  let moved = 0, diff = 0;
  for (let i = 0; i < sa.get(name)!.data.length; i++) {
    moved = Math.max(moved, Math.abs(sa.get(name)!.data[i] - params.get(name)!.data[i]));
    diff = Math.max(diff, Math.abs(sa.get(name)!.data[i] - sb.get(name)!.data[i]));
  }
  assert.ok(moved > 0, 'weights moved');
  assert.ok(diff <= 1e-6 * Math.max(1, moved) + 1e-9, `loss scale changed the update by ${diff}`);
});

test('an injected NaN in the input: finite = 0, the first non-finite update named, state unchanged', async () => {
  const r = referenceRunner(step, params);
  const bad: Record<string, Tensor> = { ...batch, image: { ...batch.image, data: batch.image.data.slice() } };
  bad.image.data[7] = NaN;
  const before = await r.getState();
  const res = await r.step(bad, 0.01, 1);
  assert.not.ok(res.finite);
  assert.is(res.scalars.finite, 0);
  assert.ok(Number.isNaN(res.scalars.loss));
  assert.type(res.firstNonFinite, 'string');
  const after = await r.getState();
  for (const [k, t] of before) assert.equal(Array.from(after.get(k)!.data), Array.from(t.data), k);
});

/** One step on the CPU runtime and the reference from the same state; returns the worst relative weight difference. */
async function compareCpu(st: TrainStep, label: string): Promise<void> {
  try { compileGraph(st.graph, {}); } catch (e) {
    console.log(`SKIP ${label} cpu step comparison: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const p0 = initParams(st.graph, 3), b0 = fixedBatch(st.graph, 3);
  let cpu;
  try { cpu = await runtimeRunner(st, p0, 'cpu'); } catch (e) {
    console.log(`SKIP ${label} cpu step comparison: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const ref = referenceRunner(st, p0);
  const rc = await cpu.step(b0, 0.01, 1), rr = await ref.step(b0, 0.01, 1);
  for (const t of [...st.terms, 'grad_norm']) {
    assert.ok(Math.abs(rc.scalars[t] - rr.scalars[t]) <= 1e-4 * Math.max(1, Math.abs(rr.scalars[t])), `${t}: cpu ${rc.scalars[t]} vs reference ${rr.scalars[t]}`);
  }
  const sc = await cpu.getState(), sr = await ref.getState();
  let worst = 0, worstName = '';
  for (const [k, t] of sr) {
    let scale = 0;
    for (const v of t.data) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < t.data.length; i++) {
      const d = Math.abs(sc.get(k)!.data[i] - t.data[i]) / Math.max(scale, 1e-3);
      if (d > worst) { worst = d; worstName = k; }
    }
  }
  console.log(`${label}: one step, cpu vs reference: loss ${rc.scalars.loss} vs ${rr.scalars.loss}, worst relative state difference ${worst.toExponential(2)} (${worstName})`);
  // Tolerance: |cpu - ref| <= 1e-4 x the tensor's largest magnitude, per state tensor (weights and momentum).
  assert.ok(worst <= 1e-4, `worst relative state difference ${worst} in ${worstName}`);
  cpu.dispose();
}

test('one step of tiny DeFCN (3DMF): CPU runtime equals the reference within tolerance (or names the kernel it lacks)', async () => {
  await compareCpu(step, 'DeFCN');
});

test('one step of tiny FCOS: CPU runtime equals the reference within tolerance', async () => {
  await compareCpu(tinyStep(1, 32, undefined, 'fcos'), 'FCOS');
});

test.run();
