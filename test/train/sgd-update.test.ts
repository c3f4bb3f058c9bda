// The SGD update as one op (compiler/ops/sgd.ts sgd_update): one kernel per
// param stores both its momentum buffer and its weight. Its reference equals,
// bit for bit, the add/mul/where/sub nodes the optimizer built before (NaN,
// infinities, a refused step, no momentum); the compiled kernel equals the
// reference on every target (kernel-IR interpreter) and renders on C, CUDA
// and WGSL; the tiny DeFCN step launches one update per param, all in one
// barrier-free phase on the CPU pool, also within WebGPU's 8 storage buffers
// with clipping; nodes that reach no output or update are not launched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph, renderC, renderCuda } from '../../compiler/program.js';
import { renderWgsl } from '../../compiler/render/wgsl.js';
import { CPU, cudaTarget, webgpuTarget } from '../../compiler/target.js';
import { Tensor } from '../../compiler/tensor.js';
import { DEFAULT_SGD, MOMENTUM_PREFIX, momentumName } from '../../compiler/optimizer.js';
import { Stmt } from '../../compiler/kernel/ir.js';
import { scheduleLaunches } from '../../runtime-cpu/plan.js';
import { TestGraph, compileAndRun, referenceRun } from '../compiler/kernel/graphs.js';
import { tinyStep } from './tiny.js';

const bits = (t: Tensor): string => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('hex');

/** w, buf, g with a NaN, both infinities and a large value among them; ok = (s < 0.5). */
function updateGraph(momentum: number, commit: boolean, guarded = true): { t: TestGraph; w: number; buf: number; d: number; lr: number; ok: number | undefined } {
  const t = new TestGraph();
  const w = t.param('w', [3, 37]), buf = t.param('buf', [3, 37]), g = t.input('g', [3, 37], -3, 3);
  t.params.buf.data[5] = NaN; t.inputs.g.data[7] = Infinity; t.inputs.g.data[8] = -Infinity; t.params.w.data[9] = 3e38;
  const lr = t.input('lr', []);
  t.inputs.lr.data[0] = 0.0123;
  const s = t.input('s', []);
  t.inputs.s.data[0] = commit ? 0 : 1;
  const ok = guarded ? t.op('lt', [s, t.constant(0.5)]) : undefined;
  const d = t.op('add', [t.op('mul', [g, t.constant(1 / 3)]), t.op('mul', [w, t.constant(1e-4)])]);
  return { t, w, buf, d, lr, ok };
}

for (const [momentum, commit, guarded] of [[0.9, true, true], [0.9, false, true], [0, true, true], [0.9, true, false]] as const) {
  test(`sgd_update (momentum ${momentum}, ${guarded ? (commit ? 'committed' : 'refused') : 'unguarded'}): the optimizer's former add/mul/where/sub nodes bit for bit; compiled for CPU, CUDA and WebGPU, the same bits`, () => {
    const { t, w, buf, d, lr, ok } = updateGraph(momentum, commit, guarded);
    const [nextBuf, nextW] = t.ops('sgd_update', ok === undefined ? [w, buf, d, lr] : [w, buf, d, lr, ok], { momentum });
    t.output('buf', nextBuf); t.output('w', nextW);
    // What compiler/optimizer.ts appendSgd built before sgd_update.
    const guard = (next: number, old: number) => (ok === undefined ? next : t.op('where', [ok, next, old]));
    const proposal = momentum !== 0 ? t.op('add', [t.op('mul', [buf, t.constant(momentum)]), d]) : d;
    const oldBuf = guard(proposal, buf);
    t.output('old_buf', oldBuf); t.output('old_w', guard(t.op('sub', [w, t.op('mul', [oldBuf, lr])]), w));
    const ref = referenceRun(t);
    assert.is(bits(ref.buf), bits(ref.old_buf), 'buffer');
    assert.is(bits(ref.w), bits(ref.old_w), 'weight');
    assert.ok(commit || bits(ref.w) === bits(t.params.w), 'a refused step leaves the weight as it was');
    assert.ok(ref.w.data.some((x, i) => x !== t.params.w.data[i]) === commit, 'a committed step moves the weight');
    for (const target of [CPU, cudaTarget(), webgpuTarget()]) {
      const { outputs } = compileAndRun(t, target);
      assert.is(bits(outputs.buf), bits(ref.buf), `${target.name} buffer`);
      assert.is(bits(outputs.w), bits(ref.w), `${target.name} weight`);
    }
  });
}

const stores = (body: readonly Stmt[]): number => body.reduce((n, s) => n + (s.k === 'store' ? 1 : 0) +
  ('body' in s && Array.isArray(s.body) ? stores(s.body) : 0) + ('then' in s && Array.isArray(s.then) ? stores(s.then) : 0) + ('else' in s && Array.isArray(s.else) ? stores(s.else) : 0), 0);

test('in place: one launch stores both params, each bound once read-write; it renders on C, CUDA and WGSL', () => {
  const { t, w, buf, d, lr, ok } = updateGraph(0.9, true);
  const [nextBuf, nextW] = t.ops('sgd_update', [w, buf, d, lr, ok!], { momentum: 0.9 });
  // As in a training step, the flag is computed once for every param's update (a kernel that reads a param it updates is elementwise at its shape: compiler/plan.ts checkUpdates).
  t.output('ok', ok!);
  t.graph.updates = [{ param: 'buf', value: nextBuf }, { param: 'w', value: nextW }];
  for (const target of [CPU, cudaTarget(), webgpuTarget()]) {
    const p = compileGraph(t.graph, target);
    const writers = p.launches.filter((l) => p.kernels[l.kernel].ir.bufs.some((b) => b.access !== 'r'));
    const sgd = writers.filter((l) => l.buffers.includes(p.updates!.w));
    assert.is(sgd.length, 1, `${target.name}: one launch writes the weight`);
    const k = p.kernels[sgd[0].kernel].ir;
    assert.equal(sgd[0].buffers.filter((b, i) => k.bufs[i].access === 'rw').sort(), [p.updates!.w, p.updates!.buf].sort(), `${target.name}: both params read and written`);
    assert.is(stores(k.body), 2, `${target.name}: two stores`);
  }
  const wgsl = renderWgsl(compileGraph(t.graph, webgpuTarget()).kernels.find((k) => k.name.includes('sgd_update'))!.ir);
  assert.is((wgsl.match(/var<storage, read_write>/g) ?? []).length, 2, wgsl);
  assert.match(renderC(compileGraph(t.graph, CPU)), /sgd_update/);
  assert.match(renderCuda(compileGraph(t.graph, cudaTarget())), /sgd_update/);
});

test('a node that reaches no output or update is not launched', () => {
  const t = new TestGraph();
  const x = t.input('x', [4, 5]);
  t.output('y', t.op('relu', [x]));
  const before = compileGraph(t.graph, CPU).launches.length;
  t.op('exp', [t.op('sum', [x], { axes: [1] })]);
  assert.is(compileGraph(t.graph, CPU).launches.length, before);
});

/** Each SGD launch of a program: the params it stores. */
function sgdLaunches(p: ReturnType<typeof compileGraph>): { l: number; params: string[] }[] {
  const paramOf = new Map(Object.entries(p.updates!).map(([name, id]) => [id, name]));
  return p.launches.flatMap((l, i) => {
    const k = p.kernels[l.kernel].ir;
    const params = l.buffers.flatMap((b, j) => (k.bufs[j].access !== 'r' && paramOf.has(b) ? [paramOf.get(b)!] : []));
    return params.length ? [{ l: i, params: params.sort() }] : [];
  });
}

test('tiny DeFCN step: one launch per param stores its weight and momentum; on the CPU pool, at most one barrier among them', () => {
  const step = tinyStep();
  const p = compileGraph(step.graph, CPU);
  const sgd = sgdLaunches(p);
  assert.is(sgd.length, step.trained.length);
  assert.equal(sgd.map((s) => s.params).sort(), step.trained.map((n) => [momentumName(n), n].sort()).sort());
  assert.ok(sgd.every((s) => s.params.filter((n) => n.startsWith(MOMENTUM_PREFIX)).length === 1));
  const { entries } = scheduleLaunches(p);
  const barriers = sgd.filter((s) => (entries[s.l] & 1) !== 0).length;
  assert.ok(barriers <= 1, `${barriers} barriers among ${sgd.length} SGD launches`);
});

test('tiny DeFCN step with clipping for WebGPU (8 storage buffers): still one launch per param, the stored params not counted twice', () => {
  const step = tinyStep(1, 32, { ...DEFAULT_SGD, clipNorm: 1 });
  const target = webgpuTarget();
  assert.is(target.maxStorageBuffers, 8);
  const p = compileGraph(step.graph, target);
  const sgd = sgdLaunches(p);
  assert.is(sgd.length, step.trained.length);
  // The step direction is computed inline: the kernel binds the weight and the buffer (each once, read-write), the gradient,
  // 1/loss_scale, the clip factor, lr and the finite flag; a kernel that counted its stores as extra bindings would have
  // left d's producers to a launch of their own.
  for (const s of sgd) assert.equal(p.kernels[p.launches[s.l].kernel].ir.bufs.map((b) => b.access).sort(), ['r', 'r', 'r', 'r', 'r', 'rw', 'rw'], `launch ${s.l}`);
});

test.run();
