// One training step on the WebGPU runtime updating weights and momentum in
// place (one binding per param buffer, read_write) equals the copy-back path
// bit for bit, and a non-finite step leaves them as they were. Skipped, with the reason, where no WebGPU adapter opens.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { differentiate } from '../../compiler/autodiff.js';
import { GraphBuilder } from '../../compiler/graph.js';
import { initParams } from '../../compiler/init.js';
import { DEFAULT_SGD, GraphAppender } from '../../compiler/optimizer.js';
import { Tensor, tensor } from '../../compiler/tensor.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { NO_SPAN } from '../../compiler/types.js';
import { runtimeRunner } from '../../models/step-runner.js';
import { openOrSkip } from '../runtime-webgpu/open.js';

/** conv (decayed) → GroupNorm (not decayed) → ReLU → mean square: a step with both kinds of update, small enough to compile twice on SwiftShader. */
function smallStep() {
  const b = new GraphBuilder();
  const f32 = (shape: number[]) => ({ dtype: 'f32' as const, shape });
  const x = b.input('x', f32([1, 2, 6, 6]), NO_SPAN);
  const w = b.param('conv.weight', f32([4, 2, 3, 3]), { kind: 'kaiming', mode: 'fan_out', gain: 2 }, false, NO_SPAN, 'conv');
  const cb = b.param('conv.bias', f32([4]), { kind: 'constant', value: 0.1 }, false, NO_SPAN, 'conv');
  const gw = b.param('norm.weight', f32([4]), { kind: 'ones' }, false, NO_SPAN, 'norm');
  const gb = b.param('norm.bias', f32([4]), { kind: 'constant', value: 0.2 }, false, NO_SPAN, 'norm');
  const a = new GraphAppender(b.graph);
  const y = a.op('relu', [a.op('group_norm', [a.op('conv2d', [x, w, cb], { padding: [1] }), gw, gb], { groups: 2 })]);
  b.output('loss', a.op('mean', [a.op('square', [y])], { axes: [], keepdims: false }));
  return buildTrainStep(b.graph, { sgd: DEFAULT_SGD, differentiate });
}

const bits = (t: Tensor): string => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');

test('one step on WebGPU: in place equals copy-back bit for bit', async () => {
  const rt = await openOrSkip('test/train/inplace-webgpu.test.ts');
  if (!rt) return;
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
