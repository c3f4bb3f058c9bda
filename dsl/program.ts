// A program: every file reached from the roots through imports, and the
// global tables of modules and functions. Imports are resolved relative to
// the importing file; a missing file or a cycle is an error at the import.
//
// Imports stay inside the project: the folder tree of the files being
// checked, or a folder given with --include (which is also searched). An
// import that leaves it (`import "../../../../etc/passwd"`, a symlink out)
// is refused without being read, and the message names the rule; the
// reader (index.ts) reads only regular files up to MAX_SOURCE_BYTES, so
// /dev/zero or a FIFO cannot hang a check.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve, isAbsolute } from 'node:path';
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

export interface LoadOptions {
  /** Folders imports may also come from (`--include DIR`), searched after the importing file's folder. */
  include?: readonly string[];
}

/** The real path (symlinks followed) of an existing path, else the resolved one. */
function real(p: string): string {
  try { return realpathSync(p); } catch { return resolve(p); }
}

function inside(path: string, dir: string): boolean {
  const r = relative(dir, path);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

export function loadProgram(roots: { path: string; text: string | undefined; error?: string }[], readFile: (p: string) => string, opts: LoadOptions = {}): { program: Program; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const include = (opts.include ?? []).map((d) => normalize(d));
  // The project: the folders of the files named, and the --include folders.
  const allowed = [...new Set([...roots.map((r) => real(dirname(r.path))), ...include.map(real)])];
  const importTarget = new Map<string, string>();
  const files: FileAst[] = [];
  const sources = new Map<string, string>();
  const done = new Set<string>();
  const stack: string[] = [];

  const visit = (path: string, text: string): void => {
    text = stripBom(text);
    done.add(path);
    sources.set(path, text);
    stack.push(path);
    const { ast, diagnostics: syntax } = parseFile(path, text);
    diagnostics.push(...syntax);
    files.push(ast);
    for (const imp of ast.imports) {
      const here = isAbsolute(imp.path) ? normalize(imp.path) : normalize(join(dirname(path), imp.path));
      const target = existsSync(here) || isAbsolute(imp.path) ? here : include.map((d) => normalize(join(d, imp.path))).find((p) => existsSync(p)) ?? here;
      importTarget.set(`${path}\0${imp.path}`, target);
      if (!allowed.some((d) => inside(real(target), d))) {
        diagnostics.push(error(imp.span, `import '${imp.path}' leaves the project: ${real(target)} is outside ${allowed.join(', ')}`,
          'imports resolve inside the folder of the files being checked; add a folder with --include DIR'));
        continue;
      }
      if (stack.includes(target)) {
        const cycle = [...stack.slice(stack.indexOf(target)), target].join(' → ');
        diagnostics.push(error(imp.span, `import cycle: ${cycle}`, 'move what both files need into a third file that both import'));
        continue;
      }
      if (done.has(target)) continue;
      let src: string;
      try {
        src = readFile(target);
      } catch (e) {
        const code = (e as { code?: string }).code;
        const why = code === 'ENOENT' || code === undefined ? `looked for ${target}${include.length ? ` and in ${include.join(', ')}` : ''}` : (e as Error).message;
        diagnostics.push(error(imp.span, `cannot read imported file '${imp.path}' (${why})`,
          code === 'NOTFILE' || code === 'TOOBIG' || code === 'EISDIR' ? `only regular files up to ${MAX_SOURCE_BYTES} bytes are read as source` : 'import paths are relative to the importing file (or an --include folder)'));
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
      diagnostics.push(error(fileSpan(path), r.error ?? `cannot read '${path}': no such file`));
      continue;
    }
    visit(path, stripBom(r.text));
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
  const imports = new Map(files.map((f) => [f.path, f.imports.map((i) => importTarget.get(`${f.path}\0${i.path}`) ?? normalize(join(dirname(f.path), i.path)))]));
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

/** Source files bigger than this are refused (a model is a few tens of KB). */
export const MAX_SOURCE_BYTES = 1 << 20;

/** A leading UTF-8 byte-order mark (some editors write one) is not source. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function where(s: Span): string { return `${s.file}:${s.line}:${s.col}`; }
