// Compiling C into a cached shared library: cold compile, warm hit without
// the compiler, and the errors a user can meet (no compiler, rejected source).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLibrary, cacheDir, compilerRunCount } from '../../runtime-cpu/build.js';
import { cflags, DEFAULT_CFLAGS } from '../../runtime-cpu/cc.js';
import { CpuUnavailable, KernelCompileError } from '../../runtime-cpu/errors.js';
import { ELEMENTWISE_C } from './kernels.js';

const root = mkdtempSync(join(tmpdir(), 'fusedet-cc-test-'));
process.env.FUSEDET_CACHE_DIR = root;

/** Runs fn with environment variables set, restoring them after. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try { return await fn(); } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

test('default flags optimise for this CPU without -ffast-math', () => {
  assert.ok(DEFAULT_CFLAGS.includes('-O3') && DEFAULT_CFLAGS.includes('-march=native') && DEFAULT_CFLAGS.includes('-fPIC'));
  assert.not.ok(cflags().some((f) => f.includes('fast-math')));
});

test('cold build compiles every unit in parallel; warm build runs no compiler and keeps the same file', async () => {
  const units = [ELEMENTWISE_C, `#include <stdint.h>\nvoid other(void *const *b, const int64_t *a, int64_t s, int64_t e) { (void)b; (void)a; (void)s; (void)e; }\n`];
  const before = compilerRunCount();
  const cold = await buildLibrary(units);
  assert.is(cold.cached, false);
  assert.is(cold.compiled, 2);
  assert.is(compilerRunCount() - before, 3, 'two units and one link');
  assert.ok(cold.path.startsWith(join(root, 'cpu')));
  const { ino, mtimeMs } = statSync(cold.path);

  const warm = await buildLibrary(units);
  assert.is(warm.cached, true);
  assert.is(warm.compiled, 0);
  assert.is(compilerRunCount() - before, 3, 'no compiler started on a warm hit');
  assert.is(warm.path, cold.path);
  assert.is(statSync(warm.path).ino, ino);
  assert.is(statSync(warm.path).mtimeMs, mtimeMs);
  // Nothing half-written is left behind.
  assert.equal(readdirSync(cacheDir()).filter((f) => f.startsWith('.build-')), []);
});

test('lazy units are only split on a miss: a warm start renders nothing more', async () => {
  let splits = 0;
  const source = { key: ELEMENTWISE_C + '/* lazy */', units: () => { splits++; return [ELEMENTWISE_C + '/* lazy */']; } };
  const cold = await buildLibrary(source);
  const warm = await buildLibrary(source);
  assert.is(splits, 1);
  assert.equal([cold.cached, warm.cached], [false, true]);
  assert.is(warm.path, cold.path);
});

test('work folders of killed builds are removed once they are an hour old', async () => {
  const stale = join(cacheDir(), '.build-deadbeef-old'), fresh = join(cacheDir(), '.build-deadbeef-new');
  mkdirSync(stale); mkdirSync(fresh);
  const hourAgo = (Date.now() - 3700_000) / 1000;
  utimesSync(stale, hourAgo, hourAgo);
  await buildLibrary([ELEMENTWISE_C + '/* sweep */']);
  assert.not.ok(existsSync(stale));
  assert.ok(existsSync(fresh));
  rmSync(fresh, { recursive: true });
});

test('the key covers the sources and the flags', async () => {
  const a = await buildLibrary([ELEMENTWISE_C]);
  const b = await buildLibrary([ELEMENTWISE_C + '\n/* changed */\n']);
  const c = await withEnv({ FUSEDET_CFLAGS: '-DFUSEDET_TEST_FLAG=1' }, () => buildLibrary([ELEMENTWISE_C]));
  assert.is.not(a.path, b.path);
  assert.is.not(a.path, c.path);
  assert.is(c.cached, false);
});

test('FUSEDET_CC pointing nowhere: a clear error naming what was tried and how to install', async () => {
  const err = await withEnv({ FUSEDET_CC: '/nonexistent/cc' }, () => buildLibrary([ELEMENTWISE_C + '/* fresh */']).then(() => undefined, (e: unknown) => e));
  assert.instance(err, CpuUnavailable);
  const msg = (err as Error).message;
  assert.match(msg, /\/nonexistent\/cc/);
  assert.match(msg, /apt-get install build-essential/);
  assert.is((err as CpuUnavailable).exitCode, 3);
});

test('no compiler on PATH: the error lists cc, gcc and clang', async () => {
  const err = await withEnv({ PATH: mkdtempSync(join(tmpdir(), 'fusedet-empty-path-')), FUSEDET_CC: undefined }, () =>
    buildLibrary([ELEMENTWISE_C + '/* no path */']).then(() => undefined, (e: unknown) => e));
  assert.instance(err, CpuUnavailable);
  assert.match((err as Error).message, /cc \(not found on PATH\), gcc \(not found on PATH\), clang \(not found on PATH\)/);
});

test('a kernel the compiler rejects: the error shows the kept source path and the compiler message', async () => {
  const bad = '#include <stdint.h>\nvoid broken(void *const *bufs, const int64_t *args, int64_t b, int64_t e) {\n  undeclared_thing += 1;\n}\n';
  const err = await buildLibrary([ELEMENTWISE_C, bad]).then(() => undefined, (e: unknown) => e);
  assert.instance(err, KernelCompileError);
  const e = err as KernelCompileError;
  assert.ok(existsSync(e.sourcePath), e.sourcePath);
  assert.is(readFileSync(e.sourcePath, 'utf8'), bad);
  assert.ok(e.message.includes(e.sourcePath));
  assert.match(e.message, /undeclared_thing/);
  assert.match(e.message, /:3:\d+: error/); // the compiler's own line:col, against the kept file
  assert.is(e.exitCode, 1);
});

test.run();
