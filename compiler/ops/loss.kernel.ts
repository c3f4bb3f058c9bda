// The kernels of the per-element losses (loss.ts): each output element from
// the broadcast logits (or probabilities) and targets, with the references'
// stable forms.
import { GNode } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { add, bin, div, f32, max as fmax, mul, sub, un } from '../kernel/build.js';
import { Emitter, broadcastAt } from '../schedule/emit.js';
import { numberAttrOr } from './attrs.js';
import type { LOSS_OPS } from './loss.js';
import { OpNameOf, perElement } from './op.js';

/** log(1 + exp(-|x|)) + max(x, 0) - x t: BCE on logits, computed stably. */
function bceLogits(x: Expr, t: Expr): Expr {
  return add(sub(fmax(x, f32(0)), mul(x, t)), un('log', add(f32(1), un('exp', un('neg', un('abs', x))))));
}

function lossOperands(em: Emitter, node: GNode, out: readonly Expr[]): [Expr, Expr] {
  return [em.bind(em.input(node, 0, broadcastAt(em.inShape(node, 0), out))), em.bind(em.input(node, 1, broadcastAt(em.inShape(node, 1), out)))];
}

export const LOSS_KERNELS = perElement<OpNameOf<typeof LOSS_OPS>>({
  bce_with_logits: (em, node, out) => bceLogits(...lossOperands(em, node, out)),
  bce: (em, node, out) => {
    const [p, t] = lossOperands(em, node, out);
    const lp = fmax(un('log', p), f32(-100)), lq = fmax(un('log', sub(f32(1), p)), f32(-100));
    return un('neg', add(mul(t, lp), mul(sub(f32(1), t), lq)));
  },
  sigmoid_focal_loss: (em, node, out) => {
    const [x, t] = lossOperands(em, node, out);
    const alpha = numberAttrOr(node.attrs, 'alpha', 0.25), gamma = numberAttrOr(node.attrs, 'gamma', 2);
    const p = em.bind(div(f32(1), add(f32(1), un('exp', un('neg', x)))));
    const pt = em.bind(add(mul(p, t), mul(sub(f32(1), p), sub(f32(1), t))));
    const loss = mul(bceLogits(x, t), bin('pow', sub(f32(1), pt), f32(gamma)));
    return alpha >= 0 ? mul(loss, add(mul(f32(alpha), t), mul(f32(1 - alpha), sub(f32(1), t)))) : loss;
  },
});
