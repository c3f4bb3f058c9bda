// The error a user's mistake in a command line becomes. Every module's error
// class extends FusedetError (io/errors.ts); cli/dispatch.ts prints any of
// them as message + hint, without a stack, and exits with its exitCode.
import { FusedetError } from '../io/errors.js';

export { FusedetError };

export class UserError extends FusedetError {
  constructor(message: string, exitCode = 1, hint?: string) {
    super(message, hint === undefined ? { exitCode } : { exitCode, hint });
  }
}
