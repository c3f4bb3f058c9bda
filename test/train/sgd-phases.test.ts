// The SGD update's launch order (compiler/optimizer.ts appendSgd): every
// momentum buffer's launch before every weight's, so the CPU pool
// (runtime-cpu/plan.ts) runs the update as two barrier-free phases instead
// of waiting once per param.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { CPU } from '../../compiler/target.js';
import { MOMENTUM_PREFIX } from '../../compiler/optimizer.js';
import { scheduleLaunches } from '../../runtime-cpu/plan.js';
import { tinyStep } from './tiny.js';

test('tiny DeFCN step: all momentum launches, then all weight launches, with at most two barriers among them', () => {
  const step = tinyStep();
  const program = compileGraph(step.graph, CPU);
  const paramOf = new Map(Object.entries(program.updates!).map(([name, id]) => [id, name]));
  // Which update each launch stores (a launch writes at most one).
  const stores = program.launches.map((l) => {
    const k = program.kernels[l.kernel].ir;
    return l.buffers.map((b, i) => (k.bufs[i].access !== 'r' ? paramOf.get(b) : undefined)).find((n) => n !== undefined);
  });
  const sgd = stores.flatMap((name, l) => (name === undefined ? [] : [{ l, momentum: name.startsWith(MOMENTUM_PREFIX) }]));
  assert.is(sgd.length, 2 * step.trained.length);
  const firstWeight = sgd.findIndex((s) => !s.momentum);
  assert.is(firstWeight, step.trained.length, 'every momentum launch comes before the first weight launch');
  assert.ok(sgd.slice(firstWeight).every((s) => !s.momentum));
  const { entries } = scheduleLaunches(program);
  const barriers = sgd.filter((s) => (entries[s.l] & 1) !== 0).length;
  assert.ok(barriers <= 2, `${barriers} barriers among ${sgd.length} SGD launches`);
});

test.run();
