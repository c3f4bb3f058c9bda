// Expressions: literals, names, arithmetic on ints (dims), floats and
// tensors, indexing, tuples, lists and static comprehensions.
import { Dim, add, floordiv, isConst, mod, mul, neg, showDim, sub, dimEquals } from '../../compiler/dims.js';
import { OPS } from '../../compiler/ops/index.js';
import { DType, Span } from '../../compiler/types.js';
import type { BinaryOp, Expr } from '../ast.js';
import { Scope } from '../scope.js';
import { ERROR, Value, describe, freshSym, seqOf } from '../values.js';
import { Elab, LIMITS } from './elab.js';
import { evalCall, applyOp } from './call.js';
import { initBuiltin } from './builtins.js';
import { symbolicQuotient } from './types.js';

export function evalExpr(el: Elab, scope: Scope, e: Expr): Value {
  if (++el.steps > LIMITS.steps) {
    if (el.steps === LIMITS.steps + 1) el.report(e.span, `the program takes more than ${LIMITS.steps} steps to unroll`, 'nested loops multiply: unroll less');
    return ERROR;
  }
  switch (e.kind) {
    case 'int': return { kind: 'int', v: e.value };
    case 'float': return { kind: 'float', v: e.value };
    case 'bool': return { kind: 'bool', v: e.value };
    case 'string': return { kind: 'string', v: e.value };
    case 'name': return evalName(el, scope, e.name, e.span);
    case 'unary': return evalUnary(el, scope, e.op, e.arg, e.span);
    case 'binary': return evalBinary(el, scope, e.op, e.left, e.right, e.span);
    case 'call': return evalCall(el, scope, e);
    case 'index': return evalIndex(el, evalExpr(el, scope, e.target), evalExpr(el, scope, e.index), e.index.span, e.span);
    case 'member': return evalMember(el, scope, e.target, e.name, e.nameSpan);
    case 'tuple': return seqOf(evalItems(el, scope, e.items));
    case 'list': return seqOf(evalItems(el, scope, e.items));
    case 'comp': return evalComp(el, scope, e);
  }
}

/** Items of a tuple or list; in a field, modules created by item i get the path suffix .i */
function evalItems(el: Elab, scope: Scope, items: Expr[]): Value[] {
  const base = el.fieldPath;
  const out = items.map((it, i) => {
    if (base !== undefined) el.fieldPath = `${base}.${i}`;
    return evalExpr(el, scope, it);
  });
  el.fieldPath = base;
  return out;
}

function evalName(el: Elab, scope: Scope, name: string, span: Span): Value {
  const v = scope.get(name);
  if (v) return v;
  const init = initBuiltin(name, []);
  if (init) return init;
  if (el.program.modules.has(name)) return el.report(span, `module '${name}' must be called to create an instance: ${name}(...)`);
  if (el.program.fns.has(name) || OPS[name]) return el.report(span, `'${name}' is a function: call it as ${name}(...)`);
  return el.report(span, `unknown name '${name}'`, suggest(name, [...scopeNames(scope), ...el.program.modules.keys(), ...el.program.fns.keys()])
    ?? 'names are let-bindings, function parameters, signature dims, constructor parameters, fields and parameters of the module');
}

function scopeNames(scope: Scope): string[] {
  const out: string[] = [];
  for (let s: Scope | undefined = scope; s; s = s.parent) out.push(...s.ownNames());
  return out;
}

/** "did you mean" by edit distance. */
export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined, bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) { bestD = d; best = c; }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(name.length / 3)) ? `did you mean '${best}'?` : undefined;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) {
    d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

function evalUnary(el: Elab, scope: Scope, op: '-' | 'not', argE: Expr, span: Span): Value {
  const v = evalExpr(el, scope, argE);
  if (v.kind === 'error') return v;
  if (op === 'not') {
    if (v.kind === 'bool') return { kind: 'bool', v: v.v === undefined ? undefined : !v.v };
    if (v.kind === 'tensor') return applyOp(el, 'logical_not', [v], [argE.span], {}, span);
    return el.report(span, `'not' needs a bool, got ${describe(v)}`);
  }
  if (v.kind === 'int') return { kind: 'int', v: neg(v.v) };
  if (v.kind === 'float') return { kind: 'float', v: v.v === undefined ? undefined : -v.v };
  if (v.kind === 'tensor') return applyOp(el, 'neg', [v], [argE.span], {}, span);
  return el.report(span, `cannot negate ${describe(v)}`);
}

const TENSOR_OPS: Partial<Record<BinaryOp, string>> = {
  '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '==': 'eq', '!=': 'ne',
  and: 'logical_and', or: 'logical_or',
};

function numberOf(v: Value): number | undefined | null {
  if (v.kind === 'int') return isConst(v.v) ? v.v : undefined;
  if (v.kind === 'float') return v.v;
  return null;
}

function evalBinary(el: Elab, scope: Scope, op: BinaryOp, le: Expr, re: Expr, span: Span): Value {
  const a = evalExpr(el, scope, le);
  // `and`/`or` on known bools short-circuit, so `if i > 0 and xs[i - 1] ...` is safe.
  if ((op === 'and' || op === 'or') && a.kind === 'bool' && a.v !== undefined && (op === 'and' ? !a.v : a.v)) return a;
  const b = evalExpr(el, scope, re);
  if (a.kind === 'error' || b.kind === 'error') return ERROR;
  if (a.kind === 'tensor' || b.kind === 'tensor') return tensorBinary(el, op, a, b, le.span, re.span, span);
  if (a.kind === 'int' && b.kind === 'int') return intBinary(el, op, a.v, b.v, re.span, span);
  const na = numberOf(a), nb = numberOf(b);
  if (na !== null && nb !== null) return floatBinary(el, op, na, nb, span);
  if (a.kind === 'bool' && b.kind === 'bool') {
    const x = a.v, y = b.v;
    const known = x !== undefined && y !== undefined;
    if (op === 'and') return { kind: 'bool', v: x === false || y === false ? false : known ? x && y : undefined };
    if (op === 'or') return { kind: 'bool', v: x === true || y === true ? true : known ? x || y : undefined };
    if (op === '==' || op === '!=') return { kind: 'bool', v: known ? (x === y) === (op === '==') : undefined };
  }
  if (a.kind === 'string' && b.kind === 'string' && (op === '==' || op === '!=')) {
    return { kind: 'bool', v: a.v === undefined || b.v === undefined ? undefined : (a.v === b.v) === (op === '==') };
  }
  if (a.kind === 'seq' && b.kind === 'seq' && op === '+' && isConst(a.len) && isConst(b.len)) return seqOf([...a.items, ...b.items]);
  return el.report(span, `cannot apply '${op}' to ${describe(a)} and ${describe(b)}`);
}

function intBinary(el: Elab, op: BinaryOp, x: Dim, y: Dim, rspan: Span, span: Span): Value {
  switch (op) {
    case '+': return { kind: 'int', v: add(x, y) };
    case '-': return { kind: 'int', v: sub(x, y) };
    case '*': return { kind: 'int', v: mul(x, y) };
    case '/': case '%': {
      if (!isConst(y) && !el.lowering) return { kind: 'int', v: symbolicQuotient(x, y, op) };
      if (!isConst(y) || y <= 0) {
        return el.report(rspan, `integer '${op}' needs a positive constant divisor, got ${showDim(y)}`, 'dims support floor division and remainder by a positive constant only');
      }
      return { kind: 'int', v: op === '/' ? floordiv(x, y) : mod(x, y) };
    }
    case '==': case '!=': {
      const eq = dimEquals(x, y);
      return { kind: 'bool', v: eq === undefined ? undefined : eq === (op === '==') };
    }
    case '<': case '<=': case '>': case '>=': {
      const d = sub(x, y);
      if (!isConst(d)) return { kind: 'bool', v: undefined };
      return { kind: 'bool', v: op === '<' ? d < 0 : op === '<=' ? d <= 0 : op === '>' ? d > 0 : d >= 0 };
    }
    default: return el.report(span, `'${op}' needs bools, got ints`);
  }
}

function floatBinary(el: Elab, op: BinaryOp, x: number | undefined, y: number | undefined, span: Span): Value {
  const known = x !== undefined && y !== undefined;
  switch (op) {
    case '+': return { kind: 'float', v: known ? x + y : undefined };
    case '-': return { kind: 'float', v: known ? x - y : undefined };
    case '*': return { kind: 'float', v: known ? x * y : undefined };
    case '/': return { kind: 'float', v: known ? x / y : undefined };
    case '%': return el.report(span, `'%' needs ints`);
    case '==': return { kind: 'bool', v: known ? x === y : undefined };
    case '!=': return { kind: 'bool', v: known ? x !== y : undefined };
    case '<': return { kind: 'bool', v: known ? x < y : undefined };
    case '<=': return { kind: 'bool', v: known ? x <= y : undefined };
    case '>': return { kind: 'bool', v: known ? x > y : undefined };
    case '>=': return { kind: 'bool', v: known ? x >= y : undefined };
    default: return el.report(span, `'${op}' needs bools, got numbers`);
  }
}

/** A number next to a tensor becomes a scalar constant of the tensor's dtype. */
export function asTensorOperand(el: Elab, v: Value, dtype: DType, span: Span): Value | undefined {
  if (v.kind === 'tensor') return v;
  const n = numberOf(v);
  if (n === null) {
    if (v.kind === 'bool' && dtype === 'bool') return el.constant(v.v ? 1 : 0, 'bool', span);
    return undefined;
  }
  return el.constant(n ?? 0, dtype, span);
}

function tensorBinary(el: Elab, op: BinaryOp, a: Value, b: Value, ls: Span, rs: Span, span: Span): Value {
  const name = TENSOR_OPS[op];
  if (!name) return el.report(span, `'${op}' is not defined on tensors`);
  const dtype = a.kind === 'tensor' ? a.type.dtype : (b as { type: { dtype: DType } }).type.dtype;
  const ta = asTensorOperand(el, a, dtype, ls), tb = asTensorOperand(el, b, dtype, rs);
  if (!ta) return el.report(ls, `cannot apply '${op}' to ${describe(a)} and a tensor`);
  if (!tb) return el.report(rs, `cannot apply '${op}' to a tensor and ${describe(b)}`);
  return applyOp(el, name, [ta, tb], [ls, rs], {}, span);
}

/** Anti-unification: one value standing for any of the items (a symbolic index). */
export function joinValues(items: Value[]): Value {
  if (items.length === 0) return ERROR;
  const first = items[0];
  if (first.kind === 'tensor' && items.every((v) => v.kind === 'tensor' && v.type.dtype === first.type.dtype && v.type.shape.length === first.type.shape.length)) {
    const shape = first.type.shape.map((d, i) => (items.every((v) => dimEquals((v as typeof first).type.shape[i], d) === true) ? d : freshSym('d')));
    return { kind: 'tensor', type: { dtype: first.type.dtype, shape }, id: -1 };
  }
  if (first.kind === 'int' && items.every((v) => v.kind === 'int')) {
    return items.every((v) => dimEquals((v as typeof first).v, first.v) === true) ? first : { kind: 'int', v: freshSym('i') };
  }
  if (first.kind === 'float') return { kind: 'float', v: undefined };
  if (first.kind === 'bool') return { kind: 'bool', v: undefined };
  return first;
}

/** One value for either of two possible results (branches of an unknown condition). */
export function joinAlternatives(a: Value, b: Value): Value {
  if (a.kind === 'error') return b;
  if (b.kind === 'error') return a;
  if (a.kind === 'seq' && b.kind === 'seq') {
    if (isConst(a.len) && isConst(b.len) && a.len === b.len) return seqOf(a.items.map((x, i) => joinAlternatives(x, b.items[i])));
    const items = [...a.items, ...b.items];
    return { kind: 'seq', items: items.length ? [joinValues(items)] : [], len: freshSym('len') };
  }
  return joinValues([a, b]);
}

export function evalIndex(el: Elab, target: Value, index: Value, ispan: Span, span: Span): Value {
  if (target.kind === 'error' || index.kind === 'error') return ERROR;
  if (index.kind !== 'int') return el.report(ispan, `an index must be an int, got ${describe(index)}`);
  const i = index.v;
  if (target.kind === 'seq') {
    if (!isConst(target.len)) return target.items.length ? joinValues(target.items) : ERROR;
    if (!isConst(i)) return target.items.length ? joinValues(target.items) : el.report(ispan, 'index into an empty tuple');
    const k = i < 0 ? i + target.len : i;
    if (k < 0 || k >= target.len) return el.report(ispan, `index ${i} is out of range for a tuple of ${target.len}`, `valid indices are 0..${target.len - 1}`);
    return target.items[k];
  }
  if (target.kind === 'tensor') {
    const t = target.type;
    if (t.shape.length === 0) return el.report(span, `cannot index a scalar tensor ${describe(target)}`);
    const n = t.shape[0];
    if (isConst(i) && isConst(n) && (i >= n || i < -n)) return el.report(ispan, `index ${i} is out of range for a tensor of ${n} along axis 0`);
    const start: Dim = isConst(i) && i < 0 && isConst(n) ? i + n : i;
    const sl = applyOp(el, 'slice', [target], [span], { axis: 0, start, end: add(start, 1) }, span);
    if (sl.kind !== 'tensor') return sl;
    return applyOp(el, 'reshape', [sl], [span], { shape: t.shape.slice(1) }, span);
  }
  return el.report(span, `cannot index ${describe(target)}`);
}

function evalMember(el: Elab, scope: Scope, targetE: Expr, name: string, nameSpan: Span): Value {
  const target = evalExpr(el, scope, targetE);
  if (target.kind === 'error') return target;
  if (target.kind === 'module') {
    const v = target.inst.scope.own(name);
    if (v) return v;
    return el.report(nameSpan, `module ${target.inst.decl.name} has no field or parameter '${name}'`, suggest(name, target.inst.scope.ownNames()));
  }
  if (target.kind === 'seq' && /^\d+$/.test(name)) return evalIndex(el, target, { kind: 'int', v: Number(name) }, nameSpan, nameSpan);
  return el.report(nameSpan, `${describe(target)} has no member '${name}'`);
}

function evalComp(el: Elab, scope: Scope, e: Extract<Expr, { kind: 'comp' }>): Value {
  const base = el.fieldPath;
  const run = (v: Value, i: number): Value => {
    const inner = new Scope(scope);
    inner.set(e.variable, v);
    if (base !== undefined) el.fieldPath = `${base}.${i}`;
    const out = evalExpr(el, inner, e.body);
    el.fieldPath = base;
    return out;
  };
  const from = evalExpr(el, scope, e.from);
  if (from.kind === 'error') return ERROR;
  if (e.to === undefined) {
    if (from.kind !== 'seq') return el.report(e.from.span, `'for ${e.variable} in ...' needs a tuple or a range a..b, got ${describe(from)}`);
    if (!isConst(from.len)) return { kind: 'seq', items: from.items.length ? [run(joinValues(from.items), 0)] : [], len: from.len };
    return seqOf(from.items.map((v, i) => run(v, i)));
  }
  const to = evalExpr(el, scope, e.to);
  if (to.kind === 'error') return ERROR;
  if (from.kind !== 'int') return el.report(e.from.span, `a range bound must be an int, got ${describe(from)}`);
  if (to.kind !== 'int') return el.report(e.to.span, `a range bound must be an int, got ${describe(to)}`);
  const len = sub(to.v, from.v);
  if (!isConst(len)) {
    if (el.lowering) return el.report(e.span, `the bounds of this loop are not known at compile time`);
    return { kind: 'seq', items: [run({ kind: 'int', v: freshSym(e.variable) }, 0)], len };
  }
  if (len > LIMITS.loop) return el.report(e.span, `this loop has ${len} iterations; at most ${LIMITS.loop} are unrolled`);
  const items: Value[] = [];
  for (let k = 0; k < len; k++) items.push(run({ kind: 'int', v: add(from.v, k) }, k));
  return seqOf(items);
}
