// `fusedet check FILE.fd...`: parse and type-check, print every diagnostic.
import { parseArgs } from 'node:util';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { checkFiles, formatDiagnostics, readSourceFile } from '../../dsl/index.js';

const usage = `usage: fusedet check FILE.fd... [--include DIR]... [--quiet] [--verbose]

Parses and checks the files and everything they import: types, shapes,
names, arities. Every error is printed with its file:line:col, the source
line and a hint. Exit code 0 when clean, 1 with errors, 2 for usage errors.

Imports resolve inside the folders of the files named (and --include
folders); an import leaving them, or of anything but a regular file up to
1 MB, is an error. Dim equalities the checker cannot prove at a call (say
GroupNorm(cin) after Conv(cin, cout)) are printed as assumptions with their
file:line:col: lowering re-checks them with the real sizes.

options:
  --include DIR   also take imports from DIR (repeatable)
  --quiet     print nothing when the files are clean
  --verbose   also list the shape equalities that depend on symbol values
              (lowering re-checks them with the real sizes)
`;

const check: Command = {
  name: 'check',
  summary: 'type- and shape-check .fd files (exit 0 clean, 1 with diagnostics)',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { quiet: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false }, include: { type: 'string', multiple: true, default: [] } } });
    if (positionals.length === 0) throw new UserError(`fusedet check: no .fd file given\n${usage}`, 2);
    const { program, diagnostics, assumptions } = checkFiles(positionals, { include: values.include });
    const read = (f: string): string | undefined => {
      const s = program?.sources.get(f);
      if (s !== undefined) return s;
      // Never a plain read: the file may be /dev/zero or a FIFO (readSourceFile refuses those).
      try { return readSourceFile(f); } catch { return undefined; }
    };
    if (diagnostics.length > 0) {
      process.stderr.write(formatDiagnostics(diagnostics, read) + '\n');
      return diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
    }
    if (!values.quiet) {
      const files = program?.files.length ?? 0, modules = program?.modules.size ?? 0;
      process.stdout.write(`ok: ${files} file${files === 1 ? '' : 's'}, ${modules} module${modules === 1 ? '' : 's'} checked, ${assumptions.length} assumption${assumptions.length === 1 ? '' : 's'} left to lowering\n`);
      const line = (a: (typeof assumptions)[number]): string => `  ${a.span.file}:${a.span.line}:${a.span.col}: ${a.what}\n`;
      if (values.verbose) for (const a of assumptions) process.stdout.write(line(a));
      else {
        // Unproven equalities of dims at calls are what a reader most needs to see (a channel count that may not match).
        const unify = assumptions.filter((a) => a.kind === 'unify');
        if (unify.length) process.stdout.write(`assumed at calls (unproven dim equalities; --verbose lists all ${assumptions.length}):\n`);
        for (const a of unify.slice(0, 10)) process.stdout.write(line(a));
        if (unify.length > 10) process.stdout.write(`  ... and ${unify.length - 10} more\n`);
      }
    }
    return 0;
  },
};

export default check;
