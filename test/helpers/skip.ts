// Skips are decided when a file registers its tests, never inside a test: a
// test that returns early because a runtime is missing would count as
// passed. Only a runtime's own "cannot run here" error (CpuUnavailable,
// WebGpuUnavailable, NoRuntime naming the probe's reason) skips; any other
// error propagates and fails the file. FUSEDET_REQUIRE_<RUNTIME>=1 turns the
// absence into a failure (runtime/select.ts). Each skipped test prints
// `SKIP <test name>: <reason>`, which tools/run-tests.mjs lists at the end.
import { test } from 'uvu';
import type { Runtime } from '../../runtime/interface.js';
import { NoRuntime, requireRuntime, selectRuntime } from '../../runtime/select.js';
import { CpuUnavailable } from '../../runtime-cpu/errors.js';
import { WebGpuUnavailable } from '../../runtime-webgpu/errors.js';
import { CudaUnavailable } from '../../runtime-cuda/errors.js';
import type { WebGpuOptions, WebGpuRuntime } from '../../runtime-webgpu/core.js';

type Body = Parameters<typeof test>[1];
export type Register = (name: string, fn: Body) => void;

/** `test` when `reason` is undefined; otherwise registers the test as skipped and prints why. */
export function testUnless(reason: string | undefined, registrar: Register = test): Register {
  if (reason === undefined) return registrar;
  return (name, fn) => {
    console.log(`SKIP ${name}: ${reason}`);
    test.skip(name, fn);
  };
}

/** A runtime, or the one-line reason it cannot run here. */
export interface Gate<R> { readonly runtime?: R; readonly reason?: string; readonly test: Register }

/** The CPU runtime, or why it cannot run here (only its own unavailability; other errors throw). */
export async function cpuOrSkip(): Promise<Gate<Runtime>> {
  try {
    const runtime = (await selectRuntime('cpu')).runtime;
    return { runtime, test };
  } catch (e) {
    const reason = unavailableReason(e);
    if (reason === undefined) throw e;
    requireRuntime('cpu', reason);
    return { reason, test: testUnless(reason) };
  }
}

/** The Node WebGPU runtime, or why it cannot run here (FUSEDET_REQUIRE_WEBGPU=1: a failure instead). */
export async function webGpuOrSkip(opts: WebGpuOptions = {}): Promise<Gate<WebGpuRuntime>> {
  const { createNodeWebGpu } = await import('../../runtime-webgpu/node.js');
  try {
    return { runtime: await createNodeWebGpu(opts), test };
  } catch (e) {
    if (!(e instanceof WebGpuUnavailable)) throw e;
    requireRuntime('webgpu', e.reason);
    return { reason: e.reason, test: testUnless(e.reason) };
  }
}

/** The reason of a runtime's own "cannot run here" error, else undefined (a real failure). */
export function unavailableReason(e: unknown): string | undefined {
  if (e instanceof NoRuntime) return e.probes.map((p) => `${p.name}: ${p.unavailable}`).join('; ');
  if (e instanceof CpuUnavailable || e instanceof WebGpuUnavailable || e instanceof CudaUnavailable) return e.reason;
  return undefined;
}
