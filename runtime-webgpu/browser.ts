// Browser entry: WebGPU from navigator.gpu. No shader dumps (there is no
// file system): a rejected kernel's message carries Dawn's diagnostics with
// the offending lines instead.
import { WebGpuRuntime, type WebGpuOptions } from './core.js';
import { WebGpuUnavailable } from './errors.js';

export async function createBrowserWebGpu(opts: WebGpuOptions = {}): Promise<WebGpuRuntime> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!nav) throw new WebGpuUnavailable('no navigator object: this entry is for browsers (use runtime-webgpu/node.js in Node)');
  if (!nav.gpu) throw new WebGpuUnavailable('navigator.gpu is missing: the browser has WebGPU disabled or the page is not a secure context (https or localhost)');
  return WebGpuRuntime.create(nav.gpu, { adapterHint: 'the browser offers no WebGPU adapter (chromium: --enable-unsafe-webgpu; on a machine without GPU add --use-webgpu-adapter=swiftshader)', ...opts });
}
