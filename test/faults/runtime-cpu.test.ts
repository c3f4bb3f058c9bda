// Faults a careful user meets in the CPU runtime's kernel cache and settings
// (issue 14): a truncated, garbage, empty or unsealed cached library, a cache
// folder that cannot be used (a file in the way, one under /proc), stale
// work folders of killed compiles, and meaningless FUSEDET_CPU_MEMORY_LIMIT
// values. Each case runs in a child process: the old failure modes were a
// SIGBUS, a hang at 100% CPU and stack traces, none of which a test process
// could survive or report from the inside.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuOrSkip } from '../helpers/skip.js';
import { parseMemoryLimit } from '../../runtime-cpu/options.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { compilerRunCount } from '../../runtime-cpu/build.js';
import { BufferTooLarge } from '../../runtime-cpu/errors.js';
import { runtimeRunner } from '../../models/step-runner.js';
import { initParams } from '../../compiler/init.js';
import { smallStep } from '../train/tiny.js';

const cpu = await cpuOrSkip();
const root = fileURLToPath(new URL('../../..', import.meta.url));
const dist = (p: string): string => new URL(`../../${p}`, import.meta.url).href;

// Loads two hand-written kernels (test/runtime-cpu/kernels.ts) and runs them once: prints the output's sum.
const SCRIPT = `
const { loadUnits } = await import(${JSON.stringify(dist('runtime-cpu/load.js'))});
const { ELEMENTWISE_C, addSquareProgram } = await import(${JSON.stringify(dist('test/runtime-cpu/kernels.js'))});
const { tensor } = await import(${JSON.stringify(dist('compiler/tensor.js'))});
const n = 300;
const exe = await loadUnits(addSquareProgram(n), [ELEMENTWISE_C]);
await exe.setParams({ bias: tensor('f32', [1], [1]) });
const a = tensor('f32', [n], Array.from({ length: n }, (_, i) => i % 7));
const { out } = await exe.run({ a, b: a });
process.stdout.write('sum ' + out.data.reduce((s, x) => s + x, 0) + '\\n');
`;

interface Ran { status: number | null; signal: string | null; stdout: string; stderr: string }

function load(env: Record<string, string>): Ran {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, FUSEDET_DEBUG: '0', ...env },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 0, the right sum, and no stack trace. */
function ok(r: Ran, what: string): void {
  assert.is(r.signal, null, `${what}: killed by ${r.signal}`);
  assert.is(r.status, 0, `${what}: exit ${r.status}\n${r.stderr}`);
  assert.match(r.stdout, /^sum 15808$/m, what);
  assert.not.match(r.stderr, /\n\s+at /, `${what}: a stack trace\n${r.stderr}`);
}

const fresh = (): string => mkdtempSync(join(tmpdir(), 'fusedet-fault-cpu-'));
const libraries = (dir: string): string[] => readdirSync(join(dir, 'cpu')).filter((f) => f.endsWith('.so')).map((f) => join(dir, 'cpu', f));

cpu.test('a damaged cached library (truncated, garbage, empty, unsealed) is rebuilt, said once, never loaded', () => {
  const damage: Record<string, (so: string) => void> = {
    // dlopen of a truncated .so used to kill the process with SIGBUS.
    truncated: (so) => truncateSync(so, 1000),
    // Same size, other bytes: dlopen used to throw "invalid ELF header" as a stack trace.
    garbage: (so) => writeFileSync(so, Buffer.alloc(readFileSync(so).length, 0x5a)),
    empty: (so) => writeFileSync(so, ''),
    // A library without its recorded size and digest (an interrupted write, an older cache).
    unsealed: (so) => writeFileSync(`${so}.sum`, 'not a digest'),
  };
  const dir = fresh();
  ok(load({ FUSEDET_CACHE_DIR: dir }), 'cold');
  const [so] = libraries(dir);
  for (const [name, hurt] of Object.entries(damage)) {
    hurt(so);
    const r = load({ FUSEDET_CACHE_DIR: dir });
    ok(r, name);
    const notes = r.stderr.split('\n').filter((l) => /cannot be used/.test(l));
    assert.is(notes.length, 1, `${name}: said once\n${r.stderr}`);
    assert.match(notes[0], new RegExp(`${so.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be used .*compiled again`));
    // Healed: the next run is a silent cache hit.
    const again = load({ FUSEDET_CACHE_DIR: dir });
    ok(again, `${name}, healed`);
    assert.is(again.stderr, '', `${name}, healed: nothing to say`);
  }
});

cpu.test('a cache folder that cannot be used falls back to a temporary one, said once; never a hang', () => {
  const dir = fresh();
  const file = join(dir, 'a-file');
  writeFileSync(file, 'in the way');
  // A file where the folder should be (as an unwritable folder, EACCES, gave a mkdir stack trace).
  for (const bad of [file, join(file, 'below'), '/proc/fusedet-cache']) {
    const t0 = Date.now();
    const r = load({ FUSEDET_CACHE_DIR: bad });
    ok(r, bad);
    assert.ok(Date.now() - t0 < 100_000, `${bad}: took ${Date.now() - t0} ms`);
    const notes = r.stderr.split('\n').filter((l) => l.includes('FUSEDET_CACHE_DIR'));
    assert.is(notes.length, 1, `${bad}: said once\n${r.stderr}`);
    assert.match(notes[0], new RegExp(`cannot use FUSEDET_CACHE_DIR=${bad.replace(/\//g, '\\/')} .*compiled kernels are cached in .*fusedet-cache-.* instead`));
  }
});

cpu.test('work folders of killed compiles are removed on the next run, even a warm one', () => {
  const dir = fresh();
  ok(load({ FUSEDET_CACHE_DIR: dir }), 'cold');
  const stale = join(dir, 'cpu', '.build-deadbeef-killed'), recent = join(dir, 'cpu', '.build-cafe-running');
  mkdirSync(stale);
  writeFileSync(join(stale, 'unit0.c'), '/* half a compile */');
  mkdirSync(recent);
  const twoHoursAgo = (Date.now() - 7200_000) / 1000;
  utimesSync(stale, twoHoursAgo, twoHoursAgo);
  ok(load({ FUSEDET_CACHE_DIR: dir }), 'warm');
  assert.not.ok(existsSync(stale), 'the stale work folder is gone');
  assert.ok(existsSync(recent), 'a build that may still be running is left alone');
});

/** `fusedet run` of a small DeFCN (no backbone stages) on the CPU runtime. */
function cli(env: Record<string, string>): Ran {
  const args = ['dist/cli/main.js', 'run', 'models/defcn.fd', '--entry', 'DeFCN', '--input', 'image=f32[1,3,32,32]',
    '--arg', 'depth=0', '--arg', 'width=4', '--arg', 'C=16', '--arg', 'K=3', '--arg', 'groups=4', '--runtime', 'cpu'];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env, FUSEDET_DEBUG: '0', ...env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

cpu.test('issue 14 as reported: fusedet run, truncate -s 1000 X/cpu/*.so, run again: the same outputs', () => {
  const dir = fresh();
  const first = cli({ FUSEDET_CACHE_DIR: dir });
  assert.is(first.status, 0, first.stderr);
  for (const so of libraries(dir)) truncateSync(so, 1000);
  const second = cli({ FUSEDET_CACHE_DIR: dir });
  assert.is(second.signal, null, `killed by ${second.signal}`);
  assert.is(second.status, 0, second.stderr);
  const sums = (r: Ran): string => r.stdout.split('\n').filter((l) => / sum /.test(l)).join('\n');
  assert.ok(sums(first).length > 0);
  assert.is(sums(second), sums(first));
  assert.is(second.stderr.split('\n').filter((l) => /cannot be used/.test(l)).length, 1, second.stderr);
});

cpu.test('FUSEDET_CPU_MEMORY_LIMIT=0, -5, abc are refused with the variable named; 800M and 1G are sizes', () => {
  for (const bad of ['0', '-5', 'abc', '1.5.2', '12 apples']) {
    const r = cli({ FUSEDET_CACHE_DIR: fresh(), FUSEDET_CPU_MEMORY_LIMIT: bad });
    assert.is(r.status, 2, `${bad}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`FUSEDET_CPU_MEMORY_LIMIT=${bad.replace(/[.]/g, '\\.')} is not a memory size`));
    assert.not.match(r.stderr, /\n\s+at /);
  }
  assert.is(parseMemoryLimit('800M'), 800 * 2 ** 20);
  assert.is(parseMemoryLimit('1G'), 2 ** 30);
  assert.is(parseMemoryLimit('123456'), 123456);
});

cpu.test('a step over FUSEDET_CPU_MEMORY_LIMIT is refused before its parameters are made and before any C compile', async () => {
  const step = smallStep();
  const rt = new CpuRuntime(undefined, { memoryLimit: 1000, debug: 0, cache: { dir: fresh() } });
  let made = 0;
  const compiles = compilerRunCount();
  let err: unknown;
  try {
    await runtimeRunner(step, () => { made++; return initParams(step.graph, 0); }, rt);
  } catch (e) { err = e; }
  assert.instance(err, BufferTooLarge);
  assert.match((err as Error).message, /exceeds the 1000 B this machine allows/);
  assert.is(made, 0, 'no parameter was made on the host');
  assert.is(compilerRunCount(), compiles, 'no C compiler was started');
});

test.run();
