// Runs every dist/test/**/*.test.js in its own process (a crash in one native
// runtime cannot take the others down), two at a time, and sums uvu's
// per-file totals. The last line is `N passed, N failed[, N skipped]`.
// Usage: node tools/run-tests.mjs [substring-filter ...]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';

function walk(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk('dist/test', []).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const jobs = Math.max(1, Math.min(Number(process.env.FUSEDET_TEST_JOBS) || cpus().length, 4));
let passed = 0, failed = 0, skipped = 0;
const failures = [];

function runOne(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const num = (label) => { const m = out.match(new RegExp(label + ':\\s+(\\d+)')); return m ? Number(m[1]) : null; };
      const total = num('Total'), ok = num('Passed'), skip = num('Skipped') ?? 0;
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (total === null || ok === null) {
        failed += 1; failures.push(file);
        process.stdout.write(`✘ ${file} (no uvu summary, exit ${code}, ${secs}s)\n${out}\n`);
      } else {
        // uvu's Total counts the tests that ran; skipped ones are reported apart.
        const bad = total - ok + (code !== 0 && total === ok ? 1 : 0);
        passed += ok; failed += bad; skipped += skip;
        const notices = out.split('\n').filter((l) => l.startsWith('SKIP') || l.startsWith('NOTICE')).join('\n');
        if (bad > 0) { failures.push(file); process.stdout.write(`✘ ${file} (${secs}s)\n${out}\n`); }
        else process.stdout.write(`✔ ${file}: ${ok} passed${skip ? `, ${skip} skipped` : ''} (${secs}s)\n${notices ? notices + '\n' : ''}`);
      }
      resolve();
    });
  });
}

const queue = [...files];
await Promise.all(Array.from({ length: jobs }, async () => { while (queue.length) await runOne(queue.shift()); }));
if (failures.length) process.stdout.write(`\nfailed files:\n  ${failures.join('\n  ')}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
