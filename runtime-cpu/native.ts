// The CPU half of fusedet's native addon (native/cpu_*.cc), typed. The addon
// is built by `npm install` through binding.gyp into build/Release.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** An opaque handle on a dlopen'ed kernel library. */
export type NativeLibrary = { readonly __nativeLibrary: unique symbol };

export interface NativeCpu {
  /** dlopen(path); kernel i of the result is the symbol symbols[i]. */
  loadLibrary(path: string, symbols: readonly string[]): NativeLibrary;
  /**
   * Runs every launch of the plan in order on the thread pool and returns when
   * the last has finished. plan = [count, then per launch: kernel, grid,
   * nbufs, nargs, buffer ids..., args...]; buffers are used in place.
   */
  runLaunches(lib: NativeLibrary, plan: BigInt64Array, buffers: readonly (ArrayBuffer | ArrayBufferView | null)[]): void;
  /** A zeroed ArrayBuffer aligned to 64 bytes. */
  alloc(bytes: number): ArrayBuffer;
  threads(): number;
  /** Replaces the pool; FUSEDET_THREADS sets the initial count. */
  setThreads(n: number): void;
}

const addonPath = fileURLToPath(new URL('../../build/Release/fusedet_native.node', import.meta.url));

let cached: NativeCpu | undefined;
let failure: string | undefined;

/** The addon, or undefined with nativeFailure() saying why. */
export function tryNativeCpu(): NativeCpu | undefined {
  if (cached || failure) return cached;
  if (!existsSync(addonPath)) {
    failure = `the native addon is not built (${addonPath} is missing): run \`npm install\` in the fusedet folder (it needs a C++ compiler: apt-get install build-essential)`;
    return undefined;
  }
  try {
    cached = createRequire(import.meta.url)(addonPath) as NativeCpu;
  } catch (e) {
    failure = `the native addon at ${addonPath} does not load (${(e as Error).message}): rebuild it with \`npx node-gyp rebuild\``;
  }
  return cached;
}

export function nativeFailure(): string | undefined {
  tryNativeCpu();
  return failure;
}
