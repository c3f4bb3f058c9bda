// The language under hostile or mistaken input, through the real CLI:
// imports that leave the project or name a device or a FIFO, a byte-order
// mark, deep nesting, follow-on errors, constructor arguments outside their
// meanings, a parameter too big to allocate, an unproven dim equality.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = mkdtempSync(join(tmpdir(), 'fusedet-dslfault-'));
const proj = join(root, 'proj'), lib = join(root, 'lib');
mkdirSync(proj); mkdirSync(lib);
const at = (f: string): string => join(proj, f);
const FN = 'fn f(x: f32[4]) -> f32[4] { return x }\n';

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  // A hang (reading /dev/zero or a FIFO) ends in the timeout: status null.
  const r = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function fails(r: ReturnType<typeof cli>, re: RegExp): void {
  assert.is(r.code, 1, `exit code (null: it hung); stderr: ${r.err}`);
  assert.match(r.err, re);
  assert.not.match(r.err, /\n\s+at /, 'no stack trace');
}

test('an import leaving the project is refused without reading it, naming the rule', () => {
  writeFileSync(at('escape.fd'), 'import "../../../../../../../../../../etc/passwd"\n' + FN);
  const r = cli('check', at('escape.fd'));
  fails(r, /import '.*etc\/passwd' leaves the project: \/etc\/passwd is outside .*proj/);
  assert.match(r.err, /imports resolve inside the folder of the files being checked; add a folder with --include DIR/);
  assert.not.match(r.err, /root:/, 'no line of /etc/passwd printed');
  // A symlink inside the folder that points out is the same escape.
  symlinkSync('/etc/passwd', at('link.fd'));
  writeFileSync(at('via-link.fd'), 'import "link.fd"\n' + FN);
  fails(cli('check', at('via-link.fd')), /leaves the project: \/etc\/passwd is outside/);
});

test('--include DIR is searched and allowed', () => {
  writeFileSync(join(lib, 'helpers.fd'), 'fn h(x: f32[4]) -> f32[4] { return x }\n');
  writeFileSync(at('uses.fd'), 'import "helpers.fd"\nfn g(x: f32[4]) -> f32[4] { return h(x) }\n');
  fails(cli('check', at('uses.fd')), /cannot read imported file 'helpers\.fd'/);
  const r = cli('check', at('uses.fd'), '--include', lib);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /ok: 2 files/);
});

test('/dev/zero and a FIFO, imported or given, are refused at once (no hang)', () => {
  writeFileSync(at('zero.fd'), 'import "/dev/zero"\n' + FN);
  fails(cli('check', at('zero.fd'), '--include', '/dev'), /cannot read imported file '\/dev\/zero' \(\/dev\/zero: is a device, not a regular file\)/);
  fails(cli('check', '/dev/zero'), /cannot read '\/dev\/zero': is a device, not a regular file/);
  if (spawnSync('mkfifo', [at('pipe.fd')]).status === 0) {
    writeFileSync(at('fifo.fd'), 'import "pipe.fd"\n' + FN);
    fails(cli('check', at('fifo.fd')), /is a pipe \(FIFO\), not a regular file/);
    fails(cli('check', at('pipe.fd')), /is a pipe \(FIFO\), not a regular file/);
  }
});

test('a file starting with a byte-order mark is accepted', () => {
  writeFileSync(at('bom.fd'), '\uFEFF' + FN);
  const r = cli('check', at('bom.fd'));
  assert.is(r.code, 0, r.err);
});

test('deep nesting: one clear error, the declarations around it kept (no made-up follow-on errors)', () => {
  writeFileSync(at('deep.fd'), FN + `fn g(x: f32[4]) -> f32[4] { return ${'('.repeat(400)}x${')'.repeat(400)} }\nfn k(x: f32[4]) -> f32[4] { return f(x) }\n`);
  const r = cli('check', at('deep.fd'));
  fails(r, /deep\.fd:2:\d+: error: this expression nests too deeply \(more than 100 levels\)/);
  assert.match(r.err, /^1 error$/m, r.err);
  // 190 levels once overflowed the parser's stack and was reported at 1:1, dropping f.
  writeFileSync(at('deep190.fd'), FN + `fn g(x: f32[4]) -> f32[4] { return ${'('.repeat(190)}x${')'.repeat(190)} }\nfn k(x: f32[4]) -> f32[4] { return f(x) }\n`);
  const r2 = cli('check', at('deep190.fd'));
  fails(r2, /deep190\.fd:2:\d+: error: this expression nests too deeply/);
  assert.match(r2.err, /^1 error$/m, r2.err);
});

test('--arg groups=7: the cause alone, no "expected a tensor, got error" ahead of it', () => {
  const r = cli('compile', 'models/defcn.fd', '--entry', 'DeFCN', '--arg', 'groups=7', '--input', 'image=f32[1,3,64,64]');
  fails(r, /^models\/layers\.fd:\d+:\d+: error: group_norm: 256 channels are not divisible by groups = 7/);
  assert.not.match(r.err, /got error/);
  assert.match(r.err, /^1 error$/m);
});

test('--arg depth=7 or 1000 is refused by ResNet\'s where depth in [18, 34, 50, 101]', () => {
  for (const d of ['7', '1000']) {
    const r = cli('compile', 'models/defcn.fd', '--entry', 'DeFCN', '--arg', `depth=${d}`, '--input', 'image=f32[1,3,64,64]');
    fails(r, new RegExp(`ResNet\\(\\): depth = ${d} is not one of 18, 34, 50, 101`));
    assert.match(r.err, /where depth in \[18, 34, 50, 101\]/);
    assert.match(r.err, /^1 error$/m, 'no "cannot instantiate" follow-on');
  }
});

test('a parameter too big to allocate is an error with its size, not a RangeError', () => {
  writeFileSync(at('huge.fd'), 'module Huge() {\n  param w: f32[100000, 100000, 100000] = ones\n  fn forward(x: f32[4]) -> f32[4] { return x }\n}\n');
  fails(cli('check', at('huge.fd')), /huge\.fd:2:12: error: parameter 'w' f32\[100000, 100000, 100000\] has 1\.00e\+15 elements \(4\.00 PB\)/);
  const r = cli('run', at('huge.fd'), '--entry', 'Huge', '--input', 'x=f32[4]', '--runtime', 'reference');
  fails(r, /has 1\.00e\+15 elements/);
  assert.not.match(r.err, /RangeError/);
});

test('GroupNorm(cin) after Conv(cin, cout): check lists the unproven equality with line:col', () => {
  writeFileSync(at('gn.fd'), `module GN(C: int) {
  param weight: f32[C] = ones
  param bias: f32[C] = zeros
  fn forward(x: f32[B, C, H, W]) -> f32[B, C, H, W] { return group_norm(x, weight, bias, groups = 1) }
}
module Conv(cin: int, cout: int) {
  param weight: f32[cout, cin, 3, 3] = ones
  fn forward(x: f32[B, cin, H, W]) -> f32[B, cout, H, W] { return conv2d(x, weight, padding = 1) }
}
module Bad(cin: int, cout: int) {
  conv = Conv(cin, cout)
  norm = GN(cin)
  fn forward(x: f32[B, cin, H, W]) -> f32[B, cin, H, W] { return norm(conv(x)) }
}
`);
  const r = cli('check', at('gn.fd'));
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /1 assumption left to lowering/);
  assert.match(r.out, /gn\.fd:13:71: GN\.forward\(\): C = cin must equal cout/);
});

test.run();
