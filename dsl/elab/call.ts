// Calls: builtin ops (through OPS[name].shape), functions and module
// instances (their `forward`), chains made by repeat().
import { dirname, relative } from 'node:path';
import { Dim, isConst } from '../../compiler/dims.js';
import { OPS } from '../../compiler/ops/index.js';
import { AttrSpec, AttrValue, Attrs, OpDef } from '../../compiler/ops/op.js';
import { Span, TensorType } from '../../compiler/types.js';
import type { Expr, FnDecl } from '../ast.js';
import { Scope } from '../scope.js';
import { ERROR, Instance, Value, describe } from '../values.js';
import { Elab } from './elab.js';
import { evalExpr, suggest, asTensorOperand } from './expr.js';
import { callBuiltin, INIT_NAMES } from './builtins.js';
import { callFn } from './function.js';
import { instantiate } from './module.js';

type CallExpr = Extract<Expr, { kind: 'call' }>;

export interface EvArg { name: string | undefined; nameSpan: Span | undefined; value: Value; span: Span }

function evalArgs(el: Elab, scope: Scope, e: CallExpr): EvArg[] {
  return e.args.map((a) => ({ name: a.name, nameSpan: a.nameSpan, value: evalExpr(el, scope, a.value), span: a.span }));
}

const SPECIAL = ['repeat', 'dim', 'shape', 'len', 'min', 'max', 'choose'];

export function evalCall(el: Elab, scope: Scope, e: CallExpr): Value {
  const c = e.callee;
  if (c.kind === 'name') {
    const name = c.name;
    const local = scope.get(name);
    if (local) return callValue(el, local, evalArgs(el, scope, e), e.span, c.span);
    const own = el.current ? findFn(el.current.decl.items, name) : undefined;
    if (own && el.current) return callFn(el, own, el.current, evalArgs(el, scope, e), e.span);
    const mod = el.program.modules.get(name);
    if (mod && !el.sees(mod.span.file)) return notImported(el, name, mod.span.file, c.span);
    if (mod) return instantiate(el, mod, evalArgs(el, scope, e), e.span);
    const fn = el.program.fns.get(name);
    if (fn && !el.sees(fn.span.file)) return notImported(el, name, fn.span.file, c.span);
    if (fn) return callFn(el, fn, undefined, evalArgs(el, scope, e), e.span);
    const b = callBuiltin(el, scope, name, e);
    if (b) return b;
    const def = OPS[name];
    if (def) return opCall(el, def, evalArgs(el, scope, e), e.span);
    const known = [...Object.keys(OPS), ...el.program.modules.keys(), ...el.program.fns.keys(), ...SPECIAL, ...INIT_NAMES];
    return el.report(c.span, `unknown function '${name}'`, suggest(name, known) ?? 'builtins are the ops of compiler/ops, the initialisers and repeat, dim, shape, len, min, max');
  }
  if (c.kind === 'member') {
    const target = evalExpr(el, scope, c.target);
    if (target.kind === 'error') return ERROR;
    if (target.kind === 'module') {
      const fn = findFn(target.inst.decl.items, c.name);
      if (fn) return callFn(el, fn, target.inst, evalArgs(el, scope, e), e.span);
      const field = target.inst.scope.own(c.name);
      if (field) return callValue(el, field, evalArgs(el, scope, e), e.span, c.nameSpan);
      return el.report(c.nameSpan, `module ${target.inst.decl.name} has no function '${c.name}'`);
    }
    return el.report(c.nameSpan, `${describe(target)} has no function '${c.name}'`);
  }
  const callee = evalExpr(el, scope, c);
  return callValue(el, callee, evalArgs(el, scope, e), e.span, c.span);
}

function notImported(el: Elab, name: string, file: string, span: Span): Value {
  const from = el.file ? relative(dirname(el.file), file) : file;
  return el.report(span, `'${name}' is defined in ${file}, which this file does not import`, `add: import "${from}"`);
}

export function findFn(items: readonly import('../ast.js').ModuleItem[], name: string): FnDecl | undefined {
  for (const it of items) if (it.kind === 'fn' && it.fn.name === name) return it.fn;
  return undefined;
}

/** Calling a value: a module instance runs its forward; a tuple of modules runs as a chain. */
function callValue(el: Elab, v: Value, args: EvArg[], span: Span, calleeSpan: Span): Value {
  if (v.kind === 'error') return ERROR;
  if (v.kind === 'module') return callForward(el, v.inst, args, span);
  if (v.kind === 'seq' && v.items.every((m) => m.kind === 'module' || m.kind === 'error')) {
    if (args.length !== 1 || args[0].name !== undefined) return el.report(span, `a chain of modules (repeat) takes exactly one positional argument, got ${args.length}`);
    let x = args[0].value;
    const steps = isConst(v.len) ? v.items : [v.items[0], v.items[0]];
    for (const m of steps) {
      if (m.kind === 'error' || x.kind === 'error') return ERROR;
      x = callForward(el, (m as { inst: Instance }).inst, [{ ...args[0], value: x }], span);
    }
    return x;
  }
  return el.report(calleeSpan, `${describe(v)} is not callable`);
}

function callForward(el: Elab, inst: Instance, args: EvArg[], span: Span): Value {
  const fwd = findFn(inst.decl.items, 'forward');
  if (!fwd) return el.report(span, `module ${inst.decl.name} has no forward function to call`, `declare fn forward(...) in module ${inst.decl.name}`);
  return callFn(el, fwd, inst, args, span);
}

type Coerced = { value: AttrValue } | { expected: string };

/** Converts a language value to an attr of the spec's type, or says what was expected. */
function toAttr(spec: AttrSpec, v: Value): Coerced {
  // The checker may not know a float or bool yet: any value of the right kind will do.
  const known = (x: AttrValue | undefined, fallback: AttrValue): Coerced => ({ value: x ?? spec.default ?? fallback });
  switch (spec.type) {
    case 'int':
      if (v.kind === 'int') return { value: v.v };
      if (v.kind === 'seq' && v.items.length === 1 && v.items[0].kind === 'int') return { value: (v.items[0] as { v: Dim }).v };
      return { expected: 'an int' };
    case 'float':
      if (v.kind === 'float') return known(v.v, 0);
      if (v.kind === 'int') return isConst(v.v) ? { value: v.v } : known(undefined, 1);
      return { expected: 'a number' };
    case 'bool':
      if (v.kind === 'bool') return known(v.v, false);
      return { expected: 'true or false' };
    case 'string':
      if (v.kind === 'string') return known(v.v, spec.choices?.[0] ?? '');
      return { expected: `a string${spec.choices ? ` (${spec.choices.map((c) => `"${c}"`).join(', ')})` : ''}` };
    case 'ints':
      if (v.kind === 'int') return { value: [v.v] };
      if (v.kind === 'seq' && isConst(v.len) && v.items.every((i) => i.kind === 'int')) return { value: v.items.map((i) => (i as { v: Dim }).v) };
      return { expected: 'an int or a tuple of ints' };
    case 'floats': {
      const num = (i: Value): number | undefined => (i.kind === 'float' ? i.v ?? 0 : i.kind === 'int' && isConst(i.v) ? i.v : undefined);
      if (num(v) !== undefined) return { value: [num(v)!] };
      if (v.kind === 'seq' && isConst(v.len) && v.items.every((i) => num(i) !== undefined)) return { value: v.items.map((i) => num(i)!) };
      return { expected: 'a number or a tuple of numbers' };
    }
  }
}

/** A call of a builtin op as the user wrote it: positional tensor inputs, keyword attrs. */
function opCall(el: Elab, def: OpDef, args: EvArg[], span: Span): Value {
  const specs = def.inputs;
  const variadic = specs.length > 0 && specs[specs.length - 1].variadic === true;
  const fixed = variadic ? specs.length - 1 : specs.length;
  const inputs: (EvArg | undefined)[] = new Array(fixed).fill(undefined);
  const rest: EvArg[] = [];
  const attrs: Record<string, AttrValue> = {};
  let pos = 0, failed = false;
  for (const a of args) {
    if (a.value.kind === 'error') { failed = true; continue; }
    if (a.name === undefined) {
      if (pos < fixed) inputs[pos] = a;
      else if (variadic) {
        if (a.value.kind === 'seq' && pos === fixed) rest.push(...a.value.items.map((value) => ({ ...a, value })));
        else rest.push(a);
      } else {
        el.report(a.span, `${def.name} takes ${fixed} tensor input${fixed === 1 ? '' : 's'} (${specs.map((s) => s.name).join(', ')}), got more`, def.attrs.length ? `attributes are passed by name, e.g. ${def.attrs[0].name} = ...` : undefined);
        failed = true;
      }
      pos++;
      continue;
    }
    const k = specs.findIndex((s) => s.name === a.name);
    if (k >= 0 && k < fixed) {
      if (inputs[k]) { el.report(a.nameSpan ?? a.span, `${def.name}: input '${a.name}' is given twice`); failed = true; }
      inputs[k] = a;
      continue;
    }
    const spec = def.attrs.find((s) => s.name === a.name);
    if (!spec) {
      const names = [...def.attrs.map((s) => s.name), ...specs.map((s) => s.name)];
      el.report(a.nameSpan ?? a.span, `${def.name} has no attribute '${a.name}'`, suggest(a.name!, names) ?? (def.attrs.length ? `its attributes: ${def.attrs.map((s) => s.name).join(', ')}` : `${def.name} takes no attributes`));
      failed = true;
      continue;
    }
    if (attrs[spec.name] !== undefined) { el.report(a.nameSpan ?? a.span, `${def.name}: attribute '${spec.name}' is given twice`); failed = true; continue; }
    const c = toAttr(spec, a.value);
    if ('expected' in c) { el.report(a.span, `${def.name}: attribute '${spec.name}' must be ${c.expected}, got ${describe(a.value)}`); failed = true; continue; }
    attrs[spec.name] = c.value;
  }
  for (const spec of def.attrs) {
    if (attrs[spec.name] !== undefined) continue;
    if (spec.default === undefined) {
      if (!failed) el.report(span, `${def.name}: missing attribute '${spec.name}'`, `pass it by name: ${def.name}(..., ${spec.name} = ...)`);
      failed = true;
    } else attrs[spec.name] = spec.default;
  }
  for (let i = 0; i < fixed; i++) {
    if (!inputs[i] && !specs[i].optional && !failed) {
      el.report(span, `${def.name}: missing input '${specs[i].name}'`, `${def.name} takes (${specs.map((s) => (s.optional ? `${s.name}?` : s.variadic ? `${s.name}...` : s.name)).join(', ')})`);
      failed = true;
    }
  }
  if (variadic && rest.length === 0 && !failed && !specs[fixed].optional) {
    el.report(span, `${def.name}: needs at least one tensor in '${specs[fixed].name}'`);
    failed = true;
  }
  if (failed) return ERROR;
  const all = [...inputs, ...rest];
  // A number where a tensor is expected becomes a scalar of the first tensor's dtype.
  const firstTensor = all.find((a) => a?.value.kind === 'tensor')?.value as { type: TensorType } | undefined;
  const values: (Value | undefined)[] = [];
  for (const a of all) {
    if (!a) { values.push(undefined); continue; }
    // An operand that is already an error was reported where it failed: a
    // second message here ("expected a tensor, got error") would be a
    // follow-on, printed ahead of its cause when sorted by position.
    if (a.value.kind === 'error') return ERROR;
    const t = asTensorOperand(el, a.value, firstTensor?.type.dtype ?? 'f32', a.span);
    if (!t) return el.report(a.span, `${def.name}: expected a tensor, got ${describe(a.value)}`);
    values.push(t);
  }
  return applyOp(el, def.name, values, all.map((a) => a?.span ?? span), attrs, span);
}

/** Runs an op's shape rule and emits its node: the one place op nodes are made. */
export function applyOp(el: Elab, name: string, inputs: (Value | undefined)[], spans: (Span | undefined)[], attrs: Attrs, span: Span): Value {
  const def = OPS[name];
  if (!def) return el.report(span, `the op set has no '${name}' op`);
  if (inputs.some((v) => v?.kind === 'error')) return ERROR;
  const full: Record<string, AttrValue> = { ...attrs };
  for (const s of def.attrs) if (full[s.name] === undefined && s.default !== undefined) full[s.name] = s.default;
  const types = inputs.map((v) => (v && v.kind === 'tensor' ? v.type : undefined));
  const notes = inputs.map((v) => (v && v.kind === 'tensor' ? v.note : undefined));
  const outs = el.shapeOf(def, types, full, span, spans, notes);
  if (!outs) return ERROR;
  const vals = el.emit(name, inputs, full, outs, span);
  return vals.length === 1 ? vals[0] : { kind: 'seq', items: vals, len: vals.length };
}
