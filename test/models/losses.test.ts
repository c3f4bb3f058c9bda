// models/losses.fd against the formulas written out in TypeScript.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { interpret } from '../../compiler/interpret.js';
import { Tensor, randomTensor, tensor } from '../../compiler/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-losses-'));
const file = join(dir, 'probe.fd');
writeFileSync(file, `import "${relative(dir, resolve('models/losses.fd'))}"
module Probe() {
  fn forward(x: f32[B, K, N], p: f32[B, K, N], t: f32[B, K, N], pred: f32[B, 4, N], target: f32[B, 4, N], w: f32[B, N]) {
    let focal_logits = focal_loss_logits(x, t)
    let focal_probs = focal_loss_probs(p, t)
    let giou = giou_loss(pred, target, w)
    let npos = num_positives(w)
    return (focal_logits, focal_probs, giou, npos)
  }
}
`);

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

function run(inputs: Record<string, Tensor>): Record<string, number> {
  const { program, diagnostics } = checkFiles([file], { include: [resolve('models')] });
  assert.ok(program && !diagnostics.some((d) => d.severity === 'error'), diagnostics.map((d) => d.message).join('\n'));
  const types = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape] }]));
  const g = lower(program!, { entry: 'Probe', inputs: types });
  const out = interpret(g, inputs, new Map());
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data[0]]));
}

function giou(a: number[], b: number[]): number {
  const area = (x: number[]): number => (x[2] - x[0]) * (x[3] - x[1]);
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])), ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih, union = Math.max(area(a) + area(b) - inter, 1e-7);
  const enc = Math.max((Math.max(a[2], b[2]) - Math.min(a[0], b[0])) * (Math.max(a[3], b[3]) - Math.min(a[1], b[1])), 1e-7);
  return inter / union - (enc - union) / enc;
}

test('focal on logits and on probabilities, GIoU on ltrb positives, positive count >= 1', () => {
  const B = 1, K = 2, N = 3;
  const x = randomTensor([B, K, N], 1, -3, 3);
  const p = randomTensor([B, K, N], 2, 0.01, 0.99);
  p.data[0] = 0; // log clamped at -100, as torch's BCELoss
  const t = tensor('f32', [B, K, N], [1, 0, 0, 0, 1, 0]);
  const pred = tensor('f32', [B, 4, N], [1, 2, 0, 3, 4, 0, 5, 6, 0, 7, 8, 0]);
  const target = tensor('f32', [B, 4, N], [2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1]);
  const w = tensor('f32', [B, N], [1, 1, 0]);
  const r = run({ x, p, t, pred, target, w });
  let fl = 0, fp = 0;
  for (let i = 0; i < B * K * N; i++) {
    const y = t.data[i], s = sig(x.data[i]);
    const pt = s * y + (1 - s) * (1 - y), at = 0.25 * y + 0.75 * (1 - y);
    fl += -at * (1 - pt) ** 2 * Math.log(pt);
    const q = p.data[i], qt = q * y + (1 - q) * (1 - y);
    const bce = -(y * Math.max(Math.log(q), -100) + (1 - y) * Math.max(Math.log(1 - q), -100));
    fp += at * (1 - qt) ** 2 * bce;
  }
  assert.ok(Math.abs(r.focal_logits - fl) < 1e-5 * Math.max(1, fl), `${r.focal_logits} vs ${fl}`);
  assert.ok(Math.abs(r.focal_probs - fp) < 1e-4 * Math.max(1, fp), `${r.focal_probs} vs ${fp}`);
  let gl = 0;
  for (let n = 0; n < N; n++) {
    const d = (src: Tensor): number[] => [0, 1, 2, 3].map((c) => src.data[c * N + n]);
    const [l, tp, rr, bb] = d(pred), [l2, t2, r2, b2] = d(target);
    gl += w.data[n] * (1 - giou([-l, -tp, rr, bb], [-l2, -t2, r2, b2]));
  }
  assert.ok(Math.abs(r.giou - gl) < 1e-5, `${r.giou} vs ${gl}`);
  assert.is(r.npos, 2);
  assert.is(run({ x, p, t, pred, target, w: tensor('f32', [B, N], [0, 0, 0]) }).npos, 1);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
