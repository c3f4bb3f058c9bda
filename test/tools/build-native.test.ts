// Without a compiler, `npm install` must still finish and say once what is
// missing. Run in a scratch copy: node-gyp rebuild removes build/ first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

test('no compiler: the install finishes (exit 0) with one clear message', () => {
  const root = resolve('.');
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-native-'));
  try {
    cpSync(join(root, 'binding.gyp'), join(dir, 'binding.gyp'));
    cpSync(join(root, 'native'), join(dir, 'native'), { recursive: true });
    mkdirSync(join(dir, 'tools'));
    cpSync(join(root, 'tools/build-native.mjs'), join(dir, 'tools/build-native.mjs'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    // Only node itself on PATH: no cc, c++, make.
    const r = spawnSync(process.execPath, ['tools/build-native.mjs'], {
      cwd: dir, encoding: 'utf8', env: { PATH: dirname(process.execPath) === '/usr/bin' ? '/nonexistent' : dirname(process.execPath), HOME: dir, npm_config_nodedir: '/usr' },
      timeout: 120_000,
    });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /fusedet: the native addon was not built/);
    assert.match(r.stderr, /apt-get install build-essential/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
