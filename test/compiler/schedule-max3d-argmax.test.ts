// max3d_argmax (the forward's stages carrying where each maximum came from)
// and max3d_argmax_grad (the gather from the codes) on the kernel-IR
// interpreter against the ops' references, for every target's profile (the
// CPU's one-thread tiles, SwiftShader's 8 threads, CUDA's 128): codes equal
// exactly, ties and NaNs included; gradients within f32 rounding; one launch
// each where the target's storage-buffer limit allows (every launch within
// it), workgroup memory within 16 KiB.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { runProgram } from '../../compiler/kernel/run-program.js';
import { Tensor } from '../../compiler/tensor.js';
import { TestGraph, compare, referenceRun } from './kernel/graphs.js';
import { makeTarget, type TargetName } from '../../compiler/target.js';

const TARGETS: TargetName[] = ['cpu', 'webgpu', 'cuda'];

function pyramid(t: TestGraph, sizes: readonly (readonly number[])[], channels = 2): number[] {
  return sizes.map(([h, w], i) => t.input(`p${i}`, [1, channels, h, w]));
}

function localBytes(program: ReturnType<typeof compileGraph>, launch: number): number {
  return program.kernels[program.launches[launch].kernel].ir.locals.reduce((a, l) => a + l.size * 4, 0);
}

/** Runs the graph compiled for every target (fused), codes (names starting with c) compared exactly. */
function checkTargets(t: TestGraph, launchOps: string[], atol = 1e-5, rtol = 1e-4): Record<string, Tensor> {
  const want = referenceRun(t);
  for (const target of TARGETS) {
    const program = compileGraph(t.graph, makeTarget(target));
    const got = runProgram(program, t.graph, t.inputs, t.params);
    for (const [name, w] of Object.entries(want)) {
      if (name.startsWith('c')) {
        assert.equal(Array.from(got[name].data), Array.from(w.data), `${target}: codes ${name}`);
        continue;
      }
      const msg = compare(got[name], w, atol, rtol);
      if (msg) throw new Error(`${target}: output '${name}': ${msg}`);
    }
    const names = program.launches.map((l) => program.kernels[l.kernel].name);
    // WebGPU's 8 storage buffers per stage split a pyramid into runs of levels (max3d-launches.test.ts); the others take it whole.
    const limit = makeTarget(target).maxStorageBuffers;
    for (const op of launchOps) {
      const n = names.filter((name) => name.endsWith(`_${op}`)).length;
      assert.ok(limit === Infinity ? n === 1 : n >= 1, `${target}: ${limit === Infinity ? 'one' : 'a'} ${op} launch in ${names.join(', ')}`);
    }
    program.launches.forEach((l, i) => assert.ok(l.buffers.length <= limit, `${target}: launch ${i} binds ${l.buffers.length} buffers, over ${limit}`));
    program.launches.forEach((_, i) => assert.ok(localBytes(program, i) <= 16384, `${target}: launch ${i} within 16 KiB`));
  }
  return want;
}

test('arg-max codes: partial tiles, odd sizes, a 1×1 top level, tau 2 / phi 3 and tau 4 / phi 5', () => {
  for (const [sizes, tau, phi] of [[[[37, 70], [19, 35], [10, 18], [5, 9], [3, 5]], 2, 3], [[[20, 33], [10, 17], [5, 9], [1, 1]], 4, 5]] as const) {
    const t = new TestGraph();
    t.ops('max3d_argmax', pyramid(t, sizes), { tau, phi }).forEach((o, i) => t.output(`c${i}`, o));
    const want = checkTargets(t, ['max3d_argmax']);
    const frames = new Set(Array.from(want.c0.data).map((c) => Math.floor(c / (sizes[0][0] * sizes[0][1]))));
    assert.ok(frames.has(0) && frames.has(1), 'level 0 takes maxima from itself and from level 1');
  }
});

test('forward on every profile (tiles on the CPU and CUDA, barrier-free strips on WebGPU): partial tiles and strips, tau 4 / phi 5', () => {
  for (const [sizes, tau, phi] of [[[[37, 70], [19, 35], [10, 18], [5, 9], [3, 5]], 2, 3], [[[18, 34], [9, 17], [5, 9], [1, 1]], 4, 5]] as const) {
    const t = new TestGraph();
    const levels = pyramid(t, sizes);
    t.ops('max3d', levels, { tau, phi }).forEach((o, i) => t.output(`y${i}`, o));
    checkTargets(t, ['max3d']);
    // tau 0 phi 1 (no neighbours, no window): the identity, on every profile too.
    const u = new TestGraph();
    u.ops('max3d', pyramid(u, sizes), { tau: 0, phi: 1 }).forEach((o, i) => u.output(`y${i}`, o));
    const want = checkTargets(u, ['max3d']);
    assert.equal(Array.from(want.y0.data), Array.from(u.inputs.p0.data));
  }
});

test('arg-max (and forward) ties and NaNs: the first maximum in scan order (frames, then h, then w); -1 where only -inf', () => {
  const t = new TestGraph();
  const raw = pyramid(t, [[17, 33], [9, 17], [5, 9]]);
  // floor(2x) makes whole windows of ties; log of a negative number makes NaNs in level 1; level 2 is -inf in places.
  const levels = raw.map((x, i) => {
    const q = t.op('floor', [t.op('mul', [x, t.constant(2)])]);
    if (i === 1) return t.op('where', [t.op('gt', [x, t.constant(0.6)]), t.op('log', [t.op('neg', [t.op('abs', [x])])]), q]);
    return i === 2 ? t.op('where', [t.op('gt', [x, t.constant(-0.5)]), t.constant(-Infinity), q]) : q;
  });
  t.ops('max3d_argmax', levels, { tau: 2, phi: 3 }).forEach((o, i) => t.output(`c${i}`, o));
  // The forward on the same pyramid, every profile: NaN wherever the reference has one.
  t.ops('max3d', levels, { tau: 2, phi: 3 }).forEach((o, i) => t.output(`y${i}`, o));
  const want = checkTargets(t, ['max3d_argmax', 'max3d']);
  const plane0 = 17 * 33;
  assert.ok(Array.from(want.c0.data).some((c) => c >= plane0), 'NaNs of level 1 win windows of level 0');
  // One level, mostly -inf: windows holding only -inf have no arg-max.
  const u = new TestGraph();
  const [x] = pyramid(u, [[9, 20]]);
  u.output('c0', u.op('max3d_argmax', [u.op('where', [u.op('gt', [x, u.constant(-0.8)]), u.constant(-Infinity), x])], { tau: 0, phi: 3 }));
  const none = Array.from(checkTargets(u, ['max3d_argmax']).c0.data);
  assert.ok(none.includes(-1) && none.some((c) => c >= 0), 'some windows without an arg-max, some with');
});

test('gather backward from the codes: several tiles per level, partial tiles, tau 2 / phi 3 and tau 4 / phi 5', () => {
  for (const [sizes, tau, phi] of [[[[37, 70], [19, 35], [10, 18], [5, 9], [3, 5]], 2, 3], [[[18, 17], [9, 9], [5, 5]], 4, 5]] as const) {
    const t = new TestGraph();
    const levels = pyramid(t, sizes);
    const grads = sizes.map(([h, w], i) => t.input(`g${i}`, [1, 2, h, w]));
    const codes = t.ops('max3d_argmax', levels, { tau, phi });
    t.ops('max3d_argmax_grad', [...codes, ...grads], { tau, phi }).forEach((o, i) => t.output(`d${i}`, o));
    checkTargets(t, ['max3d_argmax', 'max3d_argmax_grad']);
  }
});

test.run();
