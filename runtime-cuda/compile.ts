// CUDA source → cubin for the open GPU: NVRTC in process when it is found,
// else `nvcc --cubin` in a child process. Cubins are cached on disk under a
// key of the source, the architecture, the compiler and its options, so a
// warm start compiles nothing. Files appear atomically (temp + rename) with
// their size and digest recorded, and are checked before the driver sees them
// (runtime/cache.ts, shared with the CPU runtime's libraries).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CacheRootOptions, cacheDir as sharedCacheDir, cacheRootFromEnv, checkEntry, forgetEntry, noteRebuilt, writeEntry } from '../runtime/cache.js';
import { debugLog } from '../runtime-cpu/debug.js';
import { CudaCompileError, CudaUnavailable } from './errors.js';
import { findNvcc, findNvrtc } from './find.js';
import type { NativeCuda } from './native.js';
import { type CompileTarget, compileTarget, parseGpuCodes, targetName } from './target.js';

export interface CompilerChoice {
  /** `nvrtc 13.0 (/path)` or `nvcc 13.0 (/path)`: part of the cache key. */
  readonly id: string;
  readonly kind: 'nvrtc' | 'nvcc';
  /** CUDA version, major*1000 + minor*10. */
  readonly version: number;
  /** The real architectures (sm_XX as 90) it builds cubins for; empty when it cannot say. */
  readonly archs: readonly number[];
  /** A cubin, or NUL-terminated PTX, for `target` (a bare capability: its cubin). */
  compile(source: string, target: CompileTarget | number): Promise<Uint8Array>;
}

const asTarget = (t: CompileTarget | number): CompileTarget => (typeof t === 'number' ? { kind: 'cubin', arch: t } : t);

/** Full IEEE f32 (no fast math) so results match the CPU runtime; C++17 for the generated helpers. */
const OPTIONS = ['-std=c++17', '--fmad=true'];

export function nvccVersion(path: string): number | undefined {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  const m = (r.stdout ?? '').match(/release (\d+)\.(\d+)/);
  return m ? Number(m[1]) * 1000 + Number(m[2]) * 10 : undefined;
}

/** `nvcc --list-gpu-code` (CUDA 11.4+); empty when this nvcc cannot list them. */
export function nvccArchs(path: string): number[] {
  const r = spawnSync(path, ['--list-gpu-code'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? parseGpuCodes(r.stdout ?? '') : [];
}

/**
 * NVRTC if one loads and the driver can load its cubins (same CUDA major
 * version or older), else nvcc under the same rule; CudaUnavailable naming
 * everything that was missing otherwise.
 */
export function chooseCompiler(native: NativeCuda, driverVersion: number, env: NodeJS.ProcessEnv = process.env): CompilerChoice {
  const notes: string[] = [];
  const tooNew = (v: number): boolean => Math.floor(v / 1000) > Math.floor(driverVersion / 1000);
  const search = findNvrtc(env);
  if (search.badEnv) notes.push(`NVRTC: ${search.badEnv}`);
  else if (search.candidates.length === 0) notes.push(`NVRTC: no libnvrtc.so* found (searched: ${search.searched.join(', ')}; set FUSEDET_NVRTC_DIR)`);
  else {
    try {
      const lib = native.nvrtc(search.candidates);
      if (tooNew(lib.version)) notes.push(`NVRTC ${v(lib.version)} at ${lib.path} is newer than the driver (CUDA ${v(driverVersion)}): the driver is too old for its cubins; update the driver or point FUSEDET_NVRTC_DIR at NVRTC ${Math.floor(driverVersion / 1000)}.x`);
      else return nvrtcCompiler(native, lib.path, lib.version, lib.archs ?? []);
    } catch (e) {
      notes.push(`NVRTC: ${(e as Error).message}`);
    }
  }
  const nvcc = findNvcc(env);
  if (!nvcc) notes.push('nvcc: not found on PATH or in /usr/local/cuda*/bin (set FUSEDET_NVCC)');
  else {
    const version = nvccVersion(nvcc);
    if (version === undefined) notes.push(`nvcc at ${nvcc} does not report its version`);
    else if (tooNew(version)) notes.push(`nvcc ${v(version)} at ${nvcc} is newer than the driver (CUDA ${v(driverVersion)}): update the driver`);
    else {
      debugLog(1, `cuda: compiling with nvcc (${notes.join('; ') || 'no NVRTC'})`);
      return nvccCompiler(nvcc, version, nvccArchs(nvcc));
    }
  }
  throw new CudaUnavailable(`no usable CUDA compiler: ${notes.join('; ')}`);
}

const v = (x: number): string => `${Math.floor(x / 1000)}.${Math.floor((x % 1000) / 10)}`;

function nvrtcCompiler(native: NativeCuda, path: string, version: number, archs: readonly number[]): CompilerChoice {
  return {
    id: `nvrtc ${v(version)} (${path})`, kind: 'nvrtc', version, archs,
    compile: async (source, to) => {
      const target = asTarget(to);
      try {
        return native.nvrtcCompile(source, 'fusedet.cu', [...OPTIONS, `--gpu-architecture=${targetName(target)}`], target.kind === 'ptx').image;
      } catch (e) {
        throw new CudaCompileError(keepFailed(source), (e as Error).message, `NVRTC ${v(version)}`);
      }
    },
  };
}

function nvccCompiler(path: string, version: number, archs: readonly number[]): CompilerChoice {
  return {
    id: `nvcc ${v(version)} (${path})`, kind: 'nvcc', version, archs,
    compile: async (source, to) => {
      const target = asTarget(to);
      const dir = mkdtempSync(join(cacheDir(), 'nvcc-'));
      try {
        const src = join(dir, 'fusedet.cu'), out = join(dir, `fusedet.${target.kind}`);
        writeFileSync(src, source);
        const args = [`--${target.kind}`, `-arch=${targetName(target)}`, ...OPTIONS, '-o', out, src];
        const r = await runChild(path, args);
        if (r.code !== 0) throw new CudaCompileError(keepFailed(source), r.out, `${path} ${args.join(' ')}`);
        const image = readFileSync(out);
        // cuModuleLoadData reads PTX as a C string.
        return target.kind === 'ptx' ? Uint8Array.from([...image, 0]) : new Uint8Array(image);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function runChild(cmd: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ code: -1, out: e.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** The CUDA part of the kernel cache (FUSEDET_CACHE_DIR/cuda, else ~/.cache/fusedet/cuda), created. */
export function cacheDir(opts: CacheRootOptions = cacheRootFromEnv()): string {
  return sharedCacheDir('cuda', opts);
}

/** The rejected source, kept where the user can open it. */
function keepFailed(source: string): string {
  const dir = join(cacheDir(), 'failed');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${createHash('sha256').update(source).digest('hex').slice(0, 16)}.cu`);
  writeFileSync(path, source);
  return path;
}

/** `arch`: a capability (its cubin) or a target name (`sm_90`, `compute_90`). */
export function moduleKey(source: string, arch: number | string, compilerId: string): string {
  const name = typeof arch === 'number' ? `sm_${arch}` : arch;
  return createHash('sha256').update(`${compilerId}\0${name}\0${OPTIONS.join(' ')}\0`).update(source).digest('hex').slice(0, 32);
}

export interface CompiledModule {
  readonly image: Uint8Array;
  readonly cached: boolean;
  readonly seconds: number;
  readonly path: string;
  readonly target: CompileTarget;
}

/** The cubin (or PTX, for a GPU newer than the compiler) for `source` on this GPU, from the disk cache or compiled now. */
export async function compileCached(source: string, cc: number, compiler: CompilerChoice, cache: CacheRootOptions = cacheRootFromEnv()): Promise<CompiledModule> {
  const t0 = performance.now();
  const target = compileTarget(cc, compiler.archs, compiler.id);
  const name = targetName(target);
  const path = join(cacheDir(cache), `${moduleKey(source, name, compiler.id)}.${target.kind}`);
  const entry = checkEntry(path);
  if (entry?.ok) return { image: new Uint8Array(entry.data), cached: true, seconds: (performance.now() - t0) / 1000, path, target };
  if (entry) {
    noteRebuilt(path, entry.why);
    forgetEntry(path);
  }
  if (target.kind === 'ptx') debugLog(1, `cuda: ${compiler.id} does not build sm_${cc}: compiling PTX for ${name}, which the driver compiles for this GPU at load`);
  const image = await compiler.compile(source, target);
  writeEntry(path, image);
  return { image, cached: false, seconds: (performance.now() - t0) / 1000, path, target };
}

/** Removes a cached cubin the driver refused, so the next request compiles it again. */
export function forgetCached(path: string): void {
  forgetEntry(path);
}
