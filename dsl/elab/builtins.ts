// Builtins that are not ops: parameter initialisers, repeat, and static
// values (dim, len, shape, min, max, choose). choose(c, a, b) evaluates both
// arguments, so it picks values, not modules: use a module-level if for those.
import { isConst, showDim, add } from '../../compiler/dims.js';
import { Init } from '../../compiler/graph.js';
import type { Expr } from '../ast.js';
import { Scope } from '../scope.js';
import { ERROR, Value, describe, seqOf, freshSym } from '../values.js';
import { Elab, LIMITS } from './elab.js';
import { evalExpr, joinAlternatives } from './expr.js';

type CallExpr = Extract<Expr, { kind: 'call' }>;

const INIT_ARITY: Record<string, [number, number, string]> = {
  zeros: [0, 0, 'zeros'], ones: [0, 0, 'ones'], constant: [1, 1, 'constant(value)'], normal: [2, 2, 'normal(mean, std)'],
  uniform: [2, 2, 'uniform(lo, hi)'], kaiming: [0, 2, 'kaiming(mode = "fan_out", gain = 1.414)'], prior_logit: [1, 1, 'prior_logit(p)'],
};
export const INIT_NAMES = Object.keys(INIT_ARITY);

/** An initialiser from its name and already-evaluated numeric or string arguments; undefined if `name` is not one. */
export function initBuiltin(name: string, args: (number | string | undefined)[]): Value | undefined {
  if (!(name in INIT_ARITY)) return undefined;
  const [lo] = INIT_ARITY[name];
  if (lo > 0 && args.length === 0) return undefined;
  const n = (i: number, d: number): number => (typeof args[i] === 'number' ? (args[i] as number) : d);
  let init: Init;
  switch (name) {
    case 'zeros': init = { kind: 'zeros' }; break;
    case 'ones': init = { kind: 'ones' }; break;
    case 'constant': init = { kind: 'constant', value: n(0, 0) }; break;
    case 'normal': init = { kind: 'normal', mean: n(0, 0), std: n(1, 1) }; break;
    case 'uniform': init = { kind: 'uniform', lo: n(0, 0), hi: n(1, 1) }; break;
    case 'prior_logit': init = { kind: 'prior_logit', prob: n(0, 0.01) }; break;
    default: init = { kind: 'kaiming', mode: args[0] === 'fan_in' ? 'fan_in' : 'fan_out', gain: n(1, Math.SQRT2) };
  }
  return { kind: 'init', init };
}

function argValues(el: Elab, scope: Scope, e: CallExpr): Value[] {
  return e.args.map((a) => evalExpr(el, scope, a.value));
}

function noKeywords(el: Elab, e: CallExpr, name: string): boolean {
  const kw = e.args.find((a) => a.name !== undefined);
  if (kw) { el.report(kw.nameSpan ?? kw.span, `${name}() takes no keyword arguments`); return false; }
  return true;
}

function arity(el: Elab, e: CallExpr, name: string, lo: number, hi: number, usage: string): boolean {
  if (e.args.length < lo || e.args.length > hi) {
    const at = e.args.length > hi ? e.args[hi].span : e.span;
    el.report(at, `${name}() takes ${lo === hi ? lo : `${lo} to ${hi}`} argument${hi === 1 ? '' : 's'}, got ${e.args.length}`, `usage: ${usage}`);
    return false;
  }
  return true;
}

/** Evaluates a call of a builtin; undefined when `name` is not a builtin. */
export function callBuiltin(el: Elab, scope: Scope, name: string, e: CallExpr): Value | undefined {
  if (name in INIT_ARITY) {
    const [lo, hi, usage] = INIT_ARITY[name];
    if (!noKeywords(el, e, name) || !arity(el, e, name, lo, hi, usage)) return ERROR;
    const vals = argValues(el, scope, e);
    const args: (number | string | undefined)[] = [];
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v.kind === 'error') return ERROR;
      if (v.kind === 'int') args.push(isConst(v.v) ? v.v : undefined);
      else if (v.kind === 'float') args.push(v.v);
      else if (v.kind === 'string' && name === 'kaiming' && i === 0) {
        if (v.v !== undefined && v.v !== 'fan_in' && v.v !== 'fan_out') return el.report(e.args[i].span, `kaiming mode must be "fan_in" or "fan_out", got "${v.v}"`);
        args.push(v.v);
      } else return el.report(e.args[i].span, `${name}() needs numbers, got ${describe(v)}`, `usage: ${usage}`);
    }
    if (name === 'prior_logit' && typeof args[0] === 'number' && !(args[0] > 0 && args[0] < 1)) return el.report(e.args[0].span, `prior_logit(p) needs 0 < p < 1, got ${args[0]}`);
    if (name === 'normal' && typeof args[1] === 'number' && args[1] < 0) return el.report(e.args[1].span, `normal(mean, std) needs std >= 0, got ${args[1]}`);
    return initBuiltin(name, args) ?? ERROR;
  }
  switch (name) {
    case 'repeat': return repeat(el, scope, e);
    case 'dim': {
      if (!noKeywords(el, e, name) || !arity(el, e, name, 2, 2, 'dim(x, axis)')) return ERROR;
      const [x, i] = argValues(el, scope, e);
      if (x.kind === 'error' || i.kind === 'error') return ERROR;
      if (x.kind !== 'tensor') return el.report(e.args[0].span, `dim() needs a tensor, got ${describe(x)}`);
      if (i.kind !== 'int' || !isConst(i.v)) return el.report(e.args[1].span, `dim() needs a constant axis`);
      const r = x.type.shape.length, k = i.v < 0 ? i.v + r : i.v;
      if (k < 0 || k >= r) return el.report(e.args[1].span, `axis ${i.v} is out of range for a tensor of rank ${r}`);
      return { kind: 'int', v: x.type.shape[k] };
    }
    case 'shape': {
      if (!noKeywords(el, e, name) || !arity(el, e, name, 1, 1, 'shape(x)')) return ERROR;
      const [x] = argValues(el, scope, e);
      if (x.kind === 'error') return ERROR;
      if (x.kind !== 'tensor') return el.report(e.args[0].span, `shape() needs a tensor, got ${describe(x)}`);
      return seqOf(x.type.shape.map((d) => ({ kind: 'int', v: d })));
    }
    case 'len': {
      if (!noKeywords(el, e, name) || !arity(el, e, name, 1, 1, 'len(xs)')) return ERROR;
      const [x] = argValues(el, scope, e);
      if (x.kind === 'error') return ERROR;
      if (x.kind === 'seq') return { kind: 'int', v: x.len };
      return el.report(e.args[0].span, `len() needs a tuple or list, got ${describe(x)}`);
    }
    case 'choose': {
      if (!noKeywords(el, e, name) || !arity(el, e, name, 3, 3, 'choose(cond, a, b)')) return ERROR;
      const [c, a, b] = argValues(el, scope, e);
      if (c.kind === 'error') return ERROR;
      if (c.kind !== 'bool') return el.report(e.args[0].span, `choose() needs a static bool condition, got ${describe(c)}`);
      if (c.v !== undefined) return c.v ? a : b;
      return joinAlternatives(a, b);
    }
    case 'min': case 'max': {
      if (!noKeywords(el, e, name) || !arity(el, e, name, 2, 2, `${name}(a, b)`)) return ERROR;
      const [a, b] = argValues(el, scope, e);
      if (a.kind === 'error' || b.kind === 'error') return ERROR;
      if (a.kind !== 'int' || b.kind !== 'int') return el.report(e.span, `${name}() of ints only, got ${describe(a)} and ${describe(b)}`, name === 'max' ? 'for tensors use maximum(a, b)' : 'for tensors use minimum(a, b)');
      if (isConst(a.v) && isConst(b.v)) return { kind: 'int', v: name === 'min' ? Math.min(a.v, b.v) : Math.max(a.v, b.v) };
      return { kind: 'int', v: freshSym(name) };
    }
  }
  return undefined;
}

/** repeat(n, M(...)): n instances named field.0 ... field.n-1, called as a chain. */
function repeat(el: Elab, scope: Scope, e: CallExpr): Value {
  if (!noKeywords(el, e, 'repeat') || !arity(el, e, 'repeat', 2, 2, 'repeat(n, Module(...))')) return ERROR;
  const n = evalExpr(el, scope, e.args[0].value);
  if (n.kind === 'error') return ERROR;
  if (n.kind !== 'int') return el.report(e.args[0].span, `repeat() needs an int count, got ${describe(n)}`);
  const base = el.fieldPath;
  if (base === undefined) return el.report(e.span, 'repeat() creates modules: use it in a module field, e.g. tower = repeat(4, ConvGN(C, C))');
  const make = (i: number): Value => {
    el.fieldPath = `${base}.${i}`;
    const v = evalExpr(el, scope, e.args[1].value);
    el.fieldPath = base;
    if (v.kind !== 'module' && v.kind !== 'error') return el.report(e.args[1].span, `repeat() needs a module instance, got ${describe(v)}`);
    return v;
  };
  if (!isConst(n.v)) {
    if (el.lowering) return el.report(e.args[0].span, `the repeat count ${showDim(n.v)} is not known at compile time`);
    return { kind: 'seq', items: [make(0)], len: add(n.v, 0) };
  }
  if (n.v < 0) return el.report(e.args[0].span, `repeat() count must be >= 0, got ${n.v}`);
  if (n.v > LIMITS.loop) return el.report(e.args[0].span, `repeat() count ${n.v} is too large (at most ${LIMITS.loop})`);
  const items: Value[] = [];
  for (let i = 0; i < n.v; i++) items.push(make(i));
  return seqOf(items);
}
