// The language's public API: check files or a source text, format diagnostics.
import { checkProgram } from './check.js';
import { Diagnostic, DiagnosticsError, formatDiagnostics, formatDiagnostic } from './diagnostics.js';
import { LoadOptions, MAX_SOURCE_BYTES, loadProgram, Program } from './program.js';
import { readUserText } from '../io/files.js';
import type { Assumption } from './elab/elab.js';

export type { Assumption };

export type { Diagnostic, Program };
export { DiagnosticsError, formatDiagnostics, formatDiagnostic };
export type { FileAst, ModuleDecl, FnDecl } from './ast.js';

function readOrUndefined(p: string): string | undefined {
  try { return readSourceFile(p); } catch { return undefined; }
}

/**
 * A source file as the checker reads it: a regular file (never a device or a
 * FIFO, which could hang the read) of at most MAX_SOURCE_BYTES, without a
 * byte-order mark. Throws a FileError whose code says why (ENOENT, NOTFILE, TOOBIG...).
 */
export function readSourceFile(p: string): string {
  return readUserText(p, { maxBytes: MAX_SOURCE_BYTES });
}

function readRoot(path: string): { path: string; text: string | undefined; error?: string } {
  try { return { path, text: readSourceFile(path) }; } catch (e) {
    return { path, text: undefined, error: `cannot read '${path}': ${(e as Error).message.startsWith(path) ? (e as Error).message.slice(path.length + 2) : (e as Error).message}` };
  }
}

/** Reads the files, follows their imports and checks everything. program is undefined when a root could not be read. */
/**
 * What checking found. assumptions: equalities and bounds that depend on
 * symbol values (channels C against 4), which lowering re-checks with numbers.
 */
export interface CheckResult { program: Program | undefined; diagnostics: Diagnostic[]; assumptions: Assumption[] }

export function checkFiles(paths: string[], opts: LoadOptions = {}): CheckResult {
  return run(paths.map(readRoot), readSourceFile, opts);
}

/**
 * checkFiles for the commands that go on to lower a program: any error
 * becomes one DiagnosticsError whose message is every diagnostic, formatted.
 */
export function checkFilesOrThrow(paths: string[], opts: LoadOptions = {}): Program {
  const { program, diagnostics } = checkFiles(paths, opts);
  if (!program || diagnostics.some((d) => d.severity === 'error')) throw new DiagnosticsError(diagnostics, formatDiagnostics(diagnostics, readOrUndefined));
  return program;
}

export function checkSource(path: string, text: string, readFile: (p: string) => string = readSourceFile): CheckResult {
  return run([{ path, text }], readFile);
}

function run(roots: { path: string; text: string | undefined; error?: string }[], readFile: (p: string) => string, opts: LoadOptions = {}): CheckResult {
  const { program, diagnostics } = loadProgram(roots, readFile, opts);
  const unreadable = roots.some((r) => r.text === undefined);
  if (unreadable && program.files.length === 0) return { program: undefined, diagnostics, assumptions: [] };
  const checked = checkProgram(program);
  if (diagnostics.length === 0) return { program, ...checked };
  // A broken declaration or a missing import leaves names out: check what
  // remains, but an unknown name may just be one of those.
  const rest = checked.diagnostics.filter((d) => !d.message.startsWith('unknown '));
  return { program: unreadable ? undefined : program, diagnostics: [...diagnostics, ...rest], assumptions: checked.assumptions };
}
