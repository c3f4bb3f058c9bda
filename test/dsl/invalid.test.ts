// The corpus of invalid programs: each file's first line says where its
// error is and what the message contains (`// expect [FILE:]LINE:COL text`,
// FILE relative to the corpus folder, default the file itself).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { checkFiles, formatDiagnostics } from '../../dsl/index.js';

const dir = 'test/dsl/invalid';
const files = readdirSync(dir).filter((f) => f.endsWith('.fd')).sort();

test('the corpus holds at least 40 invalid programs', () => {
  assert.ok(files.length >= 40, `only ${files.length} files`);
});

for (const f of files) {
  test(`invalid/${f}`, () => {
    const path = join(dir, f);
    const first = readFileSync(path, 'utf8').split('\n')[0];
    const m = /^\/\/ expect (?:(\S+\.fd):)?(\d+):(\d+) (.+)$/.exec(first);
    assert.ok(m, `${f}: the first line must be "// expect LINE:COL message"`);
    const [, file, line, col, text] = m!;
    const want = normalize(file ? join(dir, file) : path);
    const { diagnostics } = checkFiles([path]);
    const printed = formatDiagnostics(diagnostics, (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } });
    const hit = diagnostics.find((d) => normalize(d.span.file) === want && d.span.line === Number(line) && d.span.col === Number(col) && d.message.includes(text));
    assert.ok(hit, `${f}: expected ${want}:${line}:${col} "${text}", got:\n${printed}`);
    // The printed form carries the caret line.
    assert.ok(printed.includes(`${want}:${line}:${col}: error:`) && printed.includes('^'));
  });
}

test.run();
