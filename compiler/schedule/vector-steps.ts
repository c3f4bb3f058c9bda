// Vector steps over a range of a CPU kernel's loop: `vec` elements a step
// from lo, the last step ending at hi and overlapping the one before, so a
// range that is not a multiple of the vector width needs no scalar tail. A
// step's work must therefore be idempotent (a store of the same value, a
// running maximum). Used by max_pool2d's row kernel and the Winograd
// transforms, whose vector loops (render/vectorize.ts) run inside a step.
import { Expr, Stmt } from '../kernel/ir.js';
import { add, for_, idx, min, mul, v } from '../kernel/build.js';
import { Emitter } from './emit.js';

/** `for name: x0 = min(lo + name·vec, hi − vec); step(x0)`, ceil((hi − lo) / vec) times; hi − lo must hold a vector. */
export function overlappingSteps(em: Emitter, name: string, lo: number, hi: number, vec: number, step: (x0: Expr) => void): Stmt {
  if (hi - lo < vec) throw new Error(`overlappingSteps: [${lo}, ${hi}) is narrower than a vector of ${vec}`);
  return for_(name, idx(0), idx(Math.ceil((hi - lo) / vec)), em.block(() => step(em.bind(min(add(idx(lo), mul(v(name), idx(vec))), idx(hi - vec)), `${name}x0`))));
}
