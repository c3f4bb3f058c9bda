// The CUDA cubin cache shares the CPU cache's validation (runtime/cache.ts):
// a truncated, garbage or unsealed cubin never reaches the driver; it is
// compiled again and the user is told once per process. No GPU needed: the
// compiler is a stand-in, and nothing is loaded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CompilerChoice, compileCached } from '../../runtime-cuda/compile.js';

const root = mkdtempSync(join(tmpdir(), 'fusedet-fault-cuda-'));
const cache = { dir: root };

let compiles = 0;
const compiler: CompilerChoice = {
  id: 'stand-in 13.0', kind: 'nvcc', version: 13000, archs: [],
  compile: async (source) => { compiles++; return new TextEncoder().encode(`cubin of ${source}`.repeat(50)); },
};

/** Captures what the cache says on stderr while `f` runs. */
async function said(f: () => Promise<unknown>): Promise<string> {
  const write = process.stderr.write.bind(process.stderr);
  let out = '';
  process.stderr.write = ((s: string) => { out += String(s); return true; }) as typeof process.stderr.write;
  try { await f(); } finally { process.stderr.write = write; }
  return out;
}

test('a damaged cubin is compiled again, never handed to the driver; the user is told once', async () => {
  const cold = await compileCached('__global__ void k() {}', 90, compiler, cache);
  assert.is(cold.cached, false);
  const good = readFileSync(cold.path);
  const warm = await compileCached('__global__ void k() {}', 90, compiler, cache);
  assert.equal([warm.cached, compiles], [true, 1], 'an intact entry is a hit');

  const damage: [string, () => void][] = [
    ['truncated', () => truncateSync(cold.path, 100)],
    ['garbage', () => writeFileSync(cold.path, Buffer.alloc(good.length, 0x42))],
    ['empty', () => writeFileSync(cold.path, '')],
    ['unsealed', () => rmSync(`${cold.path}.sum`)],
  ];
  const notes: string[] = [];
  for (const [name, hurt] of damage) {
    hurt();
    const before = compiles;
    let got: Awaited<ReturnType<typeof compileCached>> | undefined;
    notes.push(await said(async () => { got = await compileCached('__global__ void k() {}', 90, compiler, cache); }));
    assert.is(got!.cached, false, `${name}: compiled again`);
    assert.is(compiles, before + 1, name);
    assert.equal(Buffer.from(got!.image), good, `${name}: the fresh image`);
    assert.equal(readFileSync(cold.path), good, `${name}: the entry is healed on disk`);
  }
  assert.match(notes[0], /the cached kernel file .*\.cubin cannot be used \(\d+ bytes instead of \d+ \(truncated or overwritten\)\); it was removed and is being compiled again/);
  assert.equal(notes.slice(1), ['', '', ''], 'said once per process');
});

test.run();
