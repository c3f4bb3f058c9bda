// The buffer planner: liveness-based reuse, peak memory asserted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planBuffers, PlanValue } from '../../compiler/plan.js';
import { GraphBuilder } from '../../compiler/graph.js';
import { GraphAppender } from '../../compiler/optimizer.js';
import { compileGraph } from '../../compiler/program.js';
import { NO_SPAN } from '../../compiler/types.js';
import { TestGraph, checkBoth } from './kernel/graphs.js';
import { CPU } from '../../compiler/target.js';

test('a chain of 10 unfused elementwise ops needs 2 temporaries, not 9', () => {
  const t = new TestGraph();
  const x = t.input('x', [4, 8, 8]);
  let y = x;
  for (let i = 0; i < 10; i++) y = t.op(i % 2 ? 'relu' : 'sigmoid', [y]);
  t.output('y', y);
  const { unfused, fused } = checkBoth(t);
  const temps = unfused.buffers.filter((b) => b.role === 'temp');
  assert.is(temps.length, 2);
  const bytes = 4 * 8 * 8 * 4;
  // input + output + 2 temporaries
  assert.is(unfused.peakBytes, 4 * bytes);
  assert.is(unfused.report!.unsharedTempBytes, 9 * bytes);
  assert.is(fused.peakBytes, 2 * bytes);
});

test('a value read later stays live (residual): no reuse across its lifetime', () => {
  const t = new TestGraph();
  const x = t.input('x', [2, 16]);
  const a = t.op('exp', [x]);
  let y = a;
  for (let i = 0; i < 4; i++) y = t.op('neg', [y]);
  t.output('y', t.op('add', [y, a]));
  const { unfused } = checkBoth(t); // a wrong reuse would corrupt `a` and fail here
  assert.is(unfused.buffers.filter((b) => b.role === 'temp').length, 3);
});

test('best fit, dtype-separated slots, growth', () => {
  const v = (value: number, bytes: number, def: number, lastUse: number, dtype: PlanValue['dtype'] = 'f32'): PlanValue =>
    ({ value, bytes, dtype, role: 'temp', def, lastUse });
  const plan = planBuffers([
    v(0, 100, 0, 1), v(1, 400, 1, 2), v(2, 50, 2, 3), v(3, 300, 3, 4), v(4, 64, 0, 5, 'i32'), v(5, 8, 6, 7, 'i32'),
    { value: 9, bytes: 10, dtype: 'f32', role: 'input', name: 'x', def: -1, lastUse: 0 },
  ]);
  // 0 dies at 1 → 2 (50 B) takes it; 1 dies at 2 → 3 takes 1's 400 B slot; i32 separate.
  assert.is(plan.bufferOf.get(2), plan.bufferOf.get(0));
  assert.is(plan.bufferOf.get(3), plan.bufferOf.get(1));
  assert.is(plan.bufferOf.get(5), plan.bufferOf.get(4));
  assert.is.not(plan.bufferOf.get(4), plan.bufferOf.get(0));
  assert.is(plan.peakBytes, 10 + 100 + 400 + 64);
  const none = planBuffers([v(0, 100, 0, 1), v(1, 100, 2, 3)], false);
  assert.is(none.peakBytes, 200);
});

/** w: f32[2, 3] param, x: input of its shape; `build` appends ops and returns the update of w. */
function updateGraph(build: (a: GraphAppender, w: number, x: number) => number) {
  const b = new GraphBuilder();
  const type = { dtype: 'f32' as const, shape: [2, 3] };
  const x = b.input('x', type, NO_SPAN);
  const w = b.param('w', type, { kind: 'zeros' }, false, NO_SPAN, '');
  const a = new GraphAppender(b.graph);
  const value = build(a, w, x);
  b.graph.updates = [{ param: 'w', value }];
  return b.graph;
}

/** Launch indices that read (r/rw) or write (w/rw) buffer `id`. */
function touching(p: ReturnType<typeof compileGraph>, id: number, mode: 'read' | 'write'): number[] {
  const out: number[] = [];
  p.launches.forEach((l, i) => l.buffers.forEach((b, j) => {
    const access = p.kernels[l.kernel].ir.bufs[j].access;
    if (b === id && (mode === 'read' ? access !== 'w' : access !== 'r')) out.push(i);
  }));
  return out;
}

test('an in-place update lives in its param\'s buffer, bound once (rw), written after every reader of the old value', () => {
  let z = -1;
  const g = updateGraph((a, w, x) => {
    const next = a.op('mul', [w, a.constant(2)]); // fusion order alone would store it first
    z = a.op('exp', [a.op('add', [w, x])]);
    return next;
  });
  g.outputs.push({ name: 'z', value: z });
  for (const fuse of [true, false]) {
    const p = compileGraph(g, CPU, { fuse });
    const id = p.params.w;
    assert.equal(p.updates, { w: id });
    assert.not.ok(p.buffers.some((b) => b.role === 'output' && b.bytes === 24 && b.id !== p.outputs.z), 'no buffer of its own for the update');
    const writers = touching(p, id, 'write');
    assert.is(writers.length, 1);
    const l = p.launches[writers[0]];
    assert.is(l.buffers.filter((b) => b === id).length, 1, 'bound once');
    assert.is(p.kernels[l.kernel].ir.bufs[l.buffers.indexOf(id)].access, 'rw');
    for (const r of touching(p, id, 'read')) if (r !== writers[0]) assert.ok(r < writers[0], `launch ${r} reads w after launch ${writers[0]} overwrote it (fuse ${fuse})`);
  }
});

test('an update that only writes its param (reads nothing of it) may be any kernel', () => {
  const g = updateGraph((a, _w, x) => a.op('sum', [a.op('reshape', [x], { shape: [1, 2, 3] })], { axes: [0], keepdims: false }));
  const p = compileGraph(g, CPU);
  assert.is(touching(p, p.params.w, 'write').length, 1);
});

test('in-place updates that cannot be honoured are refused, not miscompiled', () => {
  // A kernel that reads w at other indices than it writes.
  assert.throws(() => compileGraph(updateGraph((a, w) => a.op('reshape', [a.op('transpose', [w], { perm: [1, 0] })], { shape: [2, 3] })), CPU), /not elementwise/);
  // A kernel that needs both the old and the new value of w.
  const cyc = updateGraph((a, w) => a.op('mul', [w, a.constant(2)]));
  const a = new GraphAppender(cyc);
  cyc.outputs.push({ name: 'both', value: a.op('exp', [a.op('add', [cyc.updates![0].value, cyc.params[0].value])]) });
  assert.throws(() => compileGraph(cyc, CPU), /cannot order the in-place updates/);
  // Wrong param or type.
  const g = updateGraph((a, w) => a.op('neg', [w]));
  assert.throws(() => compileGraph({ ...g, updates: [{ param: 'nope', value: g.updates![0].value }] }, CPU), /no such param/);
  assert.throws(() => compileGraph({ ...g, updates: [{ param: 'w', value: g.inputs[0].value }] }, CPU), /computed by the graph/);
});


test('launch order: a tower whose weights every level shares runs each conv on all levels in a row (weight locality), results unchanged', () => {
  const t = new TestGraph();
  const w1 = t.param('w1', [4, 4, 3, 3]), w2 = t.param('w2', [4, 4, 3, 3]);
  const levels = [8, 4, 2].map((s, i) => t.input(`p${i}`, [1, 4, s, s]));
  levels.forEach((x, i) => {
    const a = t.op('relu', [t.op('conv2d', [x, w1], { padding: 1 })]);
    t.output(`y${i}`, t.op('conv2d', [a, w2], { padding: 1 }));
  });
  const { fused } = checkBoth(t);
  // Which conv each launch is: the weight value it reads (w1 or w2).
  const weightOf = fused.launches.map((l) => l.buffers.map((b) => fused.buffers[b]).find((b) => b.role === 'param')?.name);
  const convs = weightOf.filter((n) => n !== undefined);
  assert.equal(convs, ['w1', 'w1', 'w1', 'w2', 'w2', 'w2'], convs.join(' '));
});

test('launch order: a graph without shared weights keeps the fusion order', () => {
  const t = new TestGraph();
  const x = t.input('x', [1, 4, 8, 8]);
  const a = t.op('conv2d', [x, t.param('wa', [4, 4, 3, 3])], { padding: 1 });
  const b = t.op('conv2d', [x, t.param('wb', [4, 4, 3, 3])], { padding: 1 });
  t.output('y', t.op('add', [t.op('conv2d', [a, t.param('wc', [4, 4, 1, 1])]), b]));
  const { fused } = checkBoth(t);
  const names = fused.launches.map((l) => l.buffers.map((b) => fused.buffers[b]).find((b) => b.role === 'param')?.name).filter((n) => n !== undefined);
  assert.equal(names, ['wa', 'wb', 'wc']);
});

test.run();
