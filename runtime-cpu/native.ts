// The CPU half of fusedet's native addon (native/cpu_*.cc), typed. The addon
// is built by `npm install` through binding.gyp into build/Release.
import { nativeAddon } from '../runtime/addon.js';

/** An opaque handle on a dlopen'ed kernel library. */
export type NativeLibrary = { readonly __nativeLibrary: unique symbol };

export interface NativeCpu {
  /** dlopen(path); kernel i of the result is the symbol symbols[i]. */
  loadLibrary(path: string, symbols: readonly string[]): NativeLibrary;
  /**
   * Runs every launch of the plan on the thread pool and returns when all
   * have finished. plan = [count, then per launch: kernel, grid, nbufs,
   * nargs, buffer ids..., args...]; buffers are used in place. schedule
   * (runtime-cpu/plan.ts scheduleLaunches), one entry per launch: bit 0 =
   * wait for every earlier launch first, entry >> 1 = length of the serial
   * run it starts; without it each launch waits for the one before.
   */
  runLaunches(lib: NativeLibrary, plan: BigInt64Array, buffers: readonly (ArrayBuffer | ArrayBufferView | null)[], schedule?: Int32Array): void;
  /**
   * An ArrayBuffer aligned to 64 bytes, zeroed unless zero is false (the
   * caller overwrites all of it). Buffers of 64 KiB and more are recycled
   * when collected (native/cpu_addon.cc says why): alloc of the same size
   * reuses memory already faulted in.
   */
  alloc(bytes: number, zero?: boolean): ArrayBuffer;
  /** The recycled buffers waiting for reuse, and how many allocations reused one. */
  recycled(): { blocks: number; bytes: number; reused: number; cap: number };
  threads(): number;
  /** Replaces the pool; FUSEDET_THREADS sets the initial count. */
  setThreads(n: number): void;
}

const addon = nativeAddon<NativeCpu>('fusedet_native.node', 'native addon');

/** The addon, or undefined with nativeFailure() saying why. */
export function tryNativeCpu(): NativeCpu | undefined { return addon.get(); }

export function nativeFailure(): string | undefined { return addon.failure(); }
