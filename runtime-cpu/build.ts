// Translation units of C → one shared library, cached on disk. The key covers
// the sources, the compiler, its flags and the CPU (-march=native), so a warm
// start never runs the compiler. Files appear atomically (temp + rename) and
// with their size and digest recorded (runtime/cache.ts): a library that does
// not match is never dlopen'ed (a truncated one dies with SIGBUS), it is built
// again.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type CacheNote, type CacheRootOptions, cacheDir as sharedCacheDir, cacheRootFromEnv, checkEntry, forgetEntry, noteRebuilt, removeAbandoned, writeEntry } from '../runtime/cache.js';
import { CCompiler, cflags, findCompiler, run, toolchainKey } from './cc.js';
import { KernelCompileError } from './errors.js';

export interface BuiltLibrary {
  readonly path: string;
  /** Translation units compiled by this call (0 on a cache hit). */
  readonly compiled: number;
  readonly cached: boolean;
  readonly seconds: number;
}

let compilerRuns = 0;
/** How many times this process has started the C compiler (tests use it to prove a cache hit). */
export function compilerRunCount(): number { return compilerRuns; }

/** The CPU part of the kernel cache (FUSEDET_CACHE_DIR/cpu, else ~/.cache/fusedet/cpu), created. */
export function cacheDir(opts: CacheRootOptions = cacheRootFromEnv()): string {
  return sharedCacheDir('cpu', opts);
}

export function libraryKey(units: readonly string[], toolchain: string): string {
  const h = createHash('sha256').update(toolchain);
  for (const u of units) h.update(`\0unit ${u.length}\0`).update(u);
  return h.digest('hex').slice(0, 32);
}

async function compileUnits(cc: CCompiler, flags: readonly string[], units: readonly string[], work: string, failedDir: string): Promise<string[]> {
  const objects = units.map((_, i) => join(work, `unit${i}.o`));
  const queue = units.map((_, i) => i);
  const lanes = Math.max(1, Math.min(units.length, availableParallelism()));
  let failure: KernelCompileError | undefined;
  await Promise.all(Array.from({ length: lanes }, async () => {
    for (let i = queue.shift(); i !== undefined && !failure; i = queue.shift()) {
      const src = join(work, `unit${i}.c`);
      writeFileSync(src, units[i]);
      const args = [...flags, '-c', src, '-o', objects[i]];
      compilerRuns++;
      const r = await run(cc.path, args);
      if (r.code !== 0 && !failure) {
        // The work folder is removed; the rejected source is kept where the user can open it.
        const kept = join(failedDir, `${createHash('sha256').update(units[i]).digest('hex').slice(0, 16)}.c`);
        writeFileSync(kept, units[i]);
        failure = new KernelCompileError(kept, r.out.split(src).join(kept), `${cc.path} ${args.join(' ').split(src).join(kept)}`);
      }
    }
  }));
  if (failure) throw failure;
  return objects;
}

/**
 * Sources whose units are only worked out on a cache miss: `key` (the whole
 * rendering) decides the hit, so a warm start renders once and splits nothing.
 */
export interface LazyUnits {
  readonly key: string;
  units(): readonly string[];
}

/** Compiles the units in parallel (one process each) and links them into one .so, or finds it in the cache. */
export async function buildLibrary(source: readonly string[] | LazyUnits, cache: CacheRootOptions = cacheRootFromEnv(), note?: CacheNote): Promise<BuiltLibrary> {
  const t0 = performance.now();
  const cc = await findCompiler();
  const flags = cflags();
  const dir = cacheDir(cache);
  const lazy = !Array.isArray(source);
  const key = libraryKey(lazy ? [`lazy\0${(source as LazyUnits).key}`] : (source as readonly string[]), toolchainKey(cc, flags));
  const path = join(dir, `${key}.so`);
  const seconds = (): number => (performance.now() - t0) / 1000;
  const entry = checkEntry(path);
  if (entry?.ok) return { path, compiled: 0, cached: true, seconds: seconds() };
  if (entry) {
    noteRebuilt(path, entry.why, note);
    forgetEntry(path);
  }
  const units = lazy ? (source as LazyUnits).units() : (source as readonly string[]);

  removeAbandoned(dir);
  const failedDir = join(dir, 'failed');
  mkdirSync(failedDir, { recursive: true });
  const work = mkdtempSync(join(dir, `.build-${key.slice(0, 8)}-`));
  try {
    const objects = await compileUnits(cc, flags, units, work, failedDir);
    const tmp = join(work, 'lib.so');
    const link = ['-shared', ...flags.filter((f) => f !== '-c'), '-o', tmp, ...objects, '-lm'];
    compilerRuns++;
    const r = await run(cc.path, link);
    if (r.code !== 0) throw new KernelCompileError(objects.join(', '), r.out, `${cc.path} ${link.join(' ')}`);
    // The linker's output, copied into the cache atomically, its digest first (a reader never sees the library without it).
    writeEntry(path, readFileSync(tmp));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { path, compiled: units.length, cached: false, seconds: seconds() };
}
