// The API's errors: one class per thing a caller can get wrong or lack, all
// extending FusedetError (io/errors.ts), so `instanceof FusedetError` catches
// every one and `instanceof ImageInputError` tells a bad image from bad
// weights. Messages name the file or input and say what to do.
import { FusedetError } from '../io/errors.js';

export { FusedetError };

/** An image that cannot be read or decoded, or an input of an unknown kind or shape. */
export class ImageInputError extends FusedetError {}

/** Weights that are missing, damaged, or of another model. */
export class WeightsError extends FusedetError {}

/** A config, model source or program file that cannot be used. */
export class ModelError extends FusedetError {}

/** The runtime asked for cannot start here (no driver, no adapter, no C compiler, no WebGPU in this browser). */
export class RuntimeUnavailableError extends FusedetError {}

/** detect() after dispose(). */
export class DisposedError extends FusedetError {}

/** Wraps an internal error as the API class for it, keeping message, hint, exit code and cause. */
export function as<T extends FusedetError>(Kind: new (message: string, opts?: { exitCode?: number; hint?: string; cause?: unknown }) => T, e: unknown, prefix = ''): T | Error {
  if (e instanceof Kind) return e;
  if (!(e instanceof Error)) return new Kind(prefix + String(e));
  const hint = (e as { hint?: string }).hint;
  const exitCode = (e as { exitCode?: number }).exitCode;
  return new Kind(prefix + e.message, { cause: e, ...(hint ? { hint } : {}), ...(typeof exitCode === 'number' ? { exitCode } : {}) });
}
