// Host tensors to device bytes and back, without a device.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensorBytes, bytesTensor, deviceBytes, paddedSize } from '../../runtime-webgpu/host-data.js';
import { tensor } from '../../compiler/tensor.js';

test('sizes: words for copies, u32 per bool on the device', () => {
  assert.is(paddedSize(0), 4);
  assert.is(paddedSize(6), 8);
  assert.is(deviceBytes('f32', 12), 12);
  assert.is(deviceBytes('bool', 3), 12);
  assert.is(deviceBytes('f16', 6), 8);
});

test('f32, i32 and bool round trips', () => {
  const f = tensor('f32', [2, 2], [1.5, -2, 3e-8, 7]);
  assert.equal(Array.from(bytesTensor(tensorBytes(f, 'f32', 16, 'x').buffer, 0, 'f32', 16, [2, 2]).data), Array.from(f.data));
  const i = tensor('i32', [3], [-1, 0, 2147483647]);
  assert.equal(Array.from(bytesTensor(tensorBytes(i, 'i32', 12, 'x').buffer, 0, 'i32', 12, undefined).data), [-1, 0, 2147483647]);
  const b = tensor('bool', [3], [1, 0, 1]);
  const dev = tensorBytes(b, 'bool', 3, 'm');
  assert.equal(Array.from(new Uint32Array(dev.buffer)), [1, 0, 1]);
  const back = bytesTensor(dev.buffer, 0, 'bool', 3, [3]);
  assert.instance(back.data, Uint8Array);
  assert.equal(Array.from(back.data), [1, 0, 1]);
});

test('f16 rounds to nearest even, keeps Inf, NaN and subnormals', () => {
  const vals = [0, -0, 1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 70000, -Infinity, NaN, 2 ** -24, 2 ** -25 * 3, 1e-9];
  const want = [0, -0, 1, 1, 1 + 2 ** -9, 65504, Infinity, -Infinity, NaN, 2 ** -24, 2 ** -23, 0];
  const t = tensor('f32', [vals.length], vals);
  const got = bytesTensor(tensorBytes(t, 'f16', 2 * vals.length, 'h').buffer, 0, 'f16', 2 * vals.length, undefined).data;
  want.forEach((w, k) => assert.ok(Object.is(got[k], w) || (Number.isNaN(w) && Number.isNaN(got[k])), `${vals[k]} → ${got[k]}, want ${w}`));
});

test('a size mismatch names the tensor', () => {
  assert.throws(() => tensorBytes(tensor('f32', [2], [1, 2]), 'f32', 12, "input 'x'"), /input 'x': expected 3 f32 values, got 2/);
});

test.run();
