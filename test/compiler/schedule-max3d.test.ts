// The tiled max3d forward (compiler/ops/max3d.kernel.ts) on the kernel-IR
// interpreter against the op's reference: level sizes that split into
// partial tiles in both directions (H > 16, W > 32, neither a multiple),
// odd widths (runs of 1 and 2 pixels per thread), φ = 5 and τ = 4, NaNs and
// ties; and the kernel's shape (one launch, workgroup memory within the
// 16 KiB browsers allow).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestGraph, checkBoth, referenceRun } from './kernel/graphs.js';

function pyramid(t: TestGraph, sizes: number[][], channels = 2): number[] {
  return sizes.map(([h, w], i) => t.input(`p${i}`, [1, channels, h, w]));
}

// Tolerance: the reference interpolates in f64, the kernel in f32.
function localBytes(t: TestGraph, ops = 1): number {
  const { fused } = checkBoth(t, 1e-5, 1e-5);
  assert.is(fused.launches.length, ops, 'every level in one launch');
  const k = fused.kernels[fused.launches[0].kernel].ir;
  // i64 tables are i32 in WGSL, where this limit applies.
  return k.locals.reduce((a, l) => a + l.size * 4, 0);
}

test('partial tiles in both directions, odd widths, a 1×1 top level', () => {
  for (const sizes of [[[37, 70], [19, 35], [10, 18], [5, 9], [3, 5]], [[20, 33], [10, 17], [5, 9], [1, 1]]]) {
    const t = new TestGraph();
    t.ops('max3d', pyramid(t, sizes), { tau: 2, phi: 3 }).forEach((o, i) => t.output(`y${i}`, o));
    assert.ok(localBytes(t) <= 16384, 'workgroup memory within 16 KiB');
  }
});

test('phi 5 and tau 4 (five frames, a wider halo); tau 0 phi 1 is the identity', () => {
  const t = new TestGraph();
  const levels = pyramid(t, [[18, 34], [9, 17], [5, 9]], 3);
  t.ops('max3d', levels, { tau: 4, phi: 5 }).forEach((o, i) => t.output(`y${i}`, o));
  t.ops('max3d', levels, { tau: 0, phi: 1 }).forEach((o, i) => t.output(`z${i}`, o));
  assert.ok(localBytes(t, 2) <= 16384);
});

test('ties and NaNs: a NaN anywhere in the window wins, whole windows of equal values', () => {
  const t = new TestGraph();
  const raw = pyramid(t, [[17, 33], [9, 17], [5, 9]]);
  // floor(3x) makes ties; log of a negative number makes NaNs in about a third of the pixels of level 1.
  const levels = raw.map((x, i) => {
    const q = t.op('floor', [t.op('mul', [x, t.constant(3)])]);
    return i === 1 ? t.op('where', [t.op('gt', [x, t.constant(0.4)]), t.op('log', [t.op('neg', [t.op('abs', [x])])]), q]) : q;
  });
  t.ops('max3d', levels, { tau: 2, phi: 3 }).forEach((o, i) => t.output(`y${i}`, o));
  const want = referenceRun(t);
  assert.ok(Array.from(want.y0.data).some(Number.isNaN) && !Array.from(want.y0.data).every(Number.isNaN), 'NaNs reach level 0 through the resize, not everywhere');
  checkBoth(t, 1e-5, 1e-5);
});

test('max3d gradient (max3d_argmax codes, then the max3d_argmax_grad gather): several tiles, partial tiles, phi 5 / tau 4', () => {
  for (const [sizes, tau, phi] of [[[[37, 20], [19, 10], [10, 5], [5, 3]], 2, 3], [[[18, 17], [9, 9], [5, 5]], 4, 5]] as const) {
    const t = new TestGraph();
    const levels = pyramid(t, sizes.map((s) => [...s]));
    const grads = sizes.map(([h, w], i) => t.input(`g${i}`, [1, 2, h, w]));
    const codes = t.ops('max3d_argmax', levels, { tau, phi });
    t.ops('max3d_argmax_grad', [...codes, ...grads], { tau, phi }).forEach((o, i) => t.output(`d${i}`, o));
    const { fused } = checkBoth(t, 1e-5, 1e-4);
    assert.is(fused.launches.length, 2, 'one launch per op, every level in it');
    for (const k of fused.kernels) assert.ok(k.ir.locals.reduce((a, l) => a + l.size * 4, 0) <= 16384, `${k.name}: within 16 KiB`);
  }
});

test.run();
