// The compile options the environment sets, read once at the edge (the CLI,
// runtime selection, bench drivers): the compiler itself never reads
// process.env. What a program is compiled *for* is the runtime's own target
// (Runtime.target), not something guessed here.
import type { CompileOptions } from '../compiler/program.js';

/** FUSEDET_DEBUG (3 and up: the fusion groups) into CompileOptions.debug. */
export function compileOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env, base: CompileOptions = {}): CompileOptions {
  const debug = Number(env.FUSEDET_DEBUG ?? 0);
  return { ...base, ...(Number.isFinite(debug) && debug > 0 ? { debug } : {}) };
}
