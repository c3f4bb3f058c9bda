// Per-element classification losses (no reduction: the model divides by the
// number of positives itself). Fused forms of what would otherwise be several
// elementwise ops, written the numerically stable way.
import { DType, numel } from '../types.js';
import { floatAttr } from './attrs.js';
import { broadcastIndex, broadcastShapes, sameShape } from './broadcast.js';
import { need, requireDtype, requireSameDtype } from './checks.js';
import { Attrs, GradBuilder, GradFn, GradRule, Op, OpDef } from './op.js';
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

/** Per-element derivatives written as graph ops over the full (broadcast) shape: [d/dx, d/dt], undefined where not given. */
type LossGrad = (b: GradBuilder, x: number, t: number, g: number, k: (v: number) => number) => [number | undefined, number | undefined];

function lossGrad(rule: LossGrad): GradFn {
  return (b) => {
    const [x, t] = b.inputs, dtype = b.type(x).dtype;
    const [dx, dt] = rule(b, x, t, b.cotOrZero(0), (v) => b.constant(v, dtype));
    return [
      dx !== undefined && b.needs(0) ? b.unbroadcast(dx, b.type(x).shape) : undefined,
      dt !== undefined && b.needs(1) ? b.unbroadcast(dt, b.type(t).shape) : undefined,
    ];
  };
}

/** d bce_with_logits: sigmoid(x) - t for the logit, -x for the target. */
const bceWithLogitsGrad = lossGrad((b, x, t, g) => [
  b.op('mul', [g, b.op('sub', [b.op('sigmoid', [x]), t])]),
  b.needs(1) ? b.op('mul', [g, b.op('neg', [x])]) : undefined,
]);

/** The derivative of the clamped logs: each log term stops contributing where it is clamped at -100. */
const bceGrad = lossGrad((b, p, t, g, k) => {
  const q = b.op('sub', [k(1), p]);
  const logP = b.op('log', [p]), logQ = b.op('log', [q]);
  const live = (l: number, v: number): number => b.op('where', [b.op('gt', [l, k(-100)]), v, k(0)]);
  const dp = b.op('sub', [live(logQ, b.op('div', [b.op('sub', [k(1), t]), q])), live(logP, b.op('div', [t, p]))]);
  const dt = b.needs(1) ? b.op('sub', [b.op('maximum', [logQ, k(-100)]), b.op('maximum', [logP, k(-100)])]) : undefined;
  return [b.op('mul', [g, dp]), dt === undefined ? undefined : b.op('mul', [g, dt])];
});

/**
 * Focal loss L = a_t * bce(x, t) * m^gamma with p = sigmoid(x), m = 1 - p_t:
 * dL/dx = a_t * ((p - t) m^gamma - gamma m^(gamma-1) (2t - 1) p (1 - p) bce).
 * Targets are labels: they get no gradient.
 */
function focalGrad(alpha: number, gamma: number): LossGrad {
  // Values used more than once are emitted once per use, so fusion
  // recomputes them in the one kernel rather than storing each.
  return (b, x, t, g, k) => {
    const op = (name: string, ...ins: number[]): number => b.op(name, ins);
    const p = (): number => op('sigmoid', x);
    const q = (): number => op('sub', k(1), p());
    const m = (): number => op('sub', k(1), op('add', op('mul', p(), t), op('mul', q(), op('sub', k(1), t))));
    let d = op('sub', p(), t);
    if (gamma !== 0) {
      // m^(gamma-1) is infinite at m = 0 when gamma < 1; that term is 0 there (bce is 0 too).
      const mg1 = (): number => (gamma === 1 ? k(1) : gamma > 1 ? op('pow', m(), k(gamma - 1)) : op('where', op('gt', m(), k(0)), op('pow', m(), k(gamma - 1)), k(0)));
      const bce = b.op('bce_with_logits', [x, t]);
      const slope = op('mul', op('mul', op('sub', op('mul', t, k(2)), k(1)), op('mul', p(), q())), bce);
      d = op('sub', op('mul', d, op('mul', mg1(), m())), op('mul', k(gamma), op('mul', mg1(), slope)));
    }
    if (alpha >= 0) d = op('mul', d, op('add', op('mul', t, k(alpha)), op('mul', op('sub', k(1), t), k(1 - alpha))));
    return [op('mul', g, d), undefined];
  };
}

function lossOp<N extends string>(name: N, doc: string, first: string, attrs: OpDef['attrs'], perElement: number,
  make: (attrs: Attrs) => (x: number, t: number) => number, grad: GradRule): Op<N> {
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
    grad,
  };
}

export const LOSS_OPS = [
  lossOp('sigmoid_focal_loss', 'focal loss on logits, per element: -alpha_t (1 - p_t)^gamma log(p_t) (torchvision, reduction none)', 'logits',
    [{ name: 'alpha', type: 'float', default: 0.25, doc: '< 0: no class weighting' }, { name: 'gamma', type: 'float', default: 2 }], 14,
    (a) => {
      const alpha = floatAttr('sigmoid_focal_loss', a, 'alpha'), gamma = floatAttr('sigmoid_focal_loss', a, 'gamma');
      return (x, t) => focal(x, t, alpha, gamma);
    },
    (b) => lossGrad(focalGrad(floatAttr('sigmoid_focal_loss', b.attrs, 'alpha'), floatAttr('sigmoid_focal_loss', b.attrs, 'gamma')))(b)),
  lossOp('bce_with_logits', 'binary cross-entropy on logits, per element, computed stably', 'logits', [], 5, () => bceWithLogits, bceWithLogitsGrad),
  lossOp('bce', 'binary cross-entropy on probabilities, per element, each log clamped at -100 (torch BCELoss)', 'probs', [], 8, () => bceOnProb, bceGrad),
] as const;
