// tools/code-stats.mjs: its function scanner on source built to trip a naive
// brace counter (braces in strings, templates, regular expressions and
// comments; object-literal return types; arrows with and without block
// bodies; class and object methods; nested functions), its line counts, the
// op-mention filter, and the command on a throwaway repository (tables at a
// revision read from git objects, not the work tree; a bad revision exits 1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const tool = resolve(fileURLToPath(new URL('../../../tools/code-stats.mjs', import.meta.url)));
interface Fn { name: string; start: number; end: number; lines: number }
const { functionsIn, codeOnly, lineCount, opFiles } = (await import(tool)) as {
  functionsIn(src: string): Fn[];
  codeOnly(src: string): string;
  lineCount(text: string): number;
  opFiles(files: Map<string, string>, name: string): string[];
};

const SOURCE = [
  /* 1 */ "export function outer(a: number): { x: number; y: string } {",
  /* 2 */ "  const s = '}}}' + \"{\" + `${a > 1 ? '}' : `{${'}'}`}`;",
  /* 3 */ "  const re = /[{}]\\}/g; // } a comment brace",
  /* 4 */ "  /* { */",
  /* 5 */ "  const inner = (b: number): number[] => {",
  /* 6 */ "    return [b, a / 2 / 1];",
  /* 7 */ "  };",
  /* 8 */ "  return { x: inner(1)[0], y: s + re.source };",
  /* 9 */ "}",
  /* 10 */ "class K<T> {",
  /* 11 */ "  private async method(x: T): Promise<{ v: T }> {",
  /* 12 */ "    if (x) { return { v: x }; }",
  /* 13 */ "    return { v: x };",
  /* 14 */ "  }",
  /* 15 */ "}",
  /* 16 */ "const list = (n: number): string[] => [",
  /* 17 */ "  String(n),",
  /* 18 */ "];",
  /* 19 */ "const obj = {",
  /* 20 */ "  get: (k: string) => k,",
  /* 21 */ "  each(k: string): void {",
  /* 22 */ "    for (const c of k) console.log(c);",
  /* 23 */ "  },",
  /* 24 */ "};",
  /* 25 */ "if (list(1).length) outer(2);",
  /* 26 */ "const single = x => {",
  /* 27 */ "  return x;",
  /* 28 */ "};",
].join('\n') + '\n';

test('named functions and their line spans, braces in strings, templates, regexes and comments ignored', () => {
  const got = functionsIn(SOURCE).map((f) => [f.name, f.start, f.end]).sort((a, b) => (a[1] as number) - (b[1] as number));
  assert.equal(got, [
    ['outer', 1, 9], ['inner', 5, 7], ['method', 11, 14], ['list', 16, 18], ['get', 20, 20], ['each', 21, 23], ['single', 26, 28],
  ]);
  assert.not.ok(functionsIn(SOURCE).some((f) => f.name === 'if' || f.name === 'for'), 'control statements are not functions');
});

test('codeOnly keeps length and newlines and leaves template substitutions as code', () => {
  const code = codeOnly(SOURCE);
  assert.is(code.length, SOURCE.length);
  assert.is(code.split('\n').length, SOURCE.split('\n').length);
  // Line 2's only code braces are the two substitutions' ${ and }: the quoted and template-text ones are blanked.
  const line2 = code.split('\n')[1];
  assert.equal([line2.split('{').length - 1, line2.split('}').length - 1], [2, 2], line2);
  assert.match(code.split('\n')[1], /\$\{a > 1 \?/);
});

test('line counts and op mentions', () => {
  assert.equal([lineCount(''), lineCount('a'), lineCount('a\n'), lineCount('a\nb\n')], [0, 1, 1, 2]);
  const files = new Map([
    ['compiler/ops/nms.ts', "name: 'nms'"], ['compiler/ops/index.ts', 'import { NMS_OPS } from x'], ['runtime/a.ts', 'nmsLike(); unms'],
    ['compiler/ops/nms.kernel.ts', 'x'], ['compiler/x.ts', '// nms.kernel.ts'],
  ]);
  assert.equal(opFiles(files, 'nms'), ['compiler/ops/index.ts', 'compiler/ops/nms.ts', 'compiler/x.ts']);
});

test('the command reads a revision from git objects, not the work tree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-code-stats-'));
  try {
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir, encoding: 'utf8' });
    git('init', '-q');
    mkdirSync(join(dir, 'compiler'));
    mkdirSync(join(dir, 'test', 'compiler'), { recursive: true });
    writeFileSync(join(dir, 'compiler', 'a.ts'), 'export function alpha(): void {\n  return;\n}\n');
    writeFileSync(join(dir, 'test', 'compiler', 'a.test.ts'), 'x\ny\n');
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    // Uncommitted: not what HEAD~0 holds.
    writeFileSync(join(dir, 'compiler', 'a.ts'), 'export function alpha(): void {\n  return;\n  return;\n}\nconst beta = () => {\n};\n');
    const run = (...args: string[]) => spawnSync(process.execPath, [tool, ...args], { cwd: dir, encoding: 'utf8' });
    const r = run('HEAD', '--op', 'alpha');
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^compiler\s+1\s+3$/m);
    assert.match(r.stdout, /^compiler\s+1\s+2$/m, 'test/compiler counted separately');
    assert.match(r.stdout, /^alpha\s+compiler\/a\.ts:1\s+3$/m);
    assert.not.match(r.stdout, /beta/);
    assert.match(r.stdout, /files mentioning 'alpha'\nthe compiler and runtimes \(compiler\/, runtime\*\/, native\/\): 1\n {2}compiler\/a\.ts\nusers [^\n]*: 0\n/);
    const bad = run('no-such-rev');
    assert.is(bad.status, 1);
    assert.match(bad.stderr, /'no-such-rev' is not a commit/);
    assert.is(run('--bogus').status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
