// The checker's driver: declaration-level checks (duplicates, misplaced
// functions), then every module and function checked generically, so every
// error of a file is found without an entry point.
import { Span } from '../compiler/types.js';
import type { FnDecl, ModuleDecl, ModuleItem } from './ast.js';
import { Diagnostic, error } from './diagnostics.js';
import { Assumption, Elab } from './elab/elab.js';
import { checkFnGeneric } from './elab/function.js';
import { genericInstance } from './elab/module.js';
import type { Program } from './program.js';

function duplicates(names: { name: string; span: Span }[], what: string, out: Diagnostic[], seen = new Map<string, Span>()): Map<string, Span> {
  for (const n of names) {
    const prev = seen.get(n.name);
    if (prev) out.push(error(n.span, `${what} '${n.name}' is already defined at line ${prev.line}`, 'rename one of them'));
    else seen.set(n.name, n.span);
  }
  return seen;
}

function itemNames(m: ModuleDecl, items: ModuleItem[], seen: Map<string, Span>, out: Diagnostic[], nested: boolean): void {
  for (const it of items) {
    if (it.kind === 'if') {
      const a = new Map(seen), b = new Map(seen);
      itemNames(m, it.then, a, out, true);
      itemNames(m, it.otherwise ?? [], b, out, true);
      for (const [k, v] of [...a, ...b]) if (!seen.has(k)) seen.set(k, v);
      continue;
    }
    if (it.kind === 'fn') {
      if (nested) out.push(error(it.fn.nameSpan, `function '${it.fn.name}' cannot be declared inside an if`, 'declare functions at the top of the module and branch inside them'));
      duplicates([{ name: it.fn.name, span: it.fn.nameSpan }], 'name', out, seen);
      checkFnDecl(it.fn, out);
      continue;
    }
    duplicates([{ name: it.name, span: it.nameSpan }], 'name', out, seen);
  }
}

function checkFnDecl(fn: FnDecl, out: Diagnostic[]): void {
  duplicates(fn.params.map((p) => ({ name: p.name, span: p.span })), 'parameter', out);
}

export function checkProgram(program: Program): { diagnostics: Diagnostic[]; assumptions: Assumption[] } {
  const out: Diagnostic[] = [];
  for (const f of program.files) {
    for (const m of f.modules) {
      const ctor = duplicates(m.params.map((p) => ({ name: p.name, span: p.span })), 'constructor parameter', out);
      itemNames(m, m.items, new Map(ctor), out, false);
    }
    for (const fn of f.fns) checkFnDecl(fn, out);
  }
  const el = new Elab(program, 'check', undefined);
  for (const f of program.files) {
    for (const m of f.modules) {
      if (program.modules.get(m.name) !== m) continue;
      const inst = genericInstance(el, m);
      for (const it of m.items) if (it.kind === 'fn') checkFnGeneric(el, it.fn, inst);
    }
    for (const fn of f.fns) if (program.fns.get(fn.name) === fn) checkFnGeneric(el, fn, undefined);
  }
  const seen = new Set<string>();
  const assumptions = el.assumptions.filter((a) => {
    const k = `${a.span.file}:${a.span.line}:${a.span.col}:${a.what}`;
    return !seen.has(k) && !!seen.add(k);
  });
  return { diagnostics: [...out, ...el.diagnostics], assumptions };
}
