// One training step on the WebGPU runtime updating weights and momentum in
// place (one binding per param buffer, read_write) equals the copy-back path
// bit for bit. Skipped, with the reason, where no WebGPU adapter opens.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initParams } from '../../compiler/init.js';
import type { Tensor } from '../../compiler/tensor.js';
import { fixedBatch } from '../../models/fixed-batch.js';
import { runtimeRunner } from '../../models/step-runner.js';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { tinyStep } from './tiny.js';

const bits = (t: Tensor): string => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');

test('one step of tiny FCOS on WebGPU: in place equals copy-back bit for bit', async () => {
  const rt = await openOrSkip('test/train/inplace-webgpu.test.ts');
  if (!rt) return;
  const step = tinyStep(1, 32, undefined, 'fcos');
  const p0 = initParams(step.graph, 7), batch = fixedBatch(step.graph, 7);
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
  inPlace.dispose(); copyBack.dispose();
});

test.run();
