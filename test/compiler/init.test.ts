import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GraphBuilder, Init } from '../../compiler/graph.js';
import { fans, initParams, initTensor } from '../../compiler/init.js';
import { NO_SPAN } from '../../compiler/types.js';

function stats(d: ArrayLike<number>): { mean: number; std: number } {
  let m = 0;
  for (let i = 0; i < d.length; i++) m += d[i];
  m /= d.length;
  let v = 0;
  for (let i = 0; i < d.length; i++) v += (d[i] - m) ** 2;
  return { mean: m, std: Math.sqrt(v / d.length) };
}

function graphWith(params: [string, number[], Init][]) {
  const g = new GraphBuilder();
  for (const [name, shape, init] of params) g.param(name, { dtype: 'f32', shape }, init, false, NO_SPAN, '');
  return g.graph;
}

test('fans of OIHW weights', () => {
  assert.equal(fans([64, 32, 3, 3]), { fanIn: 288, fanOut: 576 });
  assert.equal(fans([10, 4]), { fanIn: 4, fanOut: 10 });
});

test('constant initialisers', () => {
  assert.ok(Array.from(initTensor({ kind: 'zeros' }, [5], 1, 'a').data).every((v) => v === 0));
  assert.ok(Array.from(initTensor({ kind: 'ones' }, [5], 1, 'a').data).every((v) => v === 1));
  assert.ok(Array.from(initTensor({ kind: 'constant', value: 0.25 }, [5], 1, 'a').data).every((v) => v === 0.25));
  const prior = initTensor({ kind: 'prior_logit', prob: 0.01 }, [3], 1, 'a');
  assert.ok(Math.abs(prior.data[0] - -Math.log(99)) < 1e-6, String(prior.data[0]));
  assert.ok(Math.abs(1 / (1 + Math.exp(-prior.data[0])) - 0.01) < 1e-7);
});

test('random initialisers have the requested distribution', () => {
  const k = initTensor({ kind: 'kaiming', mode: 'fan_in', gain: Math.SQRT2 }, [64, 32, 3, 3], 7, 'w');
  const s = stats(k.data);
  assert.ok(Math.abs(s.mean) < 0.01, `mean ${s.mean}`);
  assert.ok(Math.abs(s.std / Math.sqrt(2 / 288) - 1) < 0.03, `std ${s.std}`);
  const ko = stats(initTensor({ kind: 'kaiming', mode: 'fan_out', gain: 1 }, [64, 32, 3, 3], 7, 'w').data);
  assert.ok(Math.abs(ko.std * Math.sqrt(576) - 1) < 0.03, `fan_out std ${ko.std}`);
  const n = stats(initTensor({ kind: 'normal', mean: 1, std: 0.01 }, [20000], 3, 'n').data);
  assert.ok(Math.abs(n.mean - 1) < 0.001 && Math.abs(n.std / 0.01 - 1) < 0.03, `${n.mean} ${n.std}`);
  const u = initTensor({ kind: 'uniform', lo: -2, hi: 3 }, [5000], 3, 'u').data;
  assert.ok(Array.from(u).every((v) => v >= -2 && v < 3));
  assert.ok(Math.abs(stats(u).mean - 0.5) < 0.1);
});

test('initParams: deterministic per seed and name; adding a parameter changes no other', () => {
  const normal: Init = { kind: 'normal', mean: 0, std: 1 };
  const a = initParams(graphWith([['x.w', [4, 4], normal], ['y.w', [3], normal]]), 42);
  const b = initParams(graphWith([['new.w', [7], normal], ['x.w', [4, 4], normal], ['y.w', [3], normal]]), 42);
  assert.equal(Array.from(a.get('x.w')!.data), Array.from(b.get('x.w')!.data));
  assert.equal(Array.from(a.get('y.w')!.data), Array.from(b.get('y.w')!.data));
  assert.not.equal(Array.from(a.get('x.w')!.data).slice(0, 3), Array.from(a.get('y.w')!.data));
  const c = initParams(graphWith([['x.w', [4, 4], normal]]), 43);
  assert.not.equal(Array.from(a.get('x.w')!.data), Array.from(c.get('x.w')!.data));
  assert.equal([...a.get('x.w')!.shape], [4, 4]);
  assert.is(a.get('x.w')!.dtype, 'f32');
});

test.run();
