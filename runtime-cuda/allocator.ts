// A caching device allocator: cuMemAlloc/cuMemFree synchronise the device
// and cost ~0.1-1 ms, so blocks of a disposed executable are kept, by rounded
// size, for the next load (a CLI run that loads a forward and then a training
// step, tests that load many programs). The buffer planner already shares
// memory among temporaries inside one program; this reuses it across programs.
import { formatBytes } from '../runtime/errors.js';
import { CudaRunError } from './errors.js';
import type { NativeCuda } from './native.js';

export interface Block { readonly ptr: bigint; readonly size: number; readonly generation: number }

/** Small blocks in powers of two, large ones in 2 MiB steps, so near sizes share a bucket without wasting much. */
export function roundSize(bytes: number): number {
  const MiB2 = 2 * 1024 * 1024;
  if (bytes <= 512) return 512;
  if (bytes < MiB2) return 2 ** Math.ceil(Math.log2(bytes));
  return Math.ceil(bytes / MiB2) * MiB2;
}

export class DeviceAllocator {
  private readonly cached = new Map<number, Block[]>();
  private cachedBytes = 0;
  liveBytes = 0;

  constructor(private readonly native: NativeCuda) {}

  /**
   * A zeroed block of at least `bytes`; `what` names the buffer in an
   * out-of-memory error, and `programBytes` (when given) what the whole
   * program needs, so the user knows how far off the GPU is.
   */
  acquire(bytes: number, what: string, programBytes?: number): Block {
    const size = roundSize(bytes);
    const generation = this.native.generation();
    const list = this.cached.get(size);
    const reused = list?.pop();
    if (reused) this.cachedBytes -= size;
    if (reused && reused.generation === generation) {
      this.liveBytes += size;
      this.native.zero(reused.ptr, size);
      return reused;
    }
    let ptr: bigint;
    try {
      ptr = this.native.alloc(size);
    } catch (first) {
      // Cached blocks may be what is missing: give them back and try once more.
      if (this.cachedBytes === 0) throw this.oom(first as Error, bytes, what, programBytes);
      this.trim();
      try {
        ptr = this.native.alloc(size);
      } catch (second) {
        throw this.oom(second as Error, bytes, what, programBytes);
      }
    }
    this.liveBytes += size;
    return { ptr, size, generation };
  }

  release(block: Block): void {
    this.liveBytes -= block.size;
    if (block.generation !== this.native.generation()) return; // died with its context
    const list = this.cached.get(block.size) ?? [];
    list.push(block);
    this.cached.set(block.size, list);
    this.cachedBytes += block.size;
  }

  /** Frees every cached block. */
  trim(): void {
    for (const list of this.cached.values()) for (const b of list) this.native.free(b.ptr, b.generation);
    this.cached.clear();
    this.cachedBytes = 0;
  }

  private oom(e: Error, bytes: number, what: string, programBytes?: number): CudaRunError {
    const whole = programBytes === undefined ? '' : `; the program needs ${formatBytes(programBytes)} in all`;
    return new CudaRunError(`cannot allocate ${what} on the GPU (${formatBytes(bytes)}; ${formatBytes(this.liveBytes)} already held by fusedet${whole}): ${e.message}. Use a smaller batch or image size`);
  }
}

let shared: DeviceAllocator | undefined;

/** One allocator per process, like the device it serves. */
export function deviceAllocator(native: NativeCuda): DeviceAllocator {
  shared ??= new DeviceAllocator(native);
  return shared;
}
