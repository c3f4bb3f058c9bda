// tools/run-tests.mjs, the runner `npm test` ends with: it sums uvu's
// per-file counts, counts every skip (test.skip or a SKIP line for tests a
// file did not register), lists each skip with its reason, fails a file that
// crashes or prints no summary, and ends with `N passed, N failed, N skipped`.
// Run on a fake dist/test of scripts that print what uvu prints.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const runner = resolve(fileURLToPath(new URL('../../../tools/run-tests.mjs', import.meta.url)));
const { fileSkips, uvuCount } = (await import(runner)) as {
  fileSkips(out: string): { count: number; listed: string[] };
  uvuCount(out: string, label: string): number | null;
};

const summary = (total: number, passed: number, skipped: number) =>
  `\n  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n  Duration:  1.00ms\n`;

test('uvuCount reads the summary lines, not a test name that contains the label', () => {
  const out = `• a test named Passed: 99 ✓\n${summary(3, 2, 1)}`;
  assert.is(uvuCount(out, 'Total'), 3);
  assert.is(uvuCount(out, 'Passed'), 2);
  assert.is(uvuCount(out, 'Skipped'), 1);
  assert.is(uvuCount('no summary', 'Total'), null);
});

test('fileSkips: the larger of test.skip and SKIP lines, each listed', () => {
  // Two test.skip, one SKIP line for both (a file-level reason).
  assert.equal(fileSkips(`SKIP file.ts: no adapter\n${summary(1, 1, 2)}`), { count: 2, listed: ['SKIP file.ts: no adapter (and 1 more test.skip in this file)'] });
  // A SKIP line for tests the file did not register at all: counted, not lost.
  assert.equal(fileSkips(`SKIP CUDA compile: nvcc not on PATH\n${summary(2, 2, 0)}`), { count: 1, listed: ['SKIP CUDA compile: nvcc not on PATH'] });
  // One line per test.skip (test/helpers/skip.ts): counted once each.
  assert.equal(fileSkips(`SKIP a: why\nSKIP b: why\n${summary(0, 0, 2)}`).count, 2);
  assert.equal(fileSkips(summary(0, 0, 1)), { count: 1, listed: ['SKIP 1 test.skip without a SKIP line'] });
  assert.equal(fileSkips(summary(4, 4, 0)), { count: 0, listed: [] });
});

test('a run: totals, the skips by name with reasons, a crashed file failed, the closing line', () => {
  const root = mkdtempSync(join(tmpdir(), 'fusedet-runner-'));
  try {
    const dir = join(root, 'dist', 'test');
    mkdirSync(dir, { recursive: true });
    const script = (text: string, code = 0) => `process.stdout.write(${JSON.stringify(text)}); process.exitCode = ${code};\n`;
    writeFileSync(join(dir, 'a.test.js'), script(`SKIP the WebGPU step: no WebGPU adapter was found\n${summary(2, 2, 1)}`));
    writeFileSync(join(dir, 'b.test.js'), script(`SKIP CUDA compile: nvcc not on PATH\n${summary(3, 3, 0)}`));
    writeFileSync(join(dir, 'c.test.js'), script('crashed before uvu printed anything\n', 1));
    writeFileSync(join(dir, 'd.test.js'), script(summary(2, 1, 0), 1));
    const r = spawnSync(process.execPath, [runner], { cwd: root, encoding: 'utf8' });
    assert.is(r.status, 1, 'a failed file fails the run');
    const lines = r.stdout.trim().split('\n');
    assert.is(lines.at(-1), '6 passed, 2 failed, 2 skipped', r.stdout);
    assert.match(r.stdout, /skipped:\n {2}dist\/test\/a\.test\.js: SKIP the WebGPU step: no WebGPU adapter was found\n {2}dist\/test\/b\.test\.js: SKIP CUDA compile: nvcc not on PATH\n/);
    assert.match(r.stdout, /failed files:\n {2}dist\/test\/c\.test\.js\n {2}dist\/test\/d\.test\.js/);
    // Nothing skipped, nothing failed: the closing line still names all three counts.
    rmSync(join(dir, 'a.test.js')); rmSync(join(dir, 'b.test.js')); rmSync(join(dir, 'c.test.js')); rmSync(join(dir, 'd.test.js'));
    writeFileSync(join(dir, 'e.test.js'), script(summary(1, 1, 0)));
    const ok = spawnSync(process.execPath, [runner], { cwd: root, encoding: 'utf8' });
    assert.is(ok.status, 0, ok.stdout);
    assert.is(ok.stdout.trim().split('\n').at(-1), '1 passed, 0 failed, 0 skipped');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
