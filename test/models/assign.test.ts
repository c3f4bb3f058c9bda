// models/assign.fd on the reference interpreter against the fixtures of
// tools/fixtures/assign_fixtures.py (numpy/scipy from DEFCN.md), 120 random
// images with 1-60 objects: POTO's total equals scipy's optimum (indices
// differ where the optimum is not unique) and the match is one-to-one;
// Quality-ATSS owners equal (locations a float32 rounding could flip are
// counted, not compared); FCOS owners, ltrb targets, one-hot classes and
// centerness targets equal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { interpret } from '../../compiler/interpret.js';
import { AssignCase, assignGraph, fcosProbe, loadCases } from './assign-cases.js';

const cases = loadCases();

test('the fixtures: >= 100 images, 1-60 objects, every prior and both quality forms', () => {
  assert.ok(cases.length >= 100, `${cases.length} images`);
  const gs = cases.map((c) => c.inputs.gt_boxes.shape[0]);
  assert.ok(Math.min(...gs) >= 1 && Math.max(...gs) <= 60 && Math.max(...gs) >= 40, `objects ${Math.min(...gs)}..${Math.max(...gs)}`);
  for (const p of [0, 1, 2]) assert.ok(cases.some((c) => c.cfg.prior === p), `prior ${p}`);
  for (const q of [0, 1]) assert.ok(cases.some((c) => c.cfg.quality === q), `quality ${q}`);
});

/** POTO and aux of one case: [ok?, message, fragile count]. */
export function checkAssign(c: AssignCase, out: Record<string, { data: ArrayLike<number> }>): { fragile: number } {
  const G = c.inputs.gt_boxes.shape[0], N = c.inputs.points.shape[0];
  const m = out.poto_match.data, aux = out.aux_match.data;
  // One-to-one: every GT exactly one location.
  const seen = new Array<number>(G).fill(0);
  for (let n = 0; n < N; n++) if (m[n] >= 0) { assert.ok(m[n] < G, `image ${c.id}: poto_match[${n}] = ${m[n]}`); seen[m[n]]++; }
  assert.ok(seen.every((s) => s === 1), `image ${c.id}: GT locations per GT ${seen.join(',')}`);
  const want = c.want.poto_total.data[0], got = out.poto_total.data[0];
  assert.ok(Math.abs(got - want) <= 1e-4 * Math.max(1, G), `image ${c.id} (G ${G}, N ${N}, ${JSON.stringify(c.cfg)}): POTO total ${got} vs scipy ${want}`);
  let fragile = 0;
  for (let n = 0; n < N; n++) {
    if (c.want.aux_fragile.data[n]) { fragile++; continue; }
    assert.is(aux[n], c.want.aux_match.data[n], `image ${c.id}: aux owner of location ${n}: ${aux[n]} vs ${c.want.aux_match.data[n]}`);
  }
  return { fragile };
}

test('POTO total = scipy linear_sum_assignment optimum, one location per GT; Quality-ATSS owners equal (reference interpreter)', () => {
  let fragile = 0, positives = 0, locations = 0;
  for (const c of cases) {
    const out = interpret(assignGraph(c), c.inputs, new Map());
    fragile += checkAssign(c, out).fragile;
    for (const v of c.want.aux_match.data) if (v >= 0) positives++;
    locations += c.inputs.points.shape[0];
  }
  console.log(`${cases.length} images, ${locations} locations, ${positives} aux positives; ${fragile} locations within float32 rounding of a decision, not compared`);
  assert.ok(positives > 1000, `only ${positives} aux positives: the comparison would prove little`);
  assert.ok(fragile < locations / 100, `${fragile} fragile locations`);
});

export function checkFcos(c: AssignCase, out: Record<string, { data: ArrayLike<number> }>): void {
  const N = c.inputs.points.shape[0], K = c.cfg.K;
  const owner = out.owner.data, hot = out.cls_t.data, box = out.box_t.data, w = out.w.data, ctr = out.ctr.data;
  for (let n = 0; n < N; n++) {
    const g = c.want.fcos_match.data[n];
    assert.is(owner[n], g, `image ${c.id}: FCOS owner of location ${n}`);
    assert.is(w[n], g >= 0 ? 1 : 0);
    for (let k = 0; k < K; k++) assert.is(hot[k * N + n], g >= 0 && c.inputs.gt_classes.data[g] === k ? 1 : 0, `image ${c.id}: one-hot at class ${k}, location ${n}`);
    if (g < 0) continue;
    for (let j = 0; j < 4; j++) assert.is(box[j * N + n], c.want.fcos_ltrb.data[n * 4 + j], `image ${c.id}: ltrb ${j} at location ${n}`);
    assert.ok(Math.abs(ctr[n] - c.want.fcos_ctr.data[n]) <= 1e-6, `image ${c.id}: centerness at ${n}: ${ctr[n]} vs ${c.want.fcos_ctr.data[n]}`);
  }
}

test('FCOS targets (centre sampling 1.5, size ranges, least area; ltrb, one-hot, centerness) equal (reference interpreter)', () => {
  let positives = 0;
  for (const c of cases) {
    const { graph, inputs } = fcosProbe(c);
    checkFcos(c, interpret(graph, inputs, new Map()));
    for (const v of c.want.fcos_match.data) if (v >= 0) positives++;
  }
  assert.ok(positives > 1000, `only ${positives} FCOS positives`);
});

test.run();
