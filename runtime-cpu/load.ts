// Loading C translation units: compile (or find in the cache), dlopen, and
// wrap as an Executable. Independent of the renderer, so hand-written kernels
// (tests, benchmarks) load the same way generated ones do.
import type { Program } from '../compiler/program.js';
import { LazyUnits, buildLibrary } from './build.js';
import { findCompiler } from './cc.js';
import { debugLog } from './debug.js';
import { CpuUnavailable } from './errors.js';
import { CpuExecutable } from './executable.js';
import { NativeCpu, nativeFailure, tryNativeCpu } from './native.js';

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

/** Compiles C units into a loaded executable; `load` renders them from the program. */
export async function loadUnits(program: Program, units: readonly string[] | LazyUnits): Promise<CpuExecutable> {
  const native = nativeOrThrow();
  const built = await buildLibrary(units);
  const count = Array.isArray(units) ? units.length : built.compiled;
  const lib = native.loadLibrary(built.path, program.kernels.map((k) => k.name));
  debugLog(1, `cpu: ${program.kernels.length} kernels: ${built.cached ? 'cache hit' : `${count} unit(s) compiled`}` +
    ` in ${built.seconds.toFixed(2)} s, ${native.threads()} threads`);
  return new CpuExecutable(program, native, lib, {
    compiled: built.compiled, cached: built.cached ? 1 : 0, kernels: program.kernels.length, seconds: built.seconds,
  });
}

