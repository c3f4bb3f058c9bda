// Errors the WebGPU runtime raises for conditions a user can meet (no adapter,
// a shader the device rejects, a buffer over the device's limits, a lost
// device, a GPU call that never answers). They extend the one base
// (io/errors.ts, through runtime/errors.ts), so the CLI prints the message alone.
import { RuntimeError } from '../runtime/errors.js';

export class WebGpuError extends RuntimeError {}

/** No usable WebGPU here; `reason` says why and what to install or set. */
export class WebGpuUnavailable extends WebGpuError {
  constructor(readonly reason: string) {
    super(`WebGPU is not available: ${reason}`);
  }
}

/** The device rejected a kernel's WGSL; the message lists file:line:col per diagnostic. */
export class ShaderCompileError extends WebGpuError {
  constructor(message: string, readonly kernel: string, readonly sourcePath: string | undefined) {
    super(message);
  }
}

/** A buffer or a dispatch over what the device allows. */
export class DeviceLimitError extends WebGpuError {
  constructor(message: string) {
    super(message);
  }
}

export class DeviceLostError extends WebGpuError {
  constructor(detail: string) {
    super(`the WebGPU device was lost: ${detail}`);
  }
}

export class GpuTimeoutError extends WebGpuError {
  constructor(what: string, ms: number) {
    super(`WebGPU: ${what} did not finish within ${ms} ms (set FUSEDET_GPU_TIMEOUT_MS to wait longer)`);
  }
}

/**
 * Awaits `p` but gives up after `ms`, and fails at once if `lost` settles
 * first: a GPU promise may never resolve once the device is gone.
 */
export async function guarded<T>(p: Promise<T>, what: string, ms: number, lost?: Promise<never>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GpuTimeoutError(what, ms)), ms);
  });
  try {
    return await Promise.race(lost ? [p, timeout, lost] : [p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
