// Errors of the CUDA runtime that a user can cause or fix. They extend the one
// base (io/errors.ts): cli/main.ts prints their message alone.
import { RuntimeError } from '../runtime/errors.js';

/** No driver, no GPU, too old a GPU, no compiler, or no addon: the CUDA runtime cannot run here. */
export class CudaUnavailable extends RuntimeError {
  constructor(readonly reason: string) {
    super(`the CUDA runtime is not available: ${reason}`, 3);
  }
}

/** NVRTC or nvcc rejected generated kernels: the source is kept on disk for the user to read. */
export class CudaCompileError extends RuntimeError {
  constructor(readonly sourcePath: string, readonly compilerMessage: string, compiler: string) {
    super(`${compiler} rejected generated CUDA kernels in ${sourcePath}\n${compilerMessage.trim().split('\n').map((l) => `  | ${l}`).join('\n')}`);
  }
}

/** A failure on the device while loading or running (launch error, out of memory, timeout). */
export class CudaRunError extends RuntimeError {}
