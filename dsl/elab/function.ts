// Functions: binding arguments to a signature, running the body (let,
// return, static if), and checking the result against the declared return.
import { Span } from '../../compiler/types.js';
import type { Expr, FnDecl, Pattern, Stmt } from '../ast.js';
import { Scope } from '../scope.js';
import { ERROR, Instance, Value, describe } from '../values.js';
import type { EvArg } from './call.js';
import { Elab, LIMITS } from './elab.js';
import { evalExpr, joinAlternatives } from './expr.js';
import { Binder, checkWhere, matchType, newBinder, resolveDeferred, valueOfType } from './types.js';

const GLOBAL = new Scope(undefined);

function fnLabel(fn: FnDecl, inst: Instance | undefined): string {
  return inst ? `${inst.decl.name}.${fn.name}` : fn.name;
}

/** Assigns positional and keyword arguments to parameters; undefined after reporting a mismatch. */
function assignArgs(el: Elab, fn: FnDecl, label: string, args: EvArg[], span: Span): (EvArg | undefined)[] | undefined {
  const slots: (EvArg | undefined)[] = fn.params.map(() => undefined);
  let pos = 0, ok = true;
  for (const a of args) {
    if (a.name === undefined) {
      if (pos >= fn.params.length) {
        el.report(a.span, `${label}() takes ${fn.params.length} argument${fn.params.length === 1 ? '' : 's'}, got ${args.length}`, `declared (${fn.params.map((p) => p.name).join(', ')})`);
        return undefined;
      }
      slots[pos++] = a;
      continue;
    }
    const k = fn.params.findIndex((p) => p.name === a.name);
    if (k < 0) { el.report(a.nameSpan ?? a.span, `${label}() has no parameter '${a.name}'`, `declared (${fn.params.map((p) => p.name).join(', ')})`); ok = false; continue; }
    if (slots[k]) { el.report(a.nameSpan ?? a.span, `${label}(): argument '${a.name}' is given twice`); ok = false; continue; }
    slots[k] = a;
  }
  const missing = fn.params.filter((_, i) => !slots[i]);
  if (missing.length && ok) {
    el.report(span, `${label}() takes ${fn.params.length} argument${fn.params.length === 1 ? '' : 's'}, got ${args.length}: missing ${missing.map((p) => `'${p.name}'`).join(', ')}`);
    return undefined;
  }
  return ok ? slots : undefined;
}

export function callFn(el: Elab, fn: FnDecl, inst: Instance | undefined, args: EvArg[], span: Span): Value {
  const label = fnLabel(fn, inst);
  if (el.depth >= LIMITS.depth) return el.report(span, `calls nest more than ${LIMITS.depth} deep (is ${label} recursive?)`);
  const slots = assignArgs(el, fn, label, args, span);
  if (!slots || slots.some((a) => a!.value.kind === 'error')) return ERROR;
  const outer = inst?.scope ?? GLOBAL;
  const b = newBinder(false, fn.where);
  bindIntParams(fn, slots.map((a) => a!.value), b);
  let ok = true;
  fn.params.forEach((p, i) => { ok = matchType(el, outer, p.type, slots[i]!.value, slots[i]!.span, b, `argument '${p.name}' of ${label}`) && ok; });
  ok = ok && resolveDeferred(el, outer, b, `${label}()`);
  ok = ok && checkWhere(el, outer, fn.where, b, span, (s, e) => evalExpr(el, s, e));
  if (!ok) return ERROR;
  // The checker trusts a declared return type (the body was checked generically).
  if (!el.lowering && fn.ret) return valueOfType(el, outer, fn.ret, b) ?? ERROR;
  el.frames.push({ what: `${label}() called`, span });
  try {
    return runBody(el, fn, inst, outer, slots.map((a) => a!.value), b, label);
  } finally {
    el.frames.pop();
  }
}

/** An int parameter is a dim name of the signature too: `fn up(x: f32[N], s: int) -> f32[s * N]`. */
export function bindIntParams(fn: FnDecl, values: (Value | undefined)[], b: Binder): void {
  fn.params.forEach((p, i) => {
    const v = values[i];
    if (p.type.kind === 'scalar' && p.type.name === 'int' && v?.kind === 'int') b.bound.set(p.name, v.v);
  });
}

/** Checks a function on its own: parameters typed with symbols, constructor parameters free. */
export function checkFnGeneric(el: Elab, fn: FnDecl, inst: Instance | undefined): void {
  const outer = inst?.scope ?? GLOBAL;
  const b = newBinder(true, fn.where);
  // Int parameters first: tensor shapes and the return type may use them.
  const ints = fn.params.map((p) => (p.type.kind === 'scalar' && p.type.name === 'int' ? valueOfType(el, outer, p.type, b) : undefined));
  bindIntParams(fn, ints, b);
  const values = fn.params.map((p, i) => ints[i] ?? valueOfType(el, outer, p.type, b) ?? ERROR);
  for (const [name] of b.bound) b.spans.set(name, fn.nameSpan);
  if (!checkWhere(el, outer, fn.where, b, fn.nameSpan, (s, e) => evalExpr(el, s, e))) return;
  runBody(el, fn, inst, outer, values, b, fnLabel(fn, inst));
}

function runBody(el: Elab, fn: FnDecl, inst: Instance | undefined, outer: Scope, values: Value[], b: Binder, label: string): Value {
  const scope = new Scope(outer);
  for (const [name, d] of b.bound) if (!outer.get(name)) scope.set(name, { kind: 'int', v: d });
  fn.params.forEach((p, i) => scope.set(p.name, values[i]));
  const saved = el.current, savedFile = el.file;
  el.current = inst;
  el.file = fn.span.file;
  el.depth++;
  let result: Returned;
  try {
    result = execBlock(el, scope, fn.body);
  } finally {
    el.depth--;
    el.current = saved;
    el.file = savedFile;
  }
  if (!result) return el.report(fn.nameSpan, `${label}() ends without returning a value`, 'end the function with return ...');
  if (fn.ret && result.value.kind !== 'error') {
    const rb: Binder = { ...b, deferred: [], generic: false, roundBuckets: false };
    const what = `the value returned by ${label}()`;
    if (!matchType(el, outer, fn.ret, result.value, result.span, rb, what) || !resolveDeferred(el, outer, rb, what)) return ERROR;
  }
  return result.value;
}

type Returned = { value: Value; span: Span; expr: Expr | undefined } | undefined;

export function execBlock(el: Elab, scope: Scope, stmts: Stmt[]): Returned {
  // A return under a condition the checker cannot decide: the function may
  // return it or what follows, so the result joins both.
  let pending: Returned;
  const settle = (r: Returned): Returned => (pending && r ? { ...r, value: joinAlternatives(pending.value, r.value) } : r ?? pending);
  for (const s of stmts) {
    switch (s.kind) {
      case 'let': bindPattern(el, scope, s.pattern, evalExpr(el, scope, s.value)); break;
      case 'return': return settle({ value: evalExpr(el, scope, s.value), span: s.value.span, expr: s.value });
      case 'if': {
        const c = evalExpr(el, scope, s.cond);
        let known: boolean | undefined;
        if (c.kind === 'bool') known = c.v;
        else if (c.kind !== 'error') el.report(s.cond.span, `an if condition must be a static bool, got ${describe(c)}`, 'tensor-valued choices use where(cond, a, b)');
        if (known !== undefined) {
          const r = execBlock(el, scope, known ? s.then : s.otherwise ?? []);
          if (r) return settle(r);
          break;
        }
        if (el.lowering) { if (c.kind === 'bool') el.report(s.cond.span, 'this condition is not known at compile time'); return { value: ERROR, span: s.span, expr: undefined }; }
        // The checker cannot decide: check both branches, keep what either defines.
        const sa = new Scope(scope), sb = new Scope(scope);
        const ra = execBlock(el, sa, s.then), rb = execBlock(el, sb, s.otherwise ?? []);
        for (const n of sb.ownNames()) scope.set(n, sb.own(n)!);
        for (const n of sa.ownNames()) scope.set(n, sb.own(n) ? joinAlternatives(sa.own(n)!, sb.own(n)!) : sa.own(n)!);
        if (ra && rb) return settle({ ...ra, value: joinAlternatives(ra.value, rb.value) });
        if (ra || rb) pending = settle(ra ?? rb);
        break;
      }
    }
  }
  return pending;
}

function bindPattern(el: Elab, scope: Scope, p: Pattern, v: Value): void {
  if (p.kind === 'name') { scope.set(p.name, v); return; }
  if (v.kind === 'error') { for (const q of p.items) bindPattern(el, scope, q, v); return; }
  if (v.kind !== 'seq') {
    el.report(p.span, `cannot destructure ${describe(v)} into ${p.items.length} names`);
    for (const q of p.items) bindPattern(el, scope, q, ERROR);
    return;
  }
  if (typeof v.len === 'number' && v.len !== p.items.length) {
    el.report(p.span, `cannot destructure a tuple of ${v.len} into ${p.items.length} names`);
    for (const q of p.items) bindPattern(el, scope, q, ERROR);
    return;
  }
  p.items.forEach((q, i) => bindPattern(el, scope, q, typeof v.len === 'number' ? v.items[i] : v.items[0] ?? ERROR));
}
