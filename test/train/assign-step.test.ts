// The training entries on ground truth (defcn-train.fd / fcos-train.fd
// `loss`: forward, assignment, losses in one graph): gradients equal
// central finite differences with the assignment held fixed (targets_of at
// θ ± h equals targets_of at θ); bad input (no objects, zero-area boxes,
// boxes outside the image, NaN in the image, more objects than locations).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { differentiate } from '../../compiler/autodiff.js';
import { Graph } from '../../compiler/graph.js';
import { interpret } from '../../compiler/interpret.js';
import { initParams } from '../../compiler/init.js';
import { lower } from '../../compiler/lower.js';
import { Tensor, tensor } from '../../compiler/tensor.js';
import { DEFAULT_SGD } from '../../compiler/optimizer.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { referenceRunner } from '../../models/step-runner.js';
import { checkFiles } from '../../dsl/index.js';
import { GT_ARGS, gtBatch, gtTypes } from './assign-batch.js';

function lowerEntry(model: 'defcn' | 'fcos', fn: string, B: number, S: number, G: number, args: Record<string, number | boolean> = {}): Graph {
  const { program, diagnostics } = checkFiles([`models/${model}-train.fd`]);
  assert.ok(program && !diagnostics.some((d) => d.severity === 'error'), diagnostics.map((d) => d.message).join('\n'));
  return lower(program!, { entry: model === 'defcn' ? 'DeFCNTrain' : 'FCOSTrain', fn, inputs: gtTypes(B, S, G), args: { ...GT_ARGS, ...args } });
}

const to64 = (t: Tensor): Tensor => (t.dtype === 'f32' ? tensor(t.dtype, t.shape, t.data, true) : t);
const same = (a: Record<string, Tensor>, b: Record<string, Tensor>): boolean => Object.keys(a).every((k) => a[k].data.every((v, i) => v === b[k].data[i]));

/** Autodiff of `loss` vs central differences at three entries of one param per part, the assignment (targets) unchanged at θ ± h. */
function gradCheck(model: 'defcn' | 'fcos', args: Record<string, number | boolean>, targetsFn: string | undefined): number {
  const g = lowerEntry(model, 'loss', 1, 64, 8, args);
  const tg = targetsFn ? lowerEntry(model, targetsFn, 1, 64, 8, args) : undefined;
  const { graph, grads } = differentiate(g, 'loss');
  const batch = Object.fromEntries(Object.entries(gtBatch(g, 3, [5])).map(([k, v]) => [k, to64(v)]));
  const params = new Map([...initParams(g, 4)].map(([k, v]) => [k, to64(v)]));
  const out = interpret(graph, batch, params);
  const targets = (p: Map<string, Tensor>): Record<string, Tensor> => (tg ? interpret(tg, batch, p) : {});
  const base = targets(params);
  if (tg) assert.is(Array.from(base.w.data).reduce((a, b) => a + b, 0), 5, 'every GT matched');
  const names = [...grads.keys()];
  const picks = ['backbone', 'fpn', 'cls_tower', 'head.cls', 'head.box', 'scales', 'filter', 'ctr'].map((k) => names.find((n) => n.includes(k))).filter((n): n is string => n !== undefined);
  // A small step: the tiny head's box outputs sit near ReLU's kink at init,
  // and a larger h straddles it for some (f64 keeps 1e-7 well resolved).
  const h = 1e-7;
  let compared = 0;
  for (const name of picks) {
    const p = params.get(name)!;
    for (const j of [0, Math.floor(p.data.length / 2), p.data.length - 1]) {
      const plus = to64(p), minus = to64(p);
      plus.data[j] += h; minus.data[j] -= h;
      const pp = new Map(params).set(name, plus), pm = new Map(params).set(name, minus);
      if (tg) assert.ok(same(targets(pp), base) && same(targets(pm), base), `${name}[${j}]: the assignment moved under ±${h}`);
      const fd = (interpret(g, batch, pp).loss.data[0] - interpret(g, batch, pm).loss.data[0]) / (2 * h);
      const ad = out[`grad/${name}`].data[j];
      assert.ok(Math.abs(ad - fd) <= 1e-6 + 1e-4 * Math.abs(fd), `${name}[${j}]: autodiff ${ad}, finite differences ${fd}`);
      compared++;
    }
  }
  return compared;
}

test('DeFCN (POTO + 3DMF + Quality-ATSS aux): gradients = finite differences, assignment held fixed', () => {
  assert.ok(gradCheck('defcn', {}, 'targets_of') >= 18);
});

test('FCOS with centerness (targets from geometry alone): gradients = finite differences', () => {
  assert.ok(gradCheck('fcos', { centerness: true }, undefined) >= 18);
});

/** One step of each entry on the reference from one batch; returns the step's scalars. */
function stepOn(model: 'defcn' | 'fcos', batch: (g: Graph) => Record<string, Tensor>, args: Record<string, number | boolean> = {}, B = 2): Promise<Record<string, number>> {
  const g = lowerEntry(model, 'loss', B, 64, 8, args);
  const st = buildTrainStep(g, { sgd: DEFAULT_SGD, differentiate });
  return referenceRunner(st, initParams(st.graph, 1)).step(batch(st.graph), 0.01, 1).then((r) => r.scalars);
}

const finiteAll = (s: Record<string, number>): boolean => Object.values(s).every(Number.isFinite);

test('no objects in any image: losses finite, no box loss; one image empty, the other not', async () => {
  for (const model of ['defcn', 'fcos'] as const) {
    const none = await stepOn(model, (g) => gtBatch(g, 1, [0, 0]));
    assert.ok(finiteAll(none) && none.finite === 1, `${model}: ${JSON.stringify(none)}`);
    assert.is(none.loss_box, 0);
    if (model === 'defcn') assert.ok(none.loss_aux > 0, 'every location is a negative of the aux loss');
    const mixed = await stepOn(model, (g) => gtBatch(g, 1, [0, 6]));
    assert.ok(finiteAll(mixed) && mixed.finite === 1 && mixed.loss_box > 0, `${model}: ${JSON.stringify(mixed)}`);
  }
});

test('zero-area, inverted and outside-the-image boxes: losses finite (every GT still gets a POTO location)', async () => {
  const odd = (g: Graph): Record<string, Tensor> => {
    const b = gtBatch(g, 2, [4, 4]);
    const boxes = [[10, 10, 10, 10], [20, 5, 20, 40], [-50, -50, -10, -10], [70, 70, 200, 90], [30, 30, 12, 12], [0, 0, 64, 64], [1e4, 1e4, 1e4 + 5, 1e4 + 5], [3, 3, 3.5, 3.5]];
    boxes.forEach((bx, i) => b.gt_boxes.data.set(bx, i * 4));
    return b;
  };
  for (const model of ['defcn', 'fcos'] as const) {
    const s = await stepOn(model, odd, model === 'fcos' ? { centerness: true } : {});
    assert.ok(finiteAll(s) && s.finite === 1, `${model}: ${JSON.stringify(s)}`);
  }
});

test('NaN in the image: the step ends and its guard reports non-finite', async () => {
  const s = await stepOn('defcn', (g) => { const b = gtBatch(g, 1, [3, 2]); b.image.data.fill(NaN, 0, 50); return b; });
  assert.is(s.finite, 0, JSON.stringify(s));
});

test('more objects than locations: lowering says so', () => {
  // 32 × 32: 16 + 4 + 1 + 1 + 1 = 23 locations; a bucket of 32 objects.
  const { program } = checkFiles(['models/defcn-train.fd']);
  assert.throws(() => lower(program!, { entry: 'DeFCNTrain', fn: 'loss', inputs: gtTypes(1, 32, 32), args: GT_ARGS }), /32 GT rows but only 23 locations; every GT needs its own location/);
});

test.run();
