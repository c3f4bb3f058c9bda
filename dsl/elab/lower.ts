// Lowering: the checker's walk again with concrete bindings (the elaborator
// in 'lower' mode, which builds graph nodes). The entry
// module is instantiated with its constructor arguments (defaults,
// overridable), the entry function's dims bind to the given input types,
// loops and ifs unroll, and every op call becomes a graph node. A failure
// the checker could only assume away is reported here at its span.
import { isConst } from '../../compiler/dims.js';
import { Graph, GraphBuilder } from '../../compiler/graph.js';
import { ConcreteType, Span, showType } from '../../compiler/types.js';
import type { Program } from '../program.js';
import { fileSpan } from '../program.js';
import { DiagnosticsError, formatDiagnostics } from '../diagnostics.js';
import type { FnDecl, ModuleDecl, TypeExpr } from '../ast.js';
import { Elab } from './elab.js';
import { findFn, EvArg } from './call.js';
import { instantiate } from './module.js';
import { bindIntParams, execBlock } from './function.js';
import { checkWhere, exprText, matchType, newBinder, resolveDeferred } from './types.js';
import { evalExpr, suggest } from './expr.js';
import { Scope } from '../scope.js';
import { Value, describe } from '../values.js';

export interface LowerOptions {
  entry: string;
  /** Default 'forward'. */
  fn?: string;
  inputs: Record<string, ConcreteType>;
  /** Constructor arguments of the entry module (and int/bool parameters of the entry function). */
  args?: Record<string, number | boolean>;
}

function fail(program: Program, el: Elab | undefined, span: Span, message: string, hint?: string): never {
  const diags = [...(el?.diagnostics ?? []), { severity: 'error' as const, message, span, ...(hint ? { hint } : {}) }];
  throw new DiagnosticsError(diags, formatDiagnostics(diags, (f) => program.sources.get(f)));
}

function typeText(te: TypeExpr): string {
  if (te.kind === 'scalar') return te.name;
  if (te.kind === 'tuple') return `(${te.items.map(typeText).join(', ')})`;
  return `${te.dtype}[${te.dims.map(exprText).join(', ')}]`;
}

/** The entry function's parameters, for help and error messages. */
export function entryInputs(program: Program, entry: string, fn = 'forward'): { name: string; type: string }[] {
  const m = program.modules.get(entry);
  const f = m ? findFn(m.items, fn) : program.fns.get(entry);
  return f ? f.params.map((p) => ({ name: p.name, type: typeText(p.type) })) : [];
}

function argValue(v: number | boolean): Value {
  if (typeof v === 'boolean') return { kind: 'bool', v };
  return Number.isInteger(v) ? { kind: 'int', v } : { kind: 'float', v };
}

export function lower(program: Program, opts: LowerOptions): Graph {
  const where0 = fileSpan(program.files[0]?.path ?? '<program>');
  const decl: ModuleDecl | undefined = program.modules.get(opts.entry);
  if (!decl) {
    const names = [...program.modules.keys()];
    const close = suggest(opts.entry, names);
    fail(program, undefined, where0, `unknown entry module '${opts.entry}'`, names.length ? `${close ? `${close} ` : ''}modules: ${names.join(', ')}` : 'the program declares no modules');
  }
  const fnName = opts.fn ?? 'forward';
  const fn: FnDecl | undefined = findFn(decl.items, fnName);
  if (!fn) fail(program, undefined, decl.nameSpan, `module ${decl.name} has no function '${fnName}'`);

  const builder = new GraphBuilder();
  const el = new Elab(program, 'lower', builder);
  const args = opts.args ?? {};
  const ctorArgs: EvArg[] = [];
  for (const [name, v] of Object.entries(args)) {
    if (decl.params.some((p) => p.name === name)) ctorArgs.push({ name, nameSpan: decl.nameSpan, value: argValue(v), span: decl.nameSpan });
    else if (!fn.params.some((p) => p.name === name)) {
      fail(program, el, decl.nameSpan, `${decl.name} has no constructor parameter '${name}'`, `its parameters: ${decl.params.map((p) => `${p.name}: ${p.type}`).join(', ') || 'none'}`);
    }
  }
  el.fieldPath = '';
  const instV = instantiate(el, decl, ctorArgs, decl.nameSpan);
  el.fieldPath = undefined;
  if (instV.kind !== 'module' || el.errorCount() > 0) {
    // The errors say why; a summary "cannot instantiate" would sort ahead of its cause (diagnostics print by position).
    if (el.errorCount() > 0) throw new DiagnosticsError(el.diagnostics, formatDiagnostics(el.diagnostics, (f) => program.sources.get(f)));
    fail(program, el, decl.nameSpan, `cannot instantiate ${decl.name}`);
  }
  const inst = instV.inst;

  for (const name of Object.keys(opts.inputs)) {
    if (!fn.params.some((p) => p.name === name)) {
      fail(program, el, fn.nameSpan, `${decl.name}.${fnName} has no input '${name}'`, `its inputs: ${entryInputs(program, opts.entry, fnName).map((i) => `${i.name}: ${i.type}`).join(', ')}`);
    }
  }
  const b = newBinder(false, fn.where);
  b.roundBuckets = true;
  // Int parameters first: the input shapes may use them.
  bindIntParams(fn, fn.params.map((p) => (args[p.name] !== undefined ? argValue(args[p.name]) : undefined)), b);
  const values: Value[] = [];
  for (const p of fn.params) {
    const given = opts.inputs[p.name];
    if (p.type.kind === 'tensor') {
      if (!given) fail(program, el, p.span, `missing input '${p.name}': ${typeText(p.type)}`, `pass it as --input ${p.name}=${typeText(p.type)} with numbers for the dims`);
      const v: Value = { kind: 'tensor', type: given, id: -1 };
      if (!matchType(el, inst.scope, p.type, v, p.span, b, `input '${p.name}'`)) throwAll(program, el);
      values.push(v);
    } else if (p.type.kind === 'scalar') {
      const a = args[p.name];
      if (a === undefined) fail(program, el, p.span, `missing argument '${p.name}: ${p.type.name}' of ${decl.name}.${fnName}`, `pass it as --arg ${p.name}=...`);
      values.push(argValue(a));
    } else fail(program, el, p.span, `the entry function cannot take a tuple parameter ('${p.name}')`, 'take each tensor as its own parameter');
  }
  if (!resolveDeferred(el, inst.scope, b, `inputs of ${decl.name}.${fnName}`) || !checkWhere(el, inst.scope, fn.where, b, fn.nameSpan, (s, e) => evalExpr(el, s, e))) {
    // Errors of the entry's inputs point at the declared parameter.
    throwAll(program, el);
  }
  // Graph inputs carry the bound (bucket-rounded) shapes.
  fn.params.forEach((p, i) => {
    const v = values[i];
    if (v.kind !== 'tensor' || p.type.kind !== 'tensor') return;
    const shape = p.type.dims.map((d, k) => (d.kind === 'name' && b.bound.has(d.name) && b.buckets.has(d.name) ? b.bound.get(d.name)! : v.type.shape[k])) as number[];
    const type: ConcreteType = { dtype: v.type.dtype, shape };
    values[i] = { kind: 'tensor', type, id: builder.input(p.name, type, p.span) };
  });

  const scope = new Scope(inst.scope);
  for (const [name, d] of b.bound) if (!inst.scope.get(name)) scope.set(name, { kind: 'int', v: d });
  fn.params.forEach((p, i) => scope.set(p.name, values[i]));
  el.current = inst;
  el.file = fn.span.file;
  const result = execBlock(el, scope, fn.body);
  el.current = undefined;
  if (!result) fail(program, el, fn.nameSpan, `${decl.name}.${fnName}() ends without returning a value`);
  if (fn.ret && result.value.kind !== 'error') {
    matchType(el, inst.scope, fn.ret, result.value, result.span, b, `the value returned by ${decl.name}.${fnName}()`);
    resolveDeferred(el, inst.scope, b, `the value returned by ${decl.name}.${fnName}()`);
  }
  if (el.errorCount() > 0) throwAll(program, el);

  // `return (cls, box)` names the outputs cls.0, cls.1, ..., box.0, ...
  const ret = result.expr;
  const names = ret?.kind === 'tuple' ? ret.items.map((e) => (e.kind === 'name' ? e.name : undefined)) : [];
  const used = new Set<string>();
  const emit = (v: Value, name: string): void => {
    if (v.kind === 'tensor') {
      let n = name, k = 1;
      while (used.has(n)) n = `${name}_${k++}`;
      used.add(n);
      builder.output(n, v.id);
    } else if (v.kind === 'seq' && isConst(v.len)) v.items.forEach((it, i) => emit(it, `${name}.${i}`));
    else fail(program, el, result.span, `the entry returns ${describe(v)}; outputs must be tensors or tuples of tensors`);
  };
  if (result.value.kind === 'seq') result.value.items.forEach((it, i) => emit(it, names[i] ?? `out${i}`));
  else emit(result.value, 'out0');
  if (builder.graph.outputs.length === 0) fail(program, el, result.span, `${decl.name}.${fnName}() returns no tensors`, 'the entry must return a tensor or a tuple of tensors');
  return builder.graph;
}

function throwAll(program: Program, el: Elab): never {
  throw new DiagnosticsError(el.diagnostics, formatDiagnostics(el.diagnostics, (f) => program.sources.get(f)));
}

export { showType };
