// Per-element classification losses (no reduction: the model divides by the
// number of positives itself). Fused forms of what would otherwise be several
// elementwise ops, written the numerically stable way.
import { DType, numel } from '../types.js';
import { floatAttr } from './attrs.js';
import { broadcastIndex, broadcastShapes, sameShape } from './broadcast.js';
import { need, requireDtype, requireSameDtype } from './checks.js';
import { Attrs, OpDef } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const FLOAT: readonly DType[] = ['f32', 'f16'];

/** log(1 + exp(-|x|)) + max(x, 0) - x * t: BCE on a logit without overflow. */
export function bceWithLogits(x: number, t: number): number {
  return Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
}

function sigmoid(x: number): number { return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)); }

/** torchvision.ops.sigmoid_focal_loss with reduction "none"; alpha < 0 turns the class weighting off. */
export function focal(x: number, t: number, alpha: number, gamma: number): number {
  const p = sigmoid(x);
  const pt = p * t + (1 - p) * (1 - t);
  let loss = bceWithLogits(x, t) * Math.pow(1 - pt, gamma);
  if (alpha >= 0) loss *= alpha * t + (1 - alpha) * (1 - t);
  return loss;
}

/** torch.nn.BCELoss on probabilities: each log clamped at -100. */
export function bceOnProb(p: number, t: number): number {
  return -(t * Math.max(Math.log(p), -100) + (1 - t) * Math.max(Math.log(1 - p), -100));
}

function lossOp(name: string, doc: string, first: string, attrs: OpDef['attrs'], perElement: number,
  make: (attrs: Attrs) => (x: number, t: number) => number): OpDef {
  return {
    name, kind: 'broadcast', doc, attrs,
    inputs: [{ name: first, dtypes: FLOAT }, { name: 'targets', dtypes: FLOAT }],
    shape([x, t], a, ctx) {
      const tx = need(name, x, first, 0), tt = need(name, t, 'targets', 1);
      requireDtype(name, tx, FLOAT, first, 0);
      requireSameDtype(name, tx, tt, 1);
      for (const s of attrs) floatAttr(name, a, s.name);
      return [{ dtype: tx.dtype, shape: broadcastShapes(name, [tx.shape, tt.shape], ctx) }];
    },
    reference([x, t], a) {
      const rank = Math.max(x!.shape.length, t!.shape.length);
      const shape = Array.from({ length: rank }, (_, i) => Math.max(x!.shape[x!.shape.length - rank + i] ?? 1, t!.shape[t!.shape.length - rank + i] ?? 1));
      const out = alloc(x!.dtype, shape, usesF64([x, t]));
      const ix = sameShape(shape, x!.shape) ? null : broadcastIndex(shape, x!.shape);
      const it = sameShape(shape, t!.shape) ? null : broadcastIndex(shape, t!.shape);
      const fn = make(a);
      for (let i = 0; i < out.data.length; i++) out.data[i] = fn(x!.data[ix ? ix[i] : i], t!.data[it ? it[i] : i]);
      return [out];
    },
    flops: (_i, outs) => perElement * numel(outs[0].shape),
  };
}

export const LOSS_OPS: readonly OpDef[] = [
  lossOp('sigmoid_focal_loss', 'focal loss on logits, per element: -alpha_t (1 - p_t)^gamma log(p_t) (torchvision, reduction none)', 'logits',
    [{ name: 'alpha', type: 'float', default: 0.25, doc: '< 0: no class weighting' }, { name: 'gamma', type: 'float', default: 2 }], 14,
    (a) => {
      const alpha = floatAttr('sigmoid_focal_loss', a, 'alpha'), gamma = floatAttr('sigmoid_focal_loss', a, 'gamma');
      return (x, t) => focal(x, t, alpha, gamma);
    }),
  lossOp('bce_with_logits', 'binary cross-entropy on logits, per element, computed stably', 'logits', [], 5, () => bceWithLogits),
  lossOp('bce', 'binary cross-entropy on probabilities, per element, each log clamped at -100 (torch BCELoss)', 'probs', [], 8, () => bceOnProb),
];
