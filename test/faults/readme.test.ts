// README's command examples must run for a new user in a clone: a bare
// `fusedet` is not on PATH after `npm install` ("command not found"), so the
// examples say `npx fusedet`, which finds the package's own bin.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';

test('no README code line starts with a bare `fusedet`', () => {
  const text = readFileSync('README.md', 'utf8');
  const bad: string[] = [];
  let inCode = false;
  for (const [i, line] of text.split('\n').entries()) {
    if (line.startsWith('```')) { inCode = !inCode; continue; }
    if (inCode && /^\s*fusedet\s/.test(line)) bad.push(`README.md:${i + 1}: ${line.trim()}`);
    if (inCode && /&&\s*fusedet\s/.test(line)) bad.push(`README.md:${i + 1}: ${line.trim()}`);
  }
  assert.equal(bad, [], `bare fusedet in:\n${bad.join('\n')}`);
});

test('npx fusedet resolves: package.json names the bin, and it is an executable script', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; bin: Record<string, string> };
  assert.is(pkg.name, 'fusedet');
  assert.is(pkg.bin.fusedet, 'dist/cli/main.js');
  assert.ok(readFileSync('cli/main.ts', 'utf8').startsWith('#!/usr/bin/env node'));
});

test.run();
