// The language's public API: check files or a source text, format diagnostics.
import { readFileSync } from 'node:fs';
import { checkProgram } from './check.js';
import { Diagnostic, DiagnosticsError, formatDiagnostics, formatDiagnostic } from './diagnostics.js';
import { loadProgram, Program } from './program.js';
import type { Assumption } from './elab/elab.js';

export type { Assumption };

export type { Diagnostic, Program };
export { DiagnosticsError, formatDiagnostics, formatDiagnostic };
export type { FileAst, ModuleDecl, FnDecl } from './ast.js';

function readOrUndefined(p: string): string | undefined {
  try { return readFileSync(p, 'utf8'); } catch { return undefined; }
}

/** Reads the files, follows their imports and checks everything. program is undefined when a root could not be read. */
/**
 * What checking found. assumptions: equalities and bounds that depend on
 * symbol values (channels C against 4), which lowering re-checks with numbers.
 */
export interface CheckResult { program: Program | undefined; diagnostics: Diagnostic[]; assumptions: Assumption[] }

export function checkFiles(paths: string[]): CheckResult {
  const roots = paths.map((path) => ({ path, text: readOrUndefined(path) }));
  return run(roots, (p) => readFileSync(p, 'utf8'));
}

/**
 * checkFiles for the commands that go on to lower a program: any error
 * becomes one DiagnosticsError whose message is every diagnostic, formatted.
 */
export function checkFilesOrThrow(paths: string[]): Program {
  const { program, diagnostics } = checkFiles(paths);
  if (!program || diagnostics.some((d) => d.severity === 'error')) throw new DiagnosticsError(diagnostics, formatDiagnostics(diagnostics, readOrUndefined));
  return program;
}

export function checkSource(path: string, text: string, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): CheckResult {
  return run([{ path, text }], readFile);
}

function run(roots: { path: string; text: string | undefined }[], readFile: (p: string) => string): CheckResult {
  const { program, diagnostics } = loadProgram(roots, readFile);
  const unreadable = roots.some((r) => r.text === undefined);
  if (unreadable && program.files.length === 0) return { program: undefined, diagnostics, assumptions: [] };
  const checked = checkProgram(program);
  if (diagnostics.length === 0) return { program, ...checked };
  // A broken declaration or a missing import leaves names out: check what
  // remains, but an unknown name may just be one of those.
  const rest = checked.diagnostics.filter((d) => !d.message.startsWith('unknown '));
  return { program: unreadable ? undefined : program, diagnostics: [...diagnostics, ...rest], assumptions: checked.assumptions };
}
