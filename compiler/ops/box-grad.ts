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
  const [a0, a1, a2, a3] = [0, 1, 2, 3].map((i) => side(a, i));
  const [b0, b1, b2, b3] = [0, 1, 2, 3].map((i) => side(bb, i));
  const g = b.op('reshape', [b.cotOrZero(0)], { shape: [...t.shape.slice(0, -1), 1] });
  const zero = k(0);
  const pick = (cond: number, v: number): number => op('where', cond, v, zero);

  const iwRaw = op('sub', op('minimum', a2, b2), op('maximum', a0, b0));
  const ihRaw = op('sub', op('minimum', a3, b3), op('maximum', a1, b1));
  const iw = op('relu', iwRaw), ih = op('relu', ihRaw);
  const inter = op('mul', iw, ih);
  const wa = op('sub', a2, a0), ha = op('sub', a3, a1), wb = op('sub', b2, b0), hb = op('sub', b3, b1);
  const union = op('sub', op('add', op('mul', wa, ha), op('mul', wb, hb)), inter);
  const ew = op('sub', op('maximum', a2, b2), op('minimum', a0, b0));
  const eh = op('sub', op('maximum', a3, b3), op('minimum', a1, b1));

  let dInter: number, dUnion: number, dEw: number | undefined, dEh: number | undefined;
  if (generalized) {
    const U = op('maximum', union, k(eps)), enc = op('mul', ew, eh), E = op('maximum', enc, k(eps));
    dInter = op('div', g, U);
    const dU = op('neg', op('div', op('mul', g, inter), op('square', U)));
    dUnion = op('add', pick(op('ge', union, k(eps)), dU), op('div', g, E));
    const dE = op('div', op('mul', g, op('sub', enc, union)), op('square', E));
    const dEnc = op('add', op('neg', op('div', g, E)), pick(op('ge', enc, k(eps)), dE));
    dEw = op('mul', dEnc, eh); dEh = op('mul', dEnc, ew);
  } else {
    // IoU is 0 (flat) unless both intersection sides are positive.
    const live = op('logical_and', op('gt', iwRaw, zero), op('gt', ihRaw, zero));
    const gl = pick(live, g);
    dInter = op('div', gl, union);
    dUnion = op('neg', op('div', op('mul', gl, inter), op('square', union)));
  }
  dInter = op('sub', dInter, dUnion); // union = areaA + areaB - inter
  const dIw = pick(op('gt', iwRaw, zero), op('mul', dInter, ih));
  const dIh = pick(op('gt', ihRaw, zero), op('mul', dInter, iw));

  // Per side: [da, db] contributions, summed at the end.
  const da: number[][] = [[], [], [], []], db: number[][] = [[], [], [], []];
  // Areas: d(w h) = dUnion * (h, w) with signs for near (-) and far (+) sides.
  da[2].push(op('mul', dUnion, ha)); da[0].push(op('neg', op('mul', dUnion, ha)));
  da[3].push(op('mul', dUnion, wa)); da[1].push(op('neg', op('mul', dUnion, wa)));
  db[2].push(op('mul', dUnion, hb)); db[0].push(op('neg', op('mul', dUnion, hb)));
  db[3].push(op('mul', dUnion, wb)); db[1].push(op('neg', op('mul', dUnion, wb)));
  /** Routes d to a's side i where `aWins` holds, else to b's; `sign` for near sides. */
  const route = (i: number, aWins: number, d: number, negate: boolean): void => {
    const v = negate ? op('neg', d) : d;
    da[i].push(pick(aWins, v)); db[i].push(op('where', aWins, zero, v));
  };
  // Intersection: min of far sides minus max of near sides.
  route(2, op('le', a2, b2), dIw, false); route(0, op('ge', a0, b0), dIw, true);
  route(3, op('le', a3, b3), dIh, false); route(1, op('ge', a1, b1), dIh, true);
  if (dEw !== undefined && dEh !== undefined) {
    // Enclosing box: max of far sides minus min of near sides.
    route(2, op('ge', a2, b2), dEw, false); route(0, op('le', a0, b0), dEw, true);
    route(3, op('ge', a3, b3), dEh, false); route(1, op('le', a1, b1), dEh, true);
  }
  const total = (parts: number[][]): number => b.op('concat', parts.map((ps) => ps.reduce((x, y) => op('add', x, y))), { axis: rank - 1 });
  return [b.needs(0) ? total(da) : undefined, b.needs(1) ? total(db) : undefined];
}
