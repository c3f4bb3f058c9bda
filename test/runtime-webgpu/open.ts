// Opens the Node WebGPU runtime once per test file, or prints why not: files
// then register their tests with test.skip so the absence is counted.
// Only WebGpuUnavailable skips, and not under FUSEDET_REQUIRE_WEBGPU=1.
import { createNodeWebGpu } from '../../runtime-webgpu/node.js';
import type { WebGpuRuntime } from '../../runtime-webgpu/core.js';
import type { WebGpuOptions } from '../../runtime-webgpu/core.js';
import { WebGpuUnavailable } from '../../runtime-webgpu/errors.js';
import { requireRuntime } from '../../runtime/select.js';

export async function openOrSkip(file: string, opts: WebGpuOptions = {}): Promise<WebGpuRuntime | undefined> {
  try {
    return await createNodeWebGpu(opts);
  } catch (e) {
    if (!(e instanceof WebGpuUnavailable)) throw e;
    requireRuntime('webgpu', e.reason);
    console.log(`SKIP ${file}: ${e.reason}`);
    return undefined;
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Awaits `fn()` and checks it rejects with an error matching `want` (uvu has no async throws). */
export async function rejects(fn: () => Promise<unknown>, want: RegExp | ((e: unknown) => boolean)): Promise<void> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error('expected a rejection, got none');
  const ok = want instanceof RegExp ? err instanceof Error && want.test(err.message) : want(err);
  if (!ok) throw new Error(`rejection did not match ${String(want)}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
}
