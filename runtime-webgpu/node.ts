// Node entry: WebGPU from the `webgpu` package (Dawn), on SwiftShader's
// Vulkan ICD where no GPU driver is configured. The object `create()`
// returns stays referenced for the whole process: Dawn may crash at exit if
// it is collected while devices live.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { WebGpuRuntime, type WebGpuOptions } from './core.js';
import { WebGpuUnavailable } from './errors.js';
import { writeFileAtomicSync } from '../io/files.js';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const VULKAN_LOADERS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];

let gpuInstance: GPU | undefined;

/** Why there may be no adapter on this machine, for the error message. */
function environmentHint(): string {
  const hints: string[] = [];
  const icd = process.env.VK_ICD_FILENAMES;
  if (process.platform === 'linux') {
    if (!icd) hints.push(`VK_ICD_FILENAMES is unset and ${SWIFTSHADER_ICD} does not exist (apt-get install chromium provides SwiftShader)`);
    else if (icd.split(':').some((f) => !existsSync(f))) hints.push(`VK_ICD_FILENAMES=${icd} names a file that does not exist (apt-get install chromium provides ${SWIFTSHADER_ICD})`);
    if (!VULKAN_LOADERS.some((f) => existsSync(f))) hints.push('the Vulkan loader libvulkan.so.1 is missing (apt-get install libvulkan1)');
  }
  return hints.join('; ');
}

/**
 * SwiftShader's Vulkan driver links libwayland-client, which prints
 * `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` when
 * a Wayland connection is attempted without that variable (a headless
 * shell, CI, cron), although nothing is wrong: fusedet never presents to a
 * display. Where it is unset or not an absolute path to a folder, point it
 * at a private folder of our own (mode 0700, as the XDG spec asks) so the
 * library has nothing to complain about. Returns the folder set, if any.
 */
export function runtimeDirForDawn(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const cur = env.XDG_RUNTIME_DIR;
  if (cur && isAbsolute(cur) && isDir(cur)) return undefined;
  const dir = join(tmpdir(), `fusedet-runtime-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  env.XDG_RUNTIME_DIR = dir;
  return dir;
}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

async function nodeGpu(): Promise<GPU> {
  if (gpuInstance) return gpuInstance;
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  runtimeDirForDawn();
  let mod: { create(flags: string[]): GPU; globals: object };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch (e) {
    throw new WebGpuUnavailable(`the 'webgpu' package (Dawn for Node) could not be loaded: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}; run npm install`);
  }
  // Zero-filling workgroup memory is what WebGPU promises, but no fusedet
  // kernel reads workgroup memory before writing it (the C and CUDA
  // renderings leave it uninitialised too), and on SwiftShader the zeroing
  // code made a conv kernel with an 18 KiB panel take 10 s to build instead
  // of 0.7 s. FUSEDET_DAWN_FEATURES adds toggles (a benchmark may turn off
  // robustness: disable_robustness,skip_validation).
  const features = ['disable_workgroup_init', ...(process.env.FUSEDET_DAWN_FEATURES ?? '').split(',').filter((f) => f)];
  gpuInstance = mod.create([`enable-dawn-features=${features.join(',')}`]);
  return gpuInstance;
}

/** Writes a rejected kernel's WGSL to a temporary file and returns its path. */
function dumpSource(name: string, hash: string, source: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]/g, '_');
  const path = join(tmpdir(), 'fusedet-wgsl', `${safe}-${hash.slice(0, 12).replace(/[^A-Za-z0-9]/g, '_')}.wgsl`);
  // A debugging aid: atomic (a reader never sees half a file), not fsynced.
  writeFileAtomicSync(path, source, { what: 'rejected kernel source', durable: false });
  return path;
}

export function nodeOptions(): WebGpuOptions {
  return {
    debug: Number(process.env.FUSEDET_DEBUG) || 0,
    timeoutMs: Number(process.env.FUSEDET_GPU_TIMEOUT_MS) || undefined,
    log: (line) => process.stderr.write(line + '\n'),
    dumpSource,
  };
}

/** A WebGPU runtime on this machine, or WebGpuUnavailable saying why not. */
export async function createNodeWebGpu(opts: WebGpuOptions = {}): Promise<WebGpuRuntime> {
  const gpu = await nodeGpu();
  return WebGpuRuntime.create(gpu, { ...nodeOptions(), ...opts, adapterHint: opts.adapterHint ?? environmentHint() });
}

export interface WebGpuProbe {
  /** Why WebGPU cannot run here; undefined when it can. */
  readonly unavailable?: string;
  /** The adapter is a CPU implementation (SwiftShader). */
  readonly software?: boolean;
  /** With `software`: why `--runtime auto` passes it over. */
  readonly softwareOnly?: string;
}

/** Whether WebGPU can run here (only WebGpuUnavailable counts as "cannot"; any other error is thrown). */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  let rt: WebGpuRuntime;
  try {
    rt = await createNodeWebGpu();
  } catch (e) {
    if (e instanceof WebGpuUnavailable) return { unavailable: e.reason };
    throw e;
  }
  const { software, description } = rt.gpu;
  rt.destroy();
  return software ? { software, softwareOnly: `only a software adapter (${description}); slower than the CPU runtime (ask for it with --runtime webgpu)` } : {};
}

/**
 * Undefined when WebGPU can run here, else the reason.
 * With `hardwareOnly` (what `--runtime auto` wants) a software adapter such
 * as SwiftShader counts as unavailable: it is correct, but the CPU runtime
 * is much faster on the same cores.
 */
export async function webGpuUnavailableReason(opts: { hardwareOnly?: boolean } = {}): Promise<string | undefined> {
  const p = await probeWebGpu();
  return p.unavailable ?? (opts.hardwareOnly && p.software ? p.softwareOnly : undefined);
}
