// The max rule shared by max3d's kernels (tiled, register strips, CPU rows):
// a value replaces the running maximum when it is larger or a NaN, so a NaN,
// once in, stays (the reference's rule) and −∞ padding never replaces a value.
import { Expr } from '../kernel/ir.js';
import { bin, sel, set, v } from '../kernel/build.js';
import { Emitter } from '../schedule/emit.js';

/** max(a, b) under the rule: b when it is larger or a NaN, else a. */
export function maxOf(a: Expr, b: Expr): Expr { return sel(bin('or', bin('gt', b, a), bin('ne', b, b)), b, a); }

/** m = max(m, val) under the rule. */
export function maxInto(em: Emitter, m: string, val: Expr): void { em.emit(set(m, maxOf(v(m, 'f32'), val))); }
