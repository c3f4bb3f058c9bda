// Errors and formatting shared by the runtimes. Every runtime error extends
// FusedetError (io/errors.ts): the CLI prints its message alone and exits with
// its exitCode. No Node imports: the browser's WebGPU runtime uses this file.
import { FusedetError } from '../io/errors.js';

/** A runtime failure a user can meet (a disposed executable, a malformed program, a device error). exitCode 1 unless stated. */
export class RuntimeError extends FusedetError {
  constructor(message: string, exitCode = 1) {
    super(message, { exitCode });
  }
}

/** A run() input (or setParams tensor) that does not match the program. */
export class InputMismatch extends RuntimeError {
  constructor(message: string) {
    super(message, 2);
  }
}

// One byte formatter for reports and error messages alike.
export { formatBytes } from '../compiler/summary.js';
import { formatBytes } from '../compiler/summary.js';

/** How out-of-memory messages name a planned buffer: role, id and name ("param buffer 12 'net.stem.conv.weight'", "temp buffer 40"). */
export function describeBuffer(b: { readonly id: number; readonly role: string; readonly name?: string }): string {
  return `${b.role} buffer ${b.id}${b.name ? ` '${b.name}'` : ''}`;
}

/** What every runtime's out-of-memory message states: the whole program's planned total (Program.peakBytes). */
export function programNeeds(program: { readonly peakBytes: number; readonly buffers: readonly unknown[] }): string {
  return `the program needs ${formatBytes(program.peakBytes)} (${program.peakBytes} bytes) in ${program.buffers.length} buffers`;
}
