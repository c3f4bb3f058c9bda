// In-place parameter updates (Graph.updates, Program.updates) on the CPU
// runtime: the step updating its weights and momentum in their own buffers
// equals the copy-back path (updates returned, then uploaded) bit for bit
// over several steps; no launch reads a param's old value after its update;
// a non-finite step leaves the state as it was and names the update that
// went bad; a graph whose fusion order would overwrite a param too early is
// reordered. Skipped, with the reason, where the CPU runtime cannot start.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GraphBuilder } from '../../compiler/graph.js';
import { initParams } from '../../compiler/init.js';
import { GraphAppender, SHARED_NORM_MAX } from '../../compiler/optimizer.js';
import { compileGraph } from '../../compiler/program.js';
import { Tensor, tensor } from '../../compiler/tensor.js';
import { NO_SPAN, numel } from '../../compiler/types.js';
import { fixedBatch } from '../../models/fixed-batch.js';
import { StepRunner, runtimeRunner } from '../../models/step-runner.js';
import type { Runtime } from '../../runtime/interface.js';
import { cpuOrSkip } from '../helpers/skip.js';
import { smallStep, tinyStep } from './tiny.js';
import { CPU } from '../../compiler/target.js';

const gate = await cpuOrSkip();
const cpu = gate.runtime as Runtime;
const step = tinyStep(1, 32, undefined, 'fcos');
const p0 = initParams(step.graph, 5);
const batch = fixedBatch(step.graph, 5);

const bits = (t: Tensor): string => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');

async function sameState(a: StepRunner, b: StepRunner, when: string): Promise<void> {
  const sa = await a.getState(), sb = await b.getState();
  assert.equal([...sa.keys()].sort(), [...sb.keys()].sort());
  for (const [k, t] of sa) assert.ok(bits(t) === bits(sb.get(k)!), `${k} differs ${when}`);
}

gate.test('in place equals copy-back bit for bit over 4 steps (weights, momentum, every scalar)', async () => {
  const inPlace = await runtimeRunner(step, p0, cpu), copyBack = await runtimeRunner(step, p0, cpu, { copyBack: true });
  for (let s = 0; s < 4; s++) {
    const lr = 0.01 * (s + 1);
    const ra = await inPlace.step(batch, lr, 1), rb = await copyBack.step(batch, lr, 1);
    assert.ok(ra.finite && rb.finite);
    assert.equal(ra.scalars, rb.scalars, `step ${s}`);
    await sameState(inPlace, copyBack, `after step ${s}`);
  }
  const moved = (await inPlace.getState()).get(step.trained[0])!;
  assert.not.equal(Array.from(moved.data), Array.from(p0.get(step.trained[0])!.data), 'the weights moved');
  inPlace.dispose(); copyBack.dispose();
});

test('the program: only scalars come back; each updated param is written by one launch, after every reader of its old value', () => {
  const p = compileGraph(step.graph, CPU);
  assert.ok(Object.values(p.outputs).every((id) => p.buffers.find((b) => b.id === id)!.bytes === 4), 'scalar outputs only');
  assert.equal(Object.keys(p.updates!).sort(), [...step.trained, ...step.momentum].sort());
  const access = (li: number, j: number) => p.kernels[p.launches[li].kernel].ir.bufs[j].access;
  const writerOf = new Map<number, number>();
  p.launches.forEach((l, i) => l.buffers.forEach((b, j) => {
    if (access(i, j) === 'r') return;
    if (Object.values(p.updates!).includes(b)) {
      assert.not.ok(writerOf.has(b), `buffer ${b} written twice`);
      writerOf.set(b, i);
    }
  }));
  assert.is(writerOf.size, step.trained.length + step.momentum.length);
  // The optimizer's launches: one per param (its momentum and its weight,
  // compiler/ops/sgd.ts), one partial norm per large gradient and one norm
  // launch for the rest.
  const big = step.trained.filter((n) => { const v = step.graph.params.find((q) => q.name === n)!.value; return numel(step.graph.values[v].type.shape) > SHARED_NORM_MAX; });
  const norm = p.report!.launches.filter((l) => l.ops.includes('square') && l.ops.includes('sum'));
  assert.is(norm.length, big.length + 1, norm.map((l) => l.ops.slice(0, 4).join('+')).join(', '));
  assert.ok(norm.at(-1)!.ops.includes('concat'));
  for (const name of step.trained) {
    // Forward and backward read the weight; nothing reads it after its update.
    const id = p.updates![name], writer = writerOf.get(id)!;
    const readers = p.launches.flatMap((l, i) => (i !== writer && l.buffers.includes(id) ? [i] : []));
    assert.ok(readers.length > 0 && readers.every((r) => r < writer), `${name}: launches ${readers.filter((r) => r > writer)} read it after launch ${writer} updated it`);
    // The momentum and the weight are stored by the same launch.
    const m = writerOf.get(p.updates![`opt.momentum.${name}`])!;
    assert.is(m, writer, name);
    assert.is(p.launches[writer].buffers.filter((b) => b === id).length, 1, 'bound once');
  }
});

gate.test('a non-finite step on the runtime leaves every state tensor unchanged and names the first bad update', async () => {
  const small = smallStep();
  const r = await runtimeRunner(small, initParams(small.graph, 2), cpu);
  const good = { x: tensor('f32', [1, 2, 6, 6], Array.from({ length: 72 }, (_, i) => Math.cos(i))) };
  assert.ok((await r.step(good, 0.01, 1)).finite);
  const before = await r.getState();
  const res = await r.step({ x: tensor('f32', [1, 2, 6, 6], Array.from({ length: 72 }, (_, i) => (i === 3 ? Infinity : 1))) }, 0.01, 1);
  assert.not.ok(res.finite);
  assert.is(res.scalars.finite, 0);
  assert.is(res.firstNonFinite, small.trained[0], 'every update is non-finite: the first trained param');
  const after = await r.getState();
  for (const [k, t] of before) assert.ok(bits(t) === bits(after.get(k)!), `${k} changed by a refused step`);
  // And the next good step still runs from there.
  assert.ok((await r.step(good, 0.01, 1)).finite);
  r.dispose();
});

gate.test('a graph whose fusion order would overwrite a param early is reordered: readers see the old value', async () => {
  const b = new GraphBuilder();
  const type = { dtype: 'f32' as const, shape: [2, 3] };
  const x = b.input('x', type, NO_SPAN);
  const w = b.param('w', type, { kind: 'zeros' }, false, NO_SPAN, '');
  const a = new GraphAppender(b.graph);
  const next = a.op('mul', [w, a.constant(2)]);
  b.graph.outputs.push({ name: 'z', value: a.op('exp', [a.op('add', [w, x])]) });
  b.graph.updates = [{ param: 'w', value: next }];
  const exe = await cpu.load(compileGraph(b.graph, CPU));
  const w0 = [0.5, -1, 2, 0, 1, 3];
  await exe.setParams({ w: tensor('f32', [2, 3], w0) });
  const xs = [1, 1, 1, -1, -1, -1];
  for (let run = 0; run < 2; run++) {
    const wBefore = w0.map((v) => v * 2 ** run);
    const out = await exe.run({ x: tensor('f32', [2, 3], xs) });
    // z reads the weight before this run's update (exp to float precision), w is exactly doubled.
    out.z.data.forEach((z, i) => assert.ok(Math.abs(z - Math.exp(wBefore[i] + xs[i])) <= 1e-6 * Math.exp(wBefore[i] + xs[i]), `run ${run} z[${i}] ${z}`));
    assert.equal(Array.from((await exe.getParam('w')).data), wBefore.map((v) => v * 2));
  }
  exe.dispose();
});

test.run();
