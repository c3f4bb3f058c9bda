// Loading C translation units: compile (or find in the cache), dlopen, and
// wrap as an Executable. Independent of the renderer, so hand-written kernels
// (tests, benchmarks) load the same way generated ones do.
import type { Program } from '../compiler/program.js';
import { forgetEntry, noteRebuilt } from '../runtime/cache.js';
import { LazyUnits, buildLibrary } from './build.js';
import { findCompiler } from './cc.js';
import { CpuUnavailable, KernelLoadError } from './errors.js';
import { CpuExecutable } from './executable.js';
import { NativeCpu, NativeLibrary, nativeFailure, tryNativeCpu } from './native.js';
import { type CpuOptions, cpuOptionsFromEnv } from './options.js';

/** Why the CPU runtime cannot run here, or undefined when it can. */
export async function probeCpu(): Promise<string | undefined> {
  const failure = nativeFailure();
  if (failure) return failure;
  try {
    await findCompiler();
  } catch (e) {
    return (e as CpuUnavailable).reason ?? (e as Error).message;
  }
  return undefined;
}

export function nativeOrThrow(): NativeCpu {
  const native = tryNativeCpu();
  if (!native) throw new CpuUnavailable(nativeFailure() ?? 'the native addon did not load');
  return native;
}

/**
 * Compiles C units into a loaded executable; `load` renders them from the
 * program. `opts` is read from the environment here when the caller (a test,
 * a benchmark) has no runtime that read it already.
 */
export async function loadUnits(program: Program, units: readonly string[] | LazyUnits, opts: CpuOptions = cpuOptionsFromEnv()): Promise<CpuExecutable> {
  const native = nativeOrThrow();
  let built = await buildLibrary(units, opts.cache);
  let lib: NativeLibrary;
  const symbols = program.kernels.map((k) => k.name);
  try {
    lib = native.loadLibrary(built.path, symbols);
  } catch (e) {
    // A cached library that matches its digest yet does not load (written by
    // another machine's compiler into a shared folder, say): built once more.
    if (!built.cached) throw new KernelLoadError(`the compiled kernels in ${built.path} do not load: ${(e as Error).message}`);
    noteRebuilt(built.path, (e as Error).message);
    forgetEntry(built.path);
    built = await buildLibrary(units, opts.cache);
    try {
      lib = native.loadLibrary(built.path, symbols);
    } catch (e2) {
      throw new KernelLoadError(`the compiled kernels in ${built.path} do not load: ${(e2 as Error).message}`);
    }
  }
  const count = Array.isArray(units) ? units.length : built.compiled;
  if (opts.debug >= 1) {
    process.stderr.write(`[fusedet] cpu: ${program.kernels.length} kernels: ${built.cached ? 'cache hit' : `${count} unit(s) compiled`}` +
      ` in ${built.seconds.toFixed(2)} s, ${native.threads()} threads\n`);
  }
  return new CpuExecutable(program, native, lib, {
    compiled: built.compiled, cached: built.cached ? 1 : 0, kernels: program.kernels.length, seconds: built.seconds,
  }, opts);
}
