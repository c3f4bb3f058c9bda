// The kernels of the elementwise and broadcast ops (elementwise.ts): one row
// per op, an expression over the inputs' values at the (broadcast) index,
// which the generic schedules inline wherever the op is fused. The table says
// *how* an op computes; whether it fuses is decided by the op's declared kind.
import { GNode } from '../graph.js';
import { BinaryOp, Expr, UnaryOp, typeOf } from '../kernel/ir.js';
import { bin, cast, f32, konst, sel, un } from '../kernel/build.js';
import { Emitter, Lowering, broadcastAt } from '../schedule/emit.js';
import { numberAttrOr } from './attrs.js';
import type { ELEMENTWISE_OPS } from './elementwise.js';
import { OpNameOf, perElement } from './op.js';

function operand(em: Emitter, node: GNode, i: number, out: readonly Expr[]): Expr {
  return em.input(node, i, broadcastAt(em.inShape(node, i), out));
}

const isNan = (x: Expr): Expr => bin('ne', x, x);

function unary(f: (x: Expr) => Expr): Lowering {
  return (em, node, out) => f(em.bind(operand(em, node, 0, out)));
}
function binary(f: (a: Expr, b: Expr) => Expr): Lowering {
  return (em, node, out) => f(em.bind(operand(em, node, 0, out)), em.bind(operand(em, node, 1, out)));
}
const alu1 = (op: UnaryOp): Lowering => unary((x) => un(op, x));
const alu2 = (op: BinaryOp): Lowering => binary((a, b) => bin(op, a, b));

const zeroOf = (x: Expr): Expr => konst(typeOf(x), 0);

/** NaN-propagating max/min (torch.maximum), plain for integers. */
function nanMinMax(op: 'max' | 'min'): Lowering {
  return binary((a, b) => (typeOf(a) !== 'f32' ? bin(op, a, b) : sel(isNan(a), a, sel(isNan(b), b, bin(op, a, b)))));
}

export const ELEMENTWISE_KERNELS = perElement<OpNameOf<typeof ELEMENTWISE_OPS>>({
  neg: alu1('neg'),
  abs: alu1('abs'),
  relu: unary((x) => sel(bin('lt', x, zeroOf(x)), zeroOf(x), x)),
  sigmoid: unary((x) => bin('div', f32(1), bin('add', f32(1), un('exp', un('neg', x))))),
  tanh: alu1('tanh'),
  exp: alu1('exp'),
  log: alu1('log'),
  sqrt: alu1('sqrt'),
  rsqrt: unary((x) => bin('div', f32(1), un('sqrt', x))),
  square: unary((x) => bin('mul', x, x)),
  floor: unary((x) => (typeOf(x) === 'f32' ? un('floor', x) : x)),
  ceil: unary((x) => (typeOf(x) === 'f32' ? un('ceil', x) : x)),
  softplus: unary((x) => bin('add', bin('max', x, f32(0)), un('log', bin('add', f32(1), un('exp', un('neg', un('abs', x))))))),
  logical_not: alu1('not'),
  add: alu2('add'),
  sub: alu2('sub'),
  mul: alu2('mul'),
  div: alu2('div'),
  pow: alu2('pow'),
  maximum: nanMinMax('max'),
  minimum: nanMinMax('min'),
  logical_and: alu2('and'),
  logical_or: alu2('or'),
  lt: alu2('lt'), le: alu2('le'), gt: alu2('gt'), ge: alu2('ge'), eq: alu2('eq'), ne: alu2('ne'),
  where: (em, node, out) => {
    const c = em.bind(operand(em, node, 0, out));
    return sel(c, operand(em, node, 1, out), operand(em, node, 2, out));
  },
  clamp: (em, node, out) => {
    const x = em.bind(operand(em, node, 0, out));
    const lo = numberAttrOr(node.attrs, 'lo', -Infinity), hi = numberAttrOr(node.attrs, 'hi', Infinity);
    let e = x;
    if (typeOf(x) === 'f32') {
      if (lo > -Infinity) e = bin('max', e, f32(lo));
      if (hi < Infinity) e = bin('min', e, f32(hi));
      return sel(isNan(x), x, e);
    }
    if (lo > -Infinity) e = bin('max', e, konst(typeOf(x), Math.ceil(lo)));
    if (hi < Infinity) e = bin('min', e, konst(typeOf(x), Math.floor(hi)));
    return e;
  },
  cast: (em, node, out) => {
    const x = em.bind(operand(em, node, 0, out));
    const to = em.dtype(node.outputs[0]);
    const from = typeOf(x);
    if (from === to) return x;
    if (to === 'bool') return from === 'f32' ? bin('and', bin('ne', x, f32(0)), bin('eq', x, x)) : bin('ne', x, zeroOf(x));
    // C leaves float→int of NaN/inf undefined; the reference gives 0.
    if (from === 'f32' && to === 'i32') {
      return sel(bin('lt', un('abs', x), f32(2147483520)), cast(x, 'i32'), konst('i32', 0));
    }
    return cast(x, to);
  },
});
