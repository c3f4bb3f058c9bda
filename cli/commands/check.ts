// `fusedet check FILE.fd...`: parse and type-check, print every diagnostic.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { checkFiles, formatDiagnostics } from '../../dsl/index.js';

const usage = `usage: fusedet check FILE.fd... [--quiet]

Parses and checks the files and everything they import: types, shapes,
names, arities. Every error is printed with its file:line:col, the source
line and a hint. Exit code 0 when clean, 1 with errors, 2 for usage errors.

options:
  --quiet     print nothing when the files are clean
  --verbose   also list the shape equalities that depend on symbol values
              (lowering re-checks them with the real sizes)
`;

const check: Command = {
  name: 'check',
  summary: 'type- and shape-check .fd files (exit 0 clean, 1 with diagnostics)',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { quiet: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } } });
    if (positionals.length === 0) throw new UserError(`fusedet check: no .fd file given\n${usage}`, 2);
    const { program, diagnostics, assumptions } = checkFiles(positionals);
    const read = (f: string): string | undefined => {
      const s = program?.sources.get(f);
      if (s !== undefined) return s;
      try { return readFileSync(f, 'utf8'); } catch { return undefined; }
    };
    if (diagnostics.length > 0) {
      process.stderr.write(formatDiagnostics(diagnostics, read) + '\n');
      return diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
    }
    if (!values.quiet) {
      const files = program?.files.length ?? 0, modules = program?.modules.size ?? 0;
      process.stdout.write(`ok: ${files} file${files === 1 ? '' : 's'}, ${modules} module${modules === 1 ? '' : 's'} checked, ${assumptions.length} assumption${assumptions.length === 1 ? '' : 's'} left to lowering\n`);
      if (values.verbose) for (const a of assumptions) process.stdout.write(`  ${a.span.file}:${a.span.line}:${a.span.col}: ${a.what}\n`);
    }
    return 0;
  },
};

export default check;
