// One training step on the WebGPU runtime updating weights and momentum in
// place (one binding per param buffer, read_write) equals the copy-back path
// bit for bit, and a non-finite step leaves them as they were. Skipped, with the reason, where no WebGPU adapter opens.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initParams } from '../../compiler/init.js';
import { Tensor, tensor } from '../../compiler/tensor.js';
import { runtimeRunner } from '../../models/step-runner.js';
import { webGpuOrSkip } from '../helpers/skip.js';
import { smallStep } from './tiny.js';

const bits = (t: Tensor): string => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');

const gpu = await webGpuOrSkip();

gpu.test('one step on WebGPU: in place equals copy-back bit for bit', async () => {
  const rt = gpu.runtime!;
  const step = smallStep();
  const p0 = initParams(step.graph, 7);
  const batch = { x: tensor('f32', [1, 2, 6, 6], Array.from({ length: 72 }, (_, i) => Math.sin(i * 0.7))) };
  const inPlace = await runtimeRunner(step, p0, rt), copyBack = await runtimeRunner(step, p0, rt, { copyBack: true });
  const ra = await inPlace.step(batch, 0.02, 1), rb = await copyBack.step(batch, 0.02, 1);
  assert.ok(ra.finite && rb.finite);
  assert.equal(ra.scalars, rb.scalars);
  const sa = await inPlace.getState(), sb = await copyBack.getState();
  let moved = 0;
  for (const [k, t] of sa) {
    assert.ok(bits(t) === bits(sb.get(k)!), `${k} differs`);
    if (bits(t) !== bits(p0.get(k) ?? t)) moved++;
  }
  assert.ok(moved >= step.trained.length, `${moved} state tensors moved`);
  // A non-finite step: the kernels keep the old values, the diagnostic program names the update.
  const bad = await inPlace.step({ x: tensor('f32', [1, 2, 6, 6], Array.from({ length: 72 }, (_, i) => (i === 5 ? NaN : 1))) }, 0.02, 1);
  assert.not.ok(bad.finite);
  assert.is(bad.firstNonFinite, step.trained[0]);
  const kept = await inPlace.getState();
  for (const [k, t] of sa) assert.ok(bits(t) === bits(kept.get(k)!), `${k} changed by a refused step`);
  inPlace.dispose(); copyBack.dispose();
});

test.run();
