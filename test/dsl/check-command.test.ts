// `fusedet check` (cli/commands/check.ts) as a user runs it: exit codes and
// what it prints.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';

function run(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'check', ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('the model files check clean: exit 0', () => {
  const r = run('models/layers.fd', 'models/resnet.fd', 'models/fpn.fd', 'models/fcos.fd', 'models/defcn.fd');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /ok: \d+ files, \d+ modules checked/);
});

test('diagnostics go to stderr with exit 1', () => {
  const r = run('test/dsl/invalid/conv_channels.fd', 'test/dsl/invalid/duplicate_fn_param.fd');
  assert.is(r.code, 1);
  assert.match(r.err, /conv_channels\.fd:5:22: error: conv2d: input has 3 channels/);
  assert.match(r.err, /duplicate_fn_param\.fd:2:20: error: parameter 'x' is already defined/);
  assert.match(r.err, /\n2 errors\n$/);
  assert.not.match(r.err, /    at /, 'no stack trace');
});

test('a missing file is a clear error (exit 1); no file is a usage error (exit 2)', () => {
  const missing = run('models/nope.fd');
  assert.is(missing.code, 1);
  assert.match(missing.err, /models\/nope\.fd: error: cannot read 'models\/nope\.fd': no such file/);
  const none = run();
  assert.is(none.code, 2);
  assert.match(none.err, /no \.fd file given/);
  assert.is(run('--bogus', 'models/fpn.fd').code, 2);
});

test.run();
