// Runs every dist/test/**/*.test.js in its own process (a crash in one native
// runtime cannot take the others down), two at a time, and sums uvu's
// per-file totals. Skips: a file prints `SKIP <what>: <reason>` for each test
// it registers with test.skip (test/helpers/skip.ts) or leaves unregistered;
// a file's skip count is the larger of uvu's Skipped and its SKIP lines, so a
// test.skip without a line is counted and one without a test.skip is too.
// Every skip is listed, by file, before the last line, which is
// `N passed, N failed, N skipped`.
// Usage: node tools/run-tests.mjs [substring-filter ...]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpus } from 'node:os';

function walk(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const jobs = Math.max(1, Math.min(Number(process.env.FUSEDET_TEST_JOBS) || cpus().length, 4));
let passed = 0, failed = 0, skipped = 0;
const failures = [];
/** `file: SKIP line` for every skip, for the closing list. */
const skips = [];

/** uvu's "Label: N" from a file's output (FORCE_COLOR=0: no escapes), or null. */
export function uvuCount(out, label) {
  const m = out.match(new RegExp('^\\s*' + label + ':\\s+(\\d+)\\s*$', 'm'));
  return m ? Number(m[1]) : null;
}

/**
 * A file's skips: the count (its SKIP lines or uvu's Skipped, whichever is
 * larger) and the lines to list (a file that skips all its tests for one
 * reason may say it once: the extra test.skip are noted with it).
 */
export function fileSkips(out) {
  const lines = out.split('\n').filter((l) => l.startsWith('SKIP')).map((l) => l.trim());
  const extra = Math.max(0, (uvuCount(out, 'Skipped') ?? 0) - lines.length);
  const listed = extra === 0 ? lines : lines.length
    ? [...lines.slice(0, -1), `${lines.at(-1)} (and ${extra} more test.skip in this file)`]
    : [`SKIP ${extra} test.skip without a SKIP line`];
  return { count: lines.length + extra, listed };
}

function runOne(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const total = uvuCount(out, 'Total'), ok = uvuCount(out, 'Passed');
      const mine = fileSkips(out), skip = mine.count;
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (total === null || ok === null) {
        failed += 1; failures.push(file);
        process.stdout.write(`✘ ${file} (no uvu summary, exit ${code}, ${secs}s)\n${out}\n`);
      } else {
        // uvu's Total counts the tests that ran; skipped ones are reported apart.
        const bad = total - ok + (code !== 0 && total === ok ? 1 : 0);
        passed += ok; failed += bad; skipped += skip;
        for (const l of mine.listed) skips.push(`${file}: ${l}`);
        const notices = out.split('\n').filter((l) => l.startsWith('SKIP') || l.startsWith('NOTICE')).join('\n');
        if (bad > 0) { failures.push(file); process.stdout.write(`✘ ${file} (${secs}s)\n${out}\n`); }
        else process.stdout.write(`✔ ${file}: ${ok} passed${skip ? `, ${skip} skipped` : ''} (${secs}s)\n${notices ? notices + '\n' : ''}`);
      }
      resolve();
    });
  });
}

// Imported by its own test (test/tools/runner.test.ts): run only as a script.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

async function main() {
const filters = process.argv.slice(2);
const files = walk('dist/test', []).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const queue = [...files];
await Promise.all(Array.from({ length: jobs }, async () => { while (queue.length) await runOne(queue.shift()); }));
// Sorted: files finish in any order when two run at once.
if (failures.length) process.stdout.write(`\nfailed files:\n  ${failures.sort().join('\n  ')}\n`);
if (skips.length) process.stdout.write(`\nskipped:\n  ${skips.sort().join('\n  ')}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
}
