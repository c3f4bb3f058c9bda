// The one base class for errors a user can cause (a bad path, a damaged file,
// a wrong option, a model that does not check). The CLI prints such an error's
// message (and its hint, if any) without a stack and exits with its exitCode;
// any other exception is a bug in fusedet and keeps its stack.
//
// Every module's own error class (DataError, DiagnosticsError, TrainError,
// CheckpointError, the runtime errors...) extends this one, so `instanceof
// FusedetError` is the whole test at the CLI boundary.
export interface FusedetErrorOptions {
  /** Process exit code (default 1; 2 is a usage error). */
  exitCode?: number;
  /** One line on what to do about it, printed after the message as "hint: ...". */
  hint?: string;
  /** The underlying error (e.g. the fs error), kept for debugging. */
  cause?: unknown;
}

export class FusedetError extends Error {
  readonly exitCode: number;
  readonly hint?: string;
  constructor(message: string, opts: FusedetErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? 1;
    if (opts.hint !== undefined) this.hint = opts.hint;
  }
}

/**
 * True for a FusedetError, and for any Error that carries a numeric exitCode
 * (classes outside the project's tree, older code not yet moved to the base).
 */
export function isUserFacing(e: unknown): e is Error & { exitCode: number; hint?: string } {
  return e instanceof FusedetError || (e instanceof Error && typeof (e as { exitCode?: unknown }).exitCode === 'number');
}

/** The text the CLI prints for a user-facing error: the message, then "hint: ..." if there is one not already in it. */
export function formatUserError(e: Error & { hint?: string }): string {
  let text = e.message.endsWith('\n') ? e.message : e.message + '\n';
  if (e.hint && !e.message.includes(e.hint)) text += `hint: ${e.hint}\n`;
  return text;
}
