// The one error type a user's mistake becomes at the CLI boundary. Modules may
// define their own (DiagnosticsError, DataError...): cli/main.ts treats any
// Error with a numeric exitCode the same way, printing only its message.
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}
