// Errors of the CPU runtime that a user can cause or fix. They extend the one
// base (io/errors.ts): cli/main.ts prints their message alone.
import { RuntimeError, formatBytes } from '../runtime/errors.js';

/** No C compiler or no native addon: the CPU runtime cannot run here. */
export class CpuUnavailable extends RuntimeError {
  constructor(readonly reason: string) {
    super(`the CPU runtime is not available: ${reason}`, 3);
  }
}

/** The C compiler refused a translation unit: the source is kept on disk for the user to read. */
export class KernelCompileError extends RuntimeError {
  constructor(readonly sourcePath: string, readonly compilerMessage: string, command: string) {
    super(`the C compiler rejected generated kernels in ${sourcePath}\n  command: ${command}\n${indent(compilerMessage.trim())}`);
  }
}

/** A compiled kernel library that the dynamic loader refuses even after a fresh build. */
export class KernelLoadError extends RuntimeError {}

/**
 * A buffer the program needs does not fit in what this machine may
 * allocate (or the allocation failed): names the buffer, the bytes that
 * failed and the program's total. exitCode 1: `fusedet train` prints it alone.
 */
export class BufferTooLarge extends RuntimeError {
  constructor(readonly bytes: number, readonly limit: number, what: string, needs?: string) {
    super(`cannot allocate ${what}: ${formatBytes(bytes)} (${bytes} bytes) exceeds the ${formatBytes(limit)} this machine allows` +
      `${needs ? `; ${needs}` : ''} (set FUSEDET_CPU_MEMORY_LIMIT to change the limit, or use a smaller batch or image size)`);
  }
}

export { InputMismatch, formatBytes } from '../runtime/errors.js';

function indent(s: string): string {
  return s.split('\n').map((l) => `  | ${l}`).join('\n');
}
