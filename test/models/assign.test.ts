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
import { RULES, assignGraph, checkAssign, checkFcos, fcosProbe, foregroundCost, loadCases, rulesProbe } from './assign-cases.js';

const cases = loadCases();

test('the fixtures: >= 100 images, 1-60 objects, every prior and both quality forms', () => {
  assert.ok(cases.length >= 100, `${cases.length} images`);
  const gs = cases.map((c) => c.inputs.gt_boxes.shape[0]);
  assert.ok(Math.min(...gs) >= 1 && Math.max(...gs) <= 60 && Math.max(...gs) >= 40, `objects ${Math.min(...gs)}..${Math.max(...gs)}`);
  for (const p of [0, 1, 2]) assert.ok(cases.some((c) => c.cfg.prior === p), `prior ${p}`);
  for (const q of [0, 1]) assert.ok(cases.some((c) => c.cfg.quality === q), `quality ${q}`);
});

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

test('FCOS targets (centre sampling 1.5, size ranges, least area; ltrb, one-hot, centerness) equal (reference interpreter)', () => {
  let positives = 0;
  for (const c of cases) {
    const { graph, inputs } = fcosProbe(c);
    checkFcos(c, interpret(graph, inputs, new Map()));
    for (const v of c.want.fcos_match.data) if (v >= 0) positives++;
  }
  assert.ok(positives > 1000, `only ${positives} FCOS positives`);
});

test('argmax, Center, Foreground loss (one-to-one), ATSS, Quality-FCOS, Quality-Top-k (auxiliary) owners equal (reference interpreter)', () => {
  let fragile = 0, worstFg = 0;
  const positives = Object.fromEntries(RULES.map((r) => [r, 0]));
  for (const c of cases) {
    const { graph, inputs } = rulesProbe(c);
    const out = interpret(graph, inputs, new Map());
    // Foreground loss: the match's cost inside the prior and its count outside equal scipy's optimum.
    const G = c.inputs.gt_boxes.shape[0];
    let inside = 0, outside = 0;
    assert.is(new Set(Array.from(out.fg_m.data)).size, G, `image ${c.id}: foreground-loss locations distinct`);
    for (let g = 0; g < G; g++) {
      if (out.fg_in.data[g]) inside += foregroundCost(c, g, out.fg_m.data[g]); else outside++;
    }
    const [wantIn, wantOut] = Array.from(c.want.fg_total.data);
    assert.is(outside, wantOut, `image ${c.id}: GTs forced outside the prior`);
    assert.ok(Math.abs(inside - wantIn) <= 1e-3 * Math.max(1, wantIn), `image ${c.id}: foreground-loss cost ${inside} vs scipy ${wantIn}`);
    worstFg = Math.max(worstFg, Math.abs(inside - wantIn) / Math.max(1, wantIn));
    for (let n = 0; n < c.inputs.points.shape[0]; n++) {
      if (c.want.rules_fragile.data[n]) { fragile++; continue; }
      for (const r of RULES) {
        assert.is(out[r].data[n], c.want[r].data[n], `image ${c.id}: ${r} at location ${n}: ${out[r].data[n]} vs ${c.want[r].data[n]}`);
        if (c.want[r].data[n] >= 0) positives[r]++;
      }
    }
  }
  console.log(`positives per rule ${JSON.stringify(positives)}; ${fragile} fragile locations not compared; foreground-loss cost within ${worstFg.toExponential(2)} (relative) of scipy's optimum`);
  for (const r of RULES) assert.ok(positives[r] > 300, `${r}: only ${positives[r]} positives`);
});

test.run();
