// The CPU runtime's settings, read from the environment once, where a runtime
// is made (CpuRuntime, loadUnits), never deep inside a load or a run.
import { totalmem } from 'node:os';
import { type CacheRootOptions, cacheRootFromEnv } from '../runtime/cache.js';
import { RuntimeError } from '../runtime/errors.js';

export interface CpuOptions {
  /** Bytes the runtime may allocate for one program: FUSEDET_CPU_MEMORY_LIMIT, else physical memory. */
  readonly memoryLimit: number;
  /** FUSEDET_DEBUG: 1 compile counts, 2 per-launch times, 4 where the rendered C is. */
  readonly debug: number;
  readonly cache: CacheRootOptions;
}

/** A setting the user gave that means nothing: refused rather than ignored. */
export class BadSetting extends RuntimeError {
  constructor(message: string) {
    super(message, 2);
  }
}

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** FUSEDET_CPU_MEMORY_LIMIT: a positive number of bytes, optionally with K, M, G or T (binary units: 800M = 800 MiB). */
export function parseMemoryLimit(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(raw);
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]) : NaN;
  if (!Number.isFinite(bytes) || bytes < 1) {
    throw new BadSetting(`FUSEDET_CPU_MEMORY_LIMIT=${raw} is not a memory size: give a positive number of bytes, e.g. 800000000 or 800M (unset it to allow all physical memory)`);
  }
  return bytes;
}

export function debugLevelOf(raw: string | undefined): number {
  const n = Number(raw ?? 0);
  return Number.isFinite(n) ? n : 0;
}

export function cpuOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): CpuOptions {
  const raw = env.FUSEDET_CPU_MEMORY_LIMIT;
  const set = raw !== undefined && raw !== '';
  return { memoryLimit: set ? parseMemoryLimit(raw) : totalmem(), debug: debugLevelOf(env.FUSEDET_DEBUG), cache: cacheRootFromEnv(env) };
}
