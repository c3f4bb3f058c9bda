// The corpus of invalid programs: each file's first line says where its
// error is and what the message contains (`// expect [FILE:]LINE:COL text`,
// FILE relative to the corpus folder, default the file itself), then
// ` // hint TEXT` (the hint must contain TEXT and be printed) or ` // no hint`
// (the error has none yet; not every error does, README says "most").
// The printed caret must sit under column COL of the source line.
//
// A second line `// lower ENTRY NAME=VALUE... INPUT=DTYPE[DIMS]...` marks an
// error only numbers reveal: `check` must pass and list an assumption at
// LINE:COL (the checker said what it could not prove), and lowering ENTRY
// with those arguments and inputs must fail there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { checkFiles, formatDiagnostics, DiagnosticsError } from '../../dsl/index.js';
import type { Diagnostic } from '../../dsl/index.js';
import { lower } from '../../dsl/elab/lower.js';
import type { ConcreteType, DType } from '../../compiler/types.js';

/** `// lower ENTRY a=1 x=f32[1,8,4,4]`: the entry, its constructor arguments and its inputs. */
function lowerSpec(line: string): { entry: string; args: Record<string, number>; inputs: Record<string, ConcreteType> } | undefined {
  const m = /^\/\/ lower (\S+)((?: \S+=\S+)*)$/.exec(line);
  if (!m) return undefined;
  const args: Record<string, number> = {}, inputs: Record<string, ConcreteType> = {};
  for (const kv of m[2].trim().split(' ').filter(Boolean)) {
    const [k, v] = kv.split('=');
    const t = /^(\w+)\[([\d,]*)\]$/.exec(v);
    if (t) inputs[k] = { dtype: t[1] as DType, shape: t[2].split(',').filter(Boolean).map(Number) };
    else args[k] = Number(v);
  }
  return { entry: m[1], args, inputs };
}

/** The diagnostics of lowering (empty when it succeeds). */
function lowerDiagnostics(path: string, spec: NonNullable<ReturnType<typeof lowerSpec>>): Diagnostic[] {
  const { program } = checkFiles([path]);
  try { lower(program!, spec); return []; } catch (e) {
    if (e instanceof DiagnosticsError) return e.diagnostics;
    throw e;
  }
}

const dir = 'test/dsl/invalid';
const files = readdirSync(dir).filter((f) => f.endsWith('.fd')).sort();

test('the corpus holds at least 40 invalid programs', () => {
  assert.ok(files.length >= 40, `only ${files.length} files`);
});

for (const f of files) {
  test(`invalid/${f}`, () => {
    const path = join(dir, f);
    const [first, second] = readFileSync(path, 'utf8').split('\n');
    const m = /^\/\/ expect (?:(\S+\.fd):)?(\d+):(\d+) (.+?)(?: \/\/ (?:hint (.+)|(no hint)))?$/.exec(first);
    assert.ok(m, `${f}: the first line must be "// expect LINE:COL message"`);
    const [, file, line, col, text, hint, noHint] = m!;
    const want = normalize(file ? join(dir, file) : path);
    const spec = lowerSpec(second ?? '');
    let diagnostics: Diagnostic[];
    if (spec) {
      const checked = checkFiles([path]);
      assert.equal(checked.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message), [], `${f}: must check clean (the error shows only with numbers)`);
      assert.ok(checked.assumptions.some((a) => a.kind === 'unify' && a.span.line === Number(line) && a.span.col === Number(col)),
        `${f}: check must list an assumption at ${line}:${col}; it lists:\n${checked.assumptions.map((a) => `${a.span.line}:${a.span.col} ${a.what}`).join('\n')}`);
      diagnostics = lowerDiagnostics(path, spec);
    } else diagnostics = checkFiles([path]).diagnostics;
    const printed = formatDiagnostics(diagnostics, (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } });
    const hit = diagnostics.find((d) => normalize(d.span.file) === want && d.span.line === Number(line) && d.span.col === Number(col) && d.message.includes(text));
    assert.ok(hit, `${f}: expected ${want}:${line}:${col} "${text}", got:\n${printed}`);
    // The printed form: the header, the source line, the caret under column COL, the hint.
    const block = printed.split('\n\n').find((b) => b.startsWith(`${want}:${line}:${col}: error: ${hit!.message}`));
    assert.ok(block, `${f}: no printed block for the diagnostic:\n${printed}`);
    assert.is(caretColumn(block!, Number(line), readFileSync(want, 'utf8')), Number(col), `${f}: caret column in\n${block}`);
    assert.ok(hint !== undefined || noHint !== undefined, `${f}: the first line must end with "// hint TEXT" or "// no hint"`);
    if (hint !== undefined) {
      assert.ok(hit!.hint?.includes(hint), `${f}: hint "${hit!.hint}" lacks "${hint}"`);
      assert.ok(block!.split('\n').includes(`  hint: ${hit!.hint}`), `${f}: the hint is not printed:\n${block}`);
    }
  });
}

test('caretColumn reads the caret position: a caret one column off is seen', () => {
  const src = 'a\n    return conv2d(x, w, strid = 2)\n';
  const block = (pad: string) => `f.fd:2:25: error: m\n   2 |     return conv2d(x, w, strid = 2)\n     | ${pad}^~~~~`;
  assert.is(caretColumn(block(' '.repeat(24)), 2, src), 25);
  assert.is(caretColumn(block(' '.repeat(25)), 2, src), 26);
  assert.is.not(caretColumn('f.fd:2:25: error: m\n   2 |     return conv2d(x, w, strid = 2)\n     | no caret', 2, src), 25);
});

/**
 * The 1-based source column of the first caret in a printed diagnostic
 * (`  5 | source` then `    |     ^~~`), checking the quoted line is the
 * file's line LINE.
 */
function caretColumn(block: string, line: number, source: string): number {
  const rows = block.split('\n');
  const at = rows.findIndex((r) => new RegExp(`^\\s*${line} \\| `).test(r));
  if (at < 0) return -1;
  const quoted = rows[at], caret = rows[at + 1] ?? '';
  const start = quoted.indexOf('| ') + 2;
  assert.is(quoted.slice(start), source.split('\n')[line - 1], 'the quoted source line');
  assert.is(caret.indexOf('| ') + 2, start, 'the caret row has the same gutter');
  return caret.indexOf('^') - start + 1;
}

test.run();
