// Diagnostics: what the checker and lowering report, and how it is printed
// (file:line:col, the source line, a caret under the span, a hint).
import { Span } from '../compiler/types.js';
import { FusedetError } from '../io/errors.js';

export interface Diagnostic {
  severity: 'error' | 'warning';
  message: string;
  hint?: string;
  span: Span;
}

/** A user's mistake in a .fd program; cli/main.ts prints the message alone. */
export class DiagnosticsError extends FusedetError {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[], message?: string) {
    super(message ?? formatDiagnostics(diagnostics, () => undefined));
    this.name = 'DiagnosticsError';
    this.diagnostics = diagnostics;
  }
}

export function formatDiagnostic(d: Diagnostic, source: string | undefined): string {
  const { file, line, col } = d.span;
  const out = [line > 0 ? `${file}:${line}:${col}: ${d.severity}: ${d.message}` : `${file}: ${d.severity}: ${d.message}`];
  const text = source?.split('\n')[line - 1];
  if (text !== undefined && line > 0) {
    const num = String(line);
    const src = text.replace(/\t/g, ' ').replace(/\r$/, '');
    out.push(`   ${num} | ${src}`);
    const width = d.span.endLine === line ? Math.max(1, d.span.endCol - col) : Math.max(1, src.length - col + 1);
    out.push(`   ${' '.repeat(num.length)} | ${' '.repeat(Math.max(0, col - 1))}^${'~'.repeat(Math.max(0, Math.min(width, 200) - 1))}`);
  }
  if (d.hint) out.push(`  hint: ${d.hint}`);
  return out.join('\n');
}

/** All diagnostics, sorted by file and position, each with its source line. */
export function formatDiagnostics(diags: Diagnostic[], readSource: (file: string) => string | undefined): string {
  const cache = new Map<string, string | undefined>();
  const src = (f: string): string | undefined => {
    if (!cache.has(f)) cache.set(f, readSource(f));
    return cache.get(f);
  };
  const sorted = [...diags].sort((a, b) => (a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : a.span.line - b.span.line || a.span.col - b.span.col));
  const errors = diags.filter((d) => d.severity === 'error').length;
  const body = sorted.map((d) => formatDiagnostic(d, src(d.span.file))).join('\n\n');
  return errors > 0 ? `${body}\n\n${errors} error${errors === 1 ? '' : 's'}` : body;
}

export function error(span: Span, message: string, hint?: string): Diagnostic {
  return hint === undefined ? { severity: 'error', message, span } : { severity: 'error', message, hint, span };
}
