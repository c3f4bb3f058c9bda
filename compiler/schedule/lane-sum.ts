// Float sums in L partial sums: a per-thread register array whose lane l
// adds elements l, l + L, ... of a flat range. The loop over lanes is a
// vector loop (contiguous loads where the elements are), where a serial sum
// would wait out an add's latency per element and the C compiler may not
// reorder it. The order differs from a serial sum's, as it does between any
// two schedules; one program always sums alike. Used by the CPU's sums
// (ops/reduce.kernel.ts) and group norm (ops/norm.kernel.ts).
import { Expr } from '../kernel/ir.js';
import { add, bin, f32, for_, idx, lload, lstore, mul, set, v } from '../kernel/build.js';
import { Emitter } from './emit.js';

/** A fresh lane array of L partial sums, zeroed; its name. */
export function startLanes(em: Emitter, L: number): string {
  const lanes = em.fresh('lanes'), l = em.fresh('l');
  em.regs.push({ name: lanes, t: 'f32', size: L });
  em.emit(for_(l, idx(0), idx(L), [lstore(lanes, v(l), f32(0))], false, L > 1 ? L : 0));
  return lanes;
}

/** Adds element(f) for f in [0, count) to the lanes, the range's last count mod L elements to the f32 variable `acc`. */
export function addRange(em: Emitter, lanes: string, L: number, count: number, element: (flat: Expr) => Expr, acc: string): void {
  const full = Math.floor(count / L), l = em.fresh('l'), e0 = em.fresh('e0'), r = em.fresh('r');
  const lane = lload(lanes, v(l), 'f32');
  em.emit(for_(e0, idx(0), idx(full), [for_(l, idx(0), idx(L), em.block(() => {
    em.emit(lstore(lanes, v(l), bin('add', lane, element(add(mul(v(e0), idx(L)), v(l))))));
  }), false, L > 1 ? L : 0)]));
  if (full * L < count) em.emit(for_(r, idx(full * L), idx(count), em.block(() => em.emit(set(acc, bin('add', v(acc, 'f32'), element(v(r))))))));
}

/** acc += the lanes, in lane order. */
export function foldLanes(em: Emitter, lanes: string, L: number, acc: string): void {
  const l = em.fresh('l');
  em.emit(for_(l, idx(0), idx(L), [set(acc, bin('add', v(acc, 'f32'), lload(lanes, v(l), 'f32')))]));
}
