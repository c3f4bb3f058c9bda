// A program: every file reached from the roots through imports, and the
// global tables of modules and functions. Imports are resolved relative to
// the importing file; a missing file or a cycle is an error at the import.
import { dirname, join, normalize } from 'node:path';
import { Span } from '../compiler/types.js';
import type { FileAst, FnDecl, ModuleDecl } from './ast.js';
import { Diagnostic, error } from './diagnostics.js';
import { parseFile } from './parser.js';

export interface Program {
  readonly files: FileAst[];
  readonly modules: ReadonlyMap<string, ModuleDecl>;
  readonly fns: ReadonlyMap<string, FnDecl>;
  /** Source text by file path, for printing diagnostics. */
  readonly sources: ReadonlyMap<string, string>;
  /** The files whose declarations a file sees: itself and what it imports, transitively. */
  readonly visible: ReadonlyMap<string, ReadonlySet<string>>;
}

export function fileSpan(file: string): Span { return { file, line: 0, col: 0, endLine: 0, endCol: 0 }; }

export function loadProgram(roots: { path: string; text: string | undefined }[], readFile: (p: string) => string): { program: Program; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const files: FileAst[] = [];
  const sources = new Map<string, string>();
  const done = new Set<string>();
  const stack: string[] = [];

  const visit = (path: string, text: string): void => {
    done.add(path);
    sources.set(path, text);
    stack.push(path);
    const { ast, diagnostics: syntax } = parseFile(path, text);
    diagnostics.push(...syntax);
    files.push(ast);
    for (const imp of ast.imports) {
      const target = normalize(join(dirname(path), imp.path));
      if (stack.includes(target)) {
        const cycle = [...stack.slice(stack.indexOf(target)), target].join(' → ');
        diagnostics.push(error(imp.span, `import cycle: ${cycle}`, 'move what both files need into a third file that both import'));
        continue;
      }
      if (done.has(target)) continue;
      let src: string;
      try {
        src = readFile(target);
      } catch {
        diagnostics.push(error(imp.span, `cannot read imported file '${imp.path}' (looked for ${target})`, 'import paths are relative to the importing file'));
        continue;
      }
      visit(target, src);
    }
    stack.pop();
  };

  for (const r of roots) {
    const path = normalize(r.path);
    if (done.has(path)) continue;
    if (r.text === undefined) {
      diagnostics.push(error(fileSpan(path), `cannot read '${path}': no such file`));
      continue;
    }
    visit(path, r.text);
  }

  const modules = new Map<string, ModuleDecl>();
  const fns = new Map<string, FnDecl>();
  const firstSeen = new Map<string, Span>();
  for (const f of files) {
    for (const m of f.modules) {
      const prev = firstSeen.get(m.name);
      if (prev) { diagnostics.push(error(m.nameSpan, `'${m.name}' is already defined (${where(prev)})`, 'rename one of them')); continue; }
      firstSeen.set(m.name, m.nameSpan);
      modules.set(m.name, m);
    }
    for (const fn of f.fns) {
      const prev = firstSeen.get(fn.name);
      if (prev) { diagnostics.push(error(fn.nameSpan, `'${fn.name}' is already defined (${where(prev)})`, 'rename one of them')); continue; }
      firstSeen.set(fn.name, fn.nameSpan);
      fns.set(fn.name, fn);
    }
  }
  const imports = new Map(files.map((f) => [f.path, f.imports.map((i) => normalize(join(dirname(f.path), i.path)))]));
  const visible = new Map<string, Set<string>>();
  for (const f of files) {
    const seen = new Set<string>([f.path]);
    const todo = [...(imports.get(f.path) ?? [])];
    while (todo.length) {
      const n = todo.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      todo.push(...(imports.get(n) ?? []));
    }
    visible.set(f.path, seen);
  }
  return { program: { files, modules, fns, sources, visible }, diagnostics };
}

export function where(s: Span): string { return `${s.file}:${s.line}:${s.col}`; }
