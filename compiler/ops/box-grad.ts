// Gradients of aligned IoU and GIoU, written as elementwise graph ops over
// the four box sides, so the backward of a GIoU loss fuses like its forward.
//
// With iw = relu(min(a2, b2) - max(a0, b0)) (ih alike), inter = iw * ih,
// union = areaA + areaB - inter, enclosing box ew * eh:
//   IoU  = inter / union                      (0, and flat, unless iw, ih > 0)
//   GIoU = inter / U - (enc - union) / E,     U = max(union, eps), E = max(enc, eps)
// The clamps pass the gradient where the clamped value is the one used
// (union >= eps, enc >= eps, raw sides > 0); min/max give it to a on ties.
import { floatAttr } from './attrs.js';
import { GradBuilder } from './op.js';

export function alignedGrad(b: GradBuilder, generalized: boolean): (number | undefined)[] {
  const [a, bb] = b.inputs, t = b.type(a), rank = t.shape.length;
  const eps = generalized ? floatAttr('box_giou_aligned', b.attrs, 'eps') : 0;
  const op = (name: string, ...ins: number[]): number => b.op(name, ins);
  const k = (v: number): number => b.constant(v, t.dtype);
  const side = (v: number, i: number): number => b.op('slice', [v], { axis: rank - 1, start: i, end: i + 1, step: 1 });
  // The sides and the quantities a few ops away from them are thunks,
  // emitted once per use so fusion recomputes them inside each consumer's
  // kernel; the deeper values (inter, union, the d*) are emitted once and
  // stored: recomputing those per use would multiply the work many times.
  const [a0, a1, a2, a3] = [0, 1, 2, 3].map((i) => (): number => side(a, i));
  const [b0, b1, b2, b3] = [0, 1, 2, 3].map((i) => (): number => side(bb, i));
  const g = (): number => b.op('reshape', [b.cotOrZero(0)], { shape: [...t.shape.slice(0, -1), 1] });
  const zero = (): number => k(0);
  const pick = (cond: number, v: number): number => op('where', cond, v, zero());
  type V = () => number;
  const iwRaw: V = () => op('sub', op('minimum', a2(), b2()), op('maximum', a0(), b0()));
  const ihRaw: V = () => op('sub', op('minimum', a3(), b3()), op('maximum', a1(), b1()));
  const iw: V = () => op('relu', iwRaw()), ih: V = () => op('relu', ihRaw());
  const interV = op('mul', iw(), ih()), inter: V = () => interV;
  const wa: V = () => op('sub', a2(), a0()), ha: V = () => op('sub', a3(), a1());
  const wb: V = () => op('sub', b2(), b0()), hb: V = () => op('sub', b3(), b1());
  const unionV = op('sub', op('add', op('mul', wa(), ha()), op('mul', wb(), hb())), inter()), union: V = () => unionV;
  const ew: V = () => op('sub', op('maximum', a2(), b2()), op('minimum', a0(), b0()));
  const eh: V = () => op('sub', op('maximum', a3(), b3()), op('minimum', a1(), b1()));

  let dInter0: V, dUnion: V, dEw: V | undefined, dEh: V | undefined;
  if (generalized) {
    const U: V = () => op('maximum', union(), k(eps)), enc: V = () => op('mul', ew(), eh()), E: V = () => op('maximum', enc(), k(eps));
    dInter0 = () => op('div', g(), U());
    const dU = op('neg', op('div', op('mul', g(), inter()), op('square', U())));
    const dUnionV = op('add', pick(op('ge', union(), k(eps)), dU), op('div', g(), E()));
    dUnion = () => dUnionV;
    const dE = op('div', op('mul', g(), op('sub', enc(), union())), op('square', E()));
    const dEnc = op('add', op('neg', op('div', g(), E())), pick(op('ge', enc(), k(eps)), dE));
    const dEwV = op('mul', dEnc, eh()), dEhV = op('mul', dEnc, ew());
    dEw = () => dEwV; dEh = () => dEhV;
  } else {
    // IoU is 0 (flat) unless both intersection sides are positive.
    const gl: V = () => pick(op('logical_and', op('gt', iwRaw(), zero()), op('gt', ihRaw(), zero())), g());
    dInter0 = () => op('div', gl(), union());
    const dUnionV = op('neg', op('div', op('mul', gl(), inter()), op('square', union())));
    dUnion = () => dUnionV;
  }
  const dInter = op('sub', dInter0(), dUnion()); // union = areaA + areaB - inter
  const dIwV = pick(op('gt', iwRaw(), zero()), op('mul', dInter, ih())), dIw: V = () => dIwV;
  const dIhV = pick(op('gt', ihRaw(), zero()), op('mul', dInter, iw())), dIh: V = () => dIhV;

  // Per side: [da, db] contributions, summed at the end.
  const da: number[][] = [[], [], [], []], db: number[][] = [[], [], [], []];
  const area = (out: number[][], w: V, h: V): void => {
    out[2].push(op('mul', dUnion(), h())); out[0].push(op('neg', op('mul', dUnion(), h())));
    out[3].push(op('mul', dUnion(), w())); out[1].push(op('neg', op('mul', dUnion(), w())));
  };
  if (b.needs(0)) area(da, wa, ha);
  if (b.needs(1)) area(db, wb, hb);
  /** Routes d to a's side i where `aWins` holds, else to b's; negated for near sides. */
  const route = (i: number, aWins: V, d: V, negate: boolean): void => {
    const signed = (): number => (negate ? op('neg', d()) : d());
    if (b.needs(0)) da[i].push(pick(aWins(), signed()));
    if (b.needs(1)) db[i].push(op('where', aWins(), zero(), signed()));
  };
  // Intersection: min of far sides minus max of near sides.
  route(2, () => op('le', a2(), b2()), dIw, false); route(0, () => op('ge', a0(), b0()), dIw, true);
  route(3, () => op('le', a3(), b3()), dIh, false); route(1, () => op('ge', a1(), b1()), dIh, true);
  if (dEw !== undefined && dEh !== undefined) {
    // Enclosing box: max of far sides minus min of near sides.
    route(2, () => op('ge', a2(), b2()), dEw, false); route(0, () => op('le', a0(), b0()), dEw, true);
    route(3, () => op('ge', a3(), b3()), dEh, false); route(1, () => op('le', a1(), b1()), dEh, true);
  }
  const total = (parts: number[][]): number => b.op('concat', parts.map((ps) => ps.reduce((x, y) => op('add', x, y))), { axis: rank - 1 });
  return [b.needs(0) ? total(da) : undefined, b.needs(1) ? total(db) : undefined];
}
