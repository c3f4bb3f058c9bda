// postprocess.fd's two-stage top-k (pp_topk: per-chunk top-k, then the top-k
// of the survivors) gives exactly one topk's values and indices, ties
// included (lower index first), on lines long enough to take the two-stage
// path (padded and unpadded chunking), on the reference interpreter and on
// the CPU runtime. And the topk kernel itself (a heap in the outputs,
// compiler/schedule/sort.ts) against the op's reference.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkFilesOrThrow } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { interpret } from '../../compiler/interpret.js';
import { OPS } from '../../compiler/ops/index.js';
import { withDefaults } from '../../compiler/ops/attrs.js';
import { compileGraph } from '../../compiler/program.js';
import { Tensor, rng } from '../../compiler/tensor.js';
import { cpuOrSkip } from '../helpers/skip.js';
import { CPU } from '../../compiler/target.js';
import { NO_SPAN } from '../../compiler/types.js';
import { TestGraph, compileAndRun, referenceRun } from '../compiler/kernel/graphs.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-pp-topk-'));
const src = join(dir, 'topk.fd');
// postprocess.fd is found through the include folder (imports stay inside the checked files' folders otherwise).
writeFileSync(src, `import "postprocess.fd"
module T(n: int = 1000) {
  fn forward(x: f32[B, L]) {
    let (v, i) = pp_topk(x, n)
    return (v, i)
  }
}
`);

function line(B: number, L: number, seed: number): Tensor {
  const next = rng(seed);
  // Few distinct values: many ties across chunk borders.
  return { dtype: 'f32', shape: [B, L], data: Float32Array.from({ length: B * L }, () => Math.floor(next() * 300) / 300) };
}

function graphFor(B: number, L: number, n: number) {
  return lower(checkFilesOrThrow([src], { include: [resolve('models')] }), { entry: 'T', inputs: { x: { dtype: 'f32', shape: [B, L] } }, args: { n } });
}

function expected(x: Tensor, n: number): Tensor[] {
  return OPS.topk.reference([x], withDefaults(OPS.topk, { k: n }));
}

const CASES: [number, number, number][] = [[2, 70000, 1000], [1, 98304, 1000], [1, 80000, 5]];

test('two-stage top-k equals one topk on the reference interpreter (ties, padded and exact chunking)', () => {
  for (const [B, L, n] of CASES) {
    const g = graphFor(B, L, n);
    assert.ok(g.nodes.filter((nd) => nd.op === 'topk').length === 2, 'the two-stage path is taken');
    const x = line(B, L, L + n);
    const out = interpret(g, { x }, new Map());
    const [v, i] = expected(x, n);
    assert.equal(Array.from(out.v.data), Array.from(v.data), `values ${B}x${L} k ${n}`);
    assert.equal(Array.from(out.i.data), Array.from(i.data), `indices ${B}x${L} k ${n}`);
  }
});

test('the heap topk kernel equals the reference: random shapes, axes, k (1..n), ties, NaN, i32, both directions', () => {
  const next = rng(77);
  for (let trial = 0; trial < 24; trial++) {
    const shape = [1 + Math.floor(next() * 3), 1 + Math.floor(next() * 40), 1 + Math.floor(next() * 3)];
    const axis = Math.floor(next() * 3), n = shape[axis];
    const k = trial % 4 === 0 ? n : 1 + Math.floor(next() * n);
    const isInt = trial % 5 === 4;
    const count = shape[0] * shape[1] * shape[2];
    const data = Array.from({ length: count }, () => (trial % 3 === 0 && next() < 0.1 ? NaN : Math.floor(next() * 7) - 3));
    const t = new TestGraph();
    t.inputs.x = isInt ? { dtype: 'i32', shape, data: Int32Array.from(data.map((d) => (Number.isNaN(d) ? 5 : d))) } : { dtype: 'f32', shape, data: Float32Array.from(data) };
    const x = t.b.input('x', { dtype: isInt ? 'i32' : 'f32', shape }, NO_SPAN);
    const [tv, ti] = t.ops('topk', [x], { k, axis, largest: trial % 2 === 0 });
    t.output('v', tv); t.output('i', ti);
    const want = referenceRun(t), got = compileAndRun(t, CPU).outputs;
    assert.equal(Array.from(got.i.data), Array.from(want.i.data), `indices, trial ${trial} shape ${shape} axis ${axis} k ${k}`);
    assert.equal(Array.from(got.v.data).map(String), Array.from(want.v.data).map(String), `values, trial ${trial}`);
  }
});

test('long sorts (heap path) equal the reference: both directions, ties, NaN, inner axis', () => {
  const next = rng(78);
  for (const [shape, axis, descending] of [[[2, 2100], 1, true], [[2300, 2], 0, false]] as const) {
    const count = shape[0] * shape[1];
    const t = new TestGraph();
    t.inputs.x = { dtype: 'f32', shape: [...shape], data: Float32Array.from({ length: count }, () => (next() < 0.02 ? NaN : Math.floor(next() * 50))) };
    const x = t.b.input('x', { dtype: 'f32', shape: [...shape] }, NO_SPAN);
    const [sv, si] = t.ops('sort', [x], { axis, descending });
    t.output('v', sv); t.output('i', si);
    const want = referenceRun(t), got = compileAndRun(t, CPU).outputs;
    assert.equal(Array.from(got.i.data), Array.from(want.i.data), `sort ${shape} axis ${axis}`);
  }
});

test('a short line takes one topk', () => {
  assert.is(graphFor(1, 5000, 100).nodes.filter((nd) => nd.op === 'topk').length, 1);
});

const cpu = await cpuOrSkip();
cpu.test('CPU runtime: two-stage top-k equals one topk', async () => {
  const [B, L, n] = CASES[0];
  const g = graphFor(B, L, n);
  const exe = await cpu.runtime!.load(compileGraph(g, cpu.runtime!.target, {}));
  try {
    const x = line(B, L, 5);
    const out = await exe.run({ x });
    const [v, i] = expected(x, n);
    assert.equal(Array.from(out.v.data), Array.from(v.data));
    assert.equal(Array.from(out.i.data), Array.from(i.data));
  } finally { exe.dispose(); }
});

test.run();
