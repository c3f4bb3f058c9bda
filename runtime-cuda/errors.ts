// Errors of the CUDA runtime that a user can cause or fix. cli/main.ts prints
// their message alone (they carry exitCode).

/** No driver, no GPU, too old a GPU, no compiler, or no addon: the CUDA runtime cannot run here. */
export class CudaUnavailable extends Error {
  readonly exitCode = 3;
  constructor(readonly reason: string) {
    super(`the CUDA runtime is not available: ${reason}`);
    this.name = 'CudaUnavailable';
  }
}

/** NVRTC or nvcc rejected generated kernels: the source is kept on disk for the user to read. */
export class CudaCompileError extends Error {
  readonly exitCode = 1;
  constructor(readonly sourcePath: string, readonly compilerMessage: string, compiler: string) {
    super(`${compiler} rejected generated CUDA kernels in ${sourcePath}\n${compilerMessage.trim().split('\n').map((l) => `  | ${l}`).join('\n')}`);
    this.name = 'CudaCompileError';
  }
}

/** A failure on the device while loading or running (launch error, out of memory, timeout). */
export class CudaRunError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'CudaRunError';
  }
}
