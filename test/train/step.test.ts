// One full training step of the tiny network: reference vs the CPU runtime
// (when it can compile every backward op; otherwise the missing op is named
// and that comparison is skipped), and the NaN/Inf guard on injected input.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initParams } from '../../compiler/init.js';
import { Tensor, scalar } from '../../compiler/tensor.js';
import { probeNonFinite } from '../../models/nan-probe.js';
import { fixedBatch } from '../../models/fixed-batch.js';
import { referenceRunner } from '../../models/step-runner.js';
import { compareStep, tinyStep } from './tiny.js';
import { cpuOrSkip } from '../helpers/skip.js';

const cpu = await cpuOrSkip();

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
  // Weights and momentum are updated in place, not returned: the outputs are the scalars alone.
  const updated = new Set((step.graph.updates ?? []).map((u) => u.param));
  for (const n of [...step.trained, ...step.momentum]) assert.ok(updated.has(n), n);
  assert.is(updated.size, step.trained.length + step.momentum.length);
  assert.equal(step.graph.outputs.map((o) => o.name).sort(), [...step.terms, 'finite', 'grad_norm'].sort());
  for (const o of step.graph.outputs) assert.equal(step.graph.values[o.value].type.shape.reduce((a, b) => a * b, 1), 1, o.name);
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
  // The probe finds the injected value first, in graph order.
  const probe = probeNonFinite(step.graph, { ...bad, lr: scalar('f32', 0.01), loss_scale: scalar('f32', 1) }, before);
  assert.match(probe ?? '', /^input 'image' .*element 7 is NaN/);
});

cpu.test('one step of tiny DeFCN (3DMF): CPU runtime equals the reference within tolerance', async () => {
  await compareStep(step, cpu.runtime!, 'DeFCN');
});

cpu.test('one step of tiny FCOS: CPU runtime equals the reference within tolerance', async () => {
  await compareStep(tinyStep(1, 32, undefined, 'fcos'), cpu.runtime!, 'FCOS');
});

test.run();
