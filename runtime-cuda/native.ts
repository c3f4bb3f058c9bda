// The CUDA half of fusedet's native addon (native/cuda/*.cc, a module of its
// own: build/Release/fusedet_cuda.node), typed. It links nothing from CUDA,
// so it builds and loads everywhere; the driver is opened on demand.
import { nativeAddon } from '../runtime/addon.js';

/** An opaque handle on a loaded CUDA module. */
export type CudaModule = { readonly __cudaModule: unique symbol };
/** An opaque handle on an instantiated CUDA graph (a captured launch list). */
export type CudaGraph = { readonly __cudaGraph: unique symbol };

export interface DeviceInfo {
  readonly name: string;
  /** Compute capability as major*10 + minor (90 for sm_90). */
  readonly cc: number;
  /** CUDA version the driver supports, major*1000 + minor*10. */
  readonly driverVersion: number;
  readonly multiprocessors: number;
  readonly totalBytes: number;
  readonly libcuda: string;
  /** Context generation: bumped when the context is reset after a fatal error. */
  readonly generation: number;
}

export interface KernelInfo { readonly registers: number; readonly localBytes: number; readonly maxThreads: number }

export interface RunOptions { readonly timeoutMs: number; readonly timing: boolean; readonly syncEach: boolean }
/** [device pointer, host view]: the copy direction is given by the list it is in. */
export type HostCopy = readonly [bigint, ArrayBufferView];

export interface NativeCuda {
  /** Loads libcuda (loader path, then `paths`), initialises it, opens device `index` if its compute capability is >= minCC. */
  open(paths: readonly string[], index: number, minCC: number): DeviceInfo;
  /** Loads NVRTC from the first path that works (its builtins first). */
  nvrtc(paths: readonly string[]): { path: string; version: number; archs?: number[] };
  /** Compiles one translation unit to a cubin, or to NUL-terminated PTX when `ptx`. */
  nvrtcCompile(source: string, fileName: string, options: readonly string[], ptx?: boolean): { image: Uint8Array; log: string };
  loadModule(image: Uint8Array, names: readonly string[]): CudaModule;
  /** Per kernel: registers and local memory (spills) per thread, and the largest block those registers allow. */
  kernelInfo(module: CudaModule): KernelInfo[];
  /** A zeroed device allocation. */
  alloc(bytes: number): bigint;
  /** Frees `ptr` if it belongs to context `generation` (pointers die with a reset context). */
  free(ptr: bigint, generation: number): void;
  /** Zeroes a block, ordered on the stream before later launches. */
  zero(ptr: bigint, bytes: number): void;
  memInfo(): { free: number; total: number };
  copy(uploads: readonly HostCopy[], downloads: readonly HostCopy[], timeoutMs: number): void;
  /**
   * Uploads, runs every launch of `plan` on one stream, downloads, then waits
   * once. plan = [count, per launch: kernel, grid, block, nbufs, nargs, slot
   * ids..., args...]; slots[i] is the device pointer of slot i. Returns
   * per-launch milliseconds when timing.
   */
  run(module: CudaModule, plan: BigInt64Array, slots: BigInt64Array, uploads: readonly HostCopy[], downloads: readonly HostCopy[], options: RunOptions): Float64Array | undefined;
  /**
   * Records (does not run) every launch of `plan` into a CUDA graph and
   * instantiates it. Parameters are captured by value: the graph is valid
   * for exactly this plan and these slot pointers.
   */
  captureGraph(module: CudaModule, plan: BigInt64Array, slots: BigInt64Array): CudaGraph;
  /**
   * Uploads, one graph launch, downloads, one wait. An error raised before
   * the graph was queued has `notLaunched: true`: nothing ran.
   */
  runGraph(graph: CudaGraph, uploads: readonly HostCopy[], downloads: readonly HostCopy[], options: Pick<RunOptions, 'timeoutMs'>): void;
  /** Frees a graph now (idempotent); otherwise garbage collection does. */
  destroyGraph(graph: CudaGraph): void;
  generation(): number;
}

// It links nothing from CUDA, so a missing driver is found when a device is opened, not here.
const addon = nativeAddon<NativeCuda>('fusedet_cuda.node', 'CUDA part of the native addon');

export function tryNativeCuda(): NativeCuda | undefined { return addon.get(); }

export function nativeCudaFailure(): string | undefined { return addon.failure(); }
