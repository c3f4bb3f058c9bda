// Errors and formatting shared by the runtimes.

/** A run() input (or setParams tensor) that does not match the program. */
export class InputMismatch extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputMismatch';
  }
}

// One byte formatter for reports and error messages alike.
export { formatBytes } from '../compiler/summary.js';
