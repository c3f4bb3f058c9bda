// Module instances: constructor arguments, parameters (graph params in
// lowering, with dotted names), submodule fields and static if.
import { isConst, showDim, Dim, sym } from '../../compiler/dims.js';
import { DTYPES, DType, Span } from '../../compiler/types.js';
import type { CtorParam, ModuleDecl, ModuleItem } from '../ast.js';
import { Scope } from '../scope.js';
import { ERROR, Instance, Value, describe } from '../values.js';
import type { EvArg } from './call.js';
import { Elab, LIMITS } from './elab.js';
import { evalExpr } from './expr.js';
import { evalDim, exprText } from './types.js';
import { checkIn } from './constraints.js';

const joinPath = (a: string, b: string): string => (a ? `${a}.${b}` : b);

/** A constructor argument converted to the parameter's type, or a description of what was expected. */
function ctorValue(p: CtorParam, v: Value): Value | string {
  if (v.kind === 'error') return v;
  switch (p.type) {
    case 'int': return v.kind === 'int' ? v : 'an int';
    case 'float': return v.kind === 'float' ? v : v.kind === 'int' ? { kind: 'float', v: isConst(v.v) ? v.v : undefined } : 'a number';
    case 'bool': return v.kind === 'bool' ? v : 'a bool';
    case 'string': return v.kind === 'string' ? v : 'a string';
    case 'init': return v.kind === 'init' ? v : 'an initialiser (zeros, ones, constant(v), normal(m, s), uniform(a, b), kaiming(...), prior_logit(p))';
  }
}

export function instantiate(el: Elab, decl: ModuleDecl, args: EvArg[], span: Span): Value {
  if (el.fieldPath === undefined) {
    return el.report(span, `module ${decl.name} can only be created in a module field`, `declare it in the module body: name = ${decl.name}(...), then call name(x)`);
  }
  if (el.depth >= LIMITS.depth) return el.report(span, `modules nest more than ${LIMITS.depth} deep (does ${decl.name} contain itself?)`);
  const path = el.fieldPath, frozen = el.fieldFrozen;
  const scope = new Scope(undefined);
  const slots: (EvArg | undefined)[] = decl.params.map(() => undefined);
  let pos = 0, ok = true;
  for (const a of args) {
    if (a.name === undefined) {
      if (pos >= decl.params.length) { el.report(a.span, `${decl.name}() takes ${decl.params.length} constructor argument${decl.params.length === 1 ? '' : 's'}, got ${args.length}`, `declared (${decl.params.map((p) => p.name).join(', ')})`); return ERROR; }
      slots[pos++] = a;
      continue;
    }
    const k = decl.params.findIndex((p) => p.name === a.name);
    if (k < 0) { el.report(a.nameSpan ?? a.span, `${decl.name}() has no constructor parameter '${a.name}'`, `declared (${decl.params.map((p) => p.name).join(', ')})`); ok = false; continue; }
    if (slots[k]) { el.report(a.nameSpan ?? a.span, `${decl.name}(): argument '${a.name}' is given twice`); ok = false; continue; }
    slots[k] = a;
  }
  el.fieldPath = undefined;
  el.depth++;
  el.frames.push({ what: `${decl.name}(...) created`, span });
  const savedFile = el.file;
  try {
    decl.params.forEach((p, i) => {
      el.file = decl.span.file;
      const a = slots[i];
      let v: Value;
      if (a) v = a.value;
      else if (p.default) v = evalExpr(el, scope, p.default);
      else { el.report(span, `${decl.name}(): missing constructor argument '${p.name}: ${p.type}'`); ok = false; v = ERROR; }
      const c = ctorValue(p, v);
      if (typeof c === 'string' && v.kind === 'error') { ok = false; scope.set(p.name, ERROR); }
      else if (typeof c === 'string') { el.report(a?.span ?? p.default?.span ?? span, `${decl.name}(): '${p.name}' must be ${c}, got ${describe(v)}`); ok = false; scope.set(p.name, ERROR); }
      else scope.set(p.name, c);
    });
    if (!ok) return ERROR;
    if (!checkCtorWhere(el, decl, scope, (name) => {
      // Blame the argument where it was written in a file; a command-line --arg (no line) blames the creation.
      const a = slots[decl.params.findIndex((p) => p.name === name)];
      return a && a.span.line > 0 ? a.span : span;
    })) return ERROR;
    const inst: Instance = { decl, path, scope, frozen };
    execItems(el, inst, decl.items);
    return { kind: 'module', inst };
  } finally {
    el.frames.pop();
    el.file = savedFile;
    el.depth--;
    el.fieldPath = path;
    el.fieldFrozen = frozen;
  }
}

/** The instance the checker uses to check a module on its own: constructor parameters stay symbolic. */
export function genericInstance(el: Elab, decl: ModuleDecl): Instance {
  el.file = decl.span.file;
  const scope = new Scope(undefined);
  for (const p of decl.params) {
    if (p.default) {
      const c = ctorValue(p, evalExpr(el, scope, p.default));
      if (typeof c === 'string') el.report(p.default.span, `the default of '${p.name}' must be ${c}`);
    }
    scope.set(p.name, unknownOf(p));
  }
  // Symbolic arguments decide nothing, but the constraints' names and lists are checked.
  checkCtorWhere(el, decl, scope, () => decl.nameSpan);
  const inst: Instance = { decl, path: '', scope, frozen: false };
  const saved = el.fieldPath;
  execItems(el, inst, decl.items);
  el.fieldPath = saved;
  return inst;
}

/** A module's `where` constraints on its constructor arguments (checked at each creation). */
function checkCtorWhere(el: Elab, decl: ModuleDecl, scope: Scope, at: (name: string) => Span): boolean {
  let ok = true;
  for (const c of decl.where ?? []) {
    if (c.kind === 'in') { ok = checkIn(el, scope, c, at(c.name), `${decl.name}()`, (s, e) => evalExpr(el, s, e)) && ok; continue; }
    if (c.kind === 'bucket') { el.report(c.span, `'${c.name}: ${c.word}' marks a function's dim; a module's where-constraints are conditions on its constructor arguments`); ok = false; continue; }
    const v = evalExpr(el, scope, c.expr);
    if (v.kind === 'error') { ok = false; continue; }
    if (v.kind !== 'bool') { el.report(c.span, `a where-constraint must be a condition, got ${describe(v)}`); ok = false; continue; }
    if (v.v === false) { el.report(span0(c, at), `${decl.name}(): the constraint ${exprText(c.expr)} does not hold`, `declared at ${c.span.file}:${c.span.line}:${c.span.col}`); ok = false; }
  }
  return ok;
}

/** Where a failed condition is reported: the creation (the first name it mentions has no better place). */
function span0(c: Extract<ModuleDecl['where'][number], { kind: 'expr' }>, at: (name: string) => Span): Span {
  const first = c.expr.kind === 'binary' && c.expr.left.kind === 'name' ? c.expr.left.name : '';
  return at(first);
}

function unknownOf(p: CtorParam): Value {
  switch (p.type) {
    // Constructor ints read as their own names in messages (cin, not cin#3).
    case 'int': return { kind: 'int', v: sym(p.name) };
    case 'float': return { kind: 'float', v: undefined };
    case 'bool': return { kind: 'bool', v: undefined };
    case 'string': return { kind: 'string', v: undefined };
    case 'init': return { kind: 'init', init: undefined };
  }
}

function execItems(el: Elab, inst: Instance, items: ModuleItem[]): void {
  const savedFile = el.file;
  el.file = inst.decl.span.file;
  try { execItemsIn(el, inst, items); } finally { el.file = savedFile; }
}

function execItemsIn(el: Elab, inst: Instance, items: ModuleItem[]): void {
  const scope = inst.scope;
  for (const it of items) {
    switch (it.kind) {
      case 'fn': break;
      case 'param': scope.set(it.name, declareParam(el, inst, it)); break;
      case 'field': {
        const saved = el.fieldPath, savedFrozen = el.fieldFrozen;
        el.fieldPath = joinPath(inst.path, it.name);
        el.fieldFrozen = inst.frozen || it.frozen;
        try { scope.set(it.name, evalExpr(el, scope, it.value)); } finally { el.fieldPath = saved; el.fieldFrozen = savedFrozen; }
        break;
      }
      case 'if': {
        const saved = el.fieldPath;
        el.fieldPath = undefined;
        const c = evalExpr(el, scope, it.cond);
        el.fieldPath = saved;
        if (c.kind === 'bool' && c.v !== undefined) { execItems(el, inst, c.v ? it.then : it.otherwise ?? []); break; }
        if (c.kind !== 'bool' && c.kind !== 'error') el.report(it.cond.span, `an if condition must be a static bool, got ${describe(c)}`);
        if (el.lowering) { if (c.kind === 'bool') el.report(it.cond.span, 'this condition is not known at compile time'); break; }
        execItems(el, inst, it.otherwise ?? []);
        execItems(el, inst, it.then);
        break;
      }
    }
  }
}

/** Elements one parameter may have (2^30: 4 GiB of f32); typed arrays and the runtimes' buffers stop near there. */
export const MAX_PARAM_ELEMENTS = 2 ** 30;

function formatSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) { bytes /= 1000; i++; }
  return `${bytes.toPrecision(3)} ${units[i]}`;
}

function declareParam(el: Elab, inst: Instance, it: Extract<ModuleItem, { kind: 'param' }>): Value {
  const scope = inst.scope;
  if (it.type.kind !== 'tensor') return el.report(it.type.span, `parameter '${it.name}' must have a tensor type such as f32[C]`);
  if (!(DTYPES as readonly string[]).includes(it.type.dtype)) return el.report(it.type.span, `'${it.type.dtype}' is not a tensor dtype`, `tensor dtypes: ${DTYPES.join(', ')}`);
  const shape: Dim[] = [];
  for (const d of it.type.dims) {
    const v = evalDim(el, scope, d, () => undefined);
    if (v === undefined) return ERROR;
    if (isConst(v) && v <= 0) return el.report(d.span, `parameter '${it.name}' has dim ${v}; dims must be positive`);
    shape.push(v);
  }
  if (shape.every(isConst)) {
    // Checked before anything is allocated: a typed array of 10^15 floats is a RangeError deep in the runtime.
    const n = (shape as number[]).reduce((x, y) => x * y, 1);
    if (n > MAX_PARAM_ELEMENTS) {
      const bytes = n * (it.type.dtype === 'f16' ? 2 : it.type.dtype === 'bool' ? 1 : 4);
      return el.report(it.type.span, `parameter '${it.name}' ${it.type.dtype}[${shape.join(', ')}] has ${n.toExponential(2)} elements (${formatSize(bytes)}), more than the ${MAX_PARAM_ELEMENTS} one parameter may have`,
        'check the dims (a constructor argument in the wrong place?)');
    }
  }
  let init: Value = { kind: 'init', init: { kind: 'zeros' } };
  if (it.init) {
    const saved = el.fieldPath;
    el.fieldPath = undefined;
    init = evalExpr(el, scope, it.init);
    el.fieldPath = saved;
    if (init.kind === 'error') return ERROR;
    if (init.kind !== 'init') return el.report(it.init.span, `the initialiser of '${it.name}' must be zeros, ones, constant(v), normal(m, s), uniform(a, b), kaiming(...) or prior_logit(p), got ${describe(init)}`);
  }
  const dtype = it.type.dtype as DType;
  const note = paramNote(it, shape);
  if (!el.builder) return { kind: 'tensor', type: { dtype, shape }, id: -1, note };
  const bad = shape.find((d) => !isConst(d));
  if (bad !== undefined) return el.report(it.type.span, `the shape of '${it.name}' has an unknown dim ${showDim(bad)}`);
  const name = joinPath(inst.path, it.name);
  if (el.builder.graph.params.some((p) => p.name === name)) return el.report(it.nameSpan, `two parameters are named '${name}'`, 'create each module in its own field');
  const init0 = init.init ?? { kind: 'zeros' as const };
  const type = { dtype, shape: shape as number[] };
  const id = el.builder.param(name, type, init0, it.frozen || inst.frozen, it.span, inst.path);
  return { kind: 'tensor', type, id, note };
}

/** "'w' is declared f32[cout, cin, 3, 3] with cin = 128 (line 5)": what the hint of an error blaming a parameter adds. */
function paramNote(it: Extract<ModuleItem, { kind: 'param' }>, shape: Dim[]): string {
  const tensor = it.type as Extract<typeof it.type, { kind: 'tensor' }>;
  const bound = tensor.dims.flatMap((d, i) => (d.kind === 'name' && showDim(shape[i]) !== d.name ? [`${d.name} = ${showDim(shape[i])}`] : []));
  const text = `${tensor.dtype}[${tensor.dims.map(exprText).join(', ')}]`;
  return `'${it.name}' is declared ${text}${bound.length ? ` with ${bound.join(', ')}` : ''} (${it.span.file}:${it.span.line})`;
}
