// bench/peak.ts's multiply-add ceiling (the figure the CPU bench reports GEMM
// peaks and convolutions against as a share of the hardware): the reference
// program's ceiling mode compiles, runs on 1 and 2 threads at once and
// prints one parsable figure. Not a timing test: only that a figure comes back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmaCeiling } from '../../bench/peak.js';

process.env.FUSEDET_PEAK_CACHE = mkdtempSync(join(tmpdir(), 'fusedet-ceiling-test-'));

test('the reference program reports a multiply-add ceiling on 1 and 2 threads', () => {
  for (const threads of [1, 2]) {
    const g = fmaCeiling(threads, 1);
    assert.ok(Number.isFinite(g) && g > 0, `${threads} thread(s): ${g}`);
  }
});

test.run();
