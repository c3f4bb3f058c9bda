// CUDA source → cubin for the open GPU: NVRTC in process when it is found,
// else `nvcc --cubin` in a child process. Cubins are cached on disk under a
// key of the source, the architecture, the compiler and its options, so a
// warm start compiles nothing. Files appear atomically (temp + rename).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { debugLog } from '../runtime-cpu/debug.js';
import { CudaCompileError, CudaUnavailable } from './errors.js';
import { findNvcc, findNvrtc } from './find.js';
import type { NativeCuda } from './native.js';

export interface CompilerChoice {
  /** `nvrtc 13.0 (/path)` or `nvcc 13.0 (/path)`: part of the cache key. */
  readonly id: string;
  readonly kind: 'nvrtc' | 'nvcc';
  /** CUDA version, major*1000 + minor*10. */
  readonly version: number;
  compile(source: string, cc: number): Promise<Uint8Array>;
}

/** Full IEEE f32 (no fast math) so results match the CPU runtime; C++17 for the generated helpers. */
const OPTIONS = ['-std=c++17', '--fmad=true'];

export function nvccVersion(path: string): number | undefined {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  const m = (r.stdout ?? '').match(/release (\d+)\.(\d+)/);
  return m ? Number(m[1]) * 1000 + Number(m[2]) * 10 : undefined;
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
      else return nvrtcCompiler(native, lib.path, lib.version);
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
      return nvccCompiler(nvcc, version);
    }
  }
  throw new CudaUnavailable(`no usable CUDA compiler: ${notes.join('; ')}`);
}

const v = (x: number): string => `${Math.floor(x / 1000)}.${Math.floor((x % 1000) / 10)}`;

function nvrtcCompiler(native: NativeCuda, path: string, version: number): CompilerChoice {
  return {
    id: `nvrtc ${v(version)} (${path})`, kind: 'nvrtc', version,
    compile: async (source, cc) => {
      try {
        return native.nvrtcCompile(source, 'fusedet.cu', [...OPTIONS, `--gpu-architecture=sm_${cc}`]).image;
      } catch (e) {
        throw new CudaCompileError(keepFailed(source), (e as Error).message, `NVRTC ${v(version)}`);
      }
    },
  };
}

function nvccCompiler(path: string, version: number): CompilerChoice {
  return {
    id: `nvcc ${v(version)} (${path})`, kind: 'nvcc', version,
    compile: async (source, cc) => {
      const dir = mkdtempSync(join(cacheDir(), 'nvcc-'));
      try {
        const src = join(dir, 'fusedet.cu'), out = join(dir, 'fusedet.cubin');
        writeFileSync(src, source);
        const args = ['--cubin', `-arch=sm_${cc}`, ...OPTIONS, '-o', out, src];
        const r = await runChild(path, args);
        if (r.code !== 0) throw new CudaCompileError(keepFailed(source), r.out, `${path} ${args.join(' ')}`);
        return new Uint8Array(readFileSync(out));
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

export function cacheDir(): string {
  const dir = process.env.FUSEDET_CACHE_DIR
    ? join(process.env.FUSEDET_CACHE_DIR, 'cuda')
    : join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'fusedet', 'cuda');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The rejected source, kept where the user can open it. */
function keepFailed(source: string): string {
  const dir = join(cacheDir(), 'failed');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${createHash('sha256').update(source).digest('hex').slice(0, 16)}.cu`);
  writeFileSync(path, source);
  return path;
}

export function moduleKey(source: string, cc: number, compilerId: string): string {
  return createHash('sha256').update(`${compilerId}\0sm_${cc}\0${OPTIONS.join(' ')}\0`).update(source).digest('hex').slice(0, 32);
}

export interface CompiledModule { readonly image: Uint8Array; readonly cached: boolean; readonly seconds: number; readonly path: string }

/** The cubin for `source` on this GPU, from the disk cache or compiled now. */
export async function compileCached(source: string, cc: number, compiler: CompilerChoice): Promise<CompiledModule> {
  const t0 = performance.now();
  const path = join(cacheDir(), `${moduleKey(source, cc, compiler.id)}.cubin`);
  if (existsSync(path)) return { image: new Uint8Array(readFileSync(path)), cached: true, seconds: (performance.now() - t0) / 1000, path };
  const image = await compiler.compile(source, cc);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, image);
  renameSync(tmp, path);
  return { image, cached: false, seconds: (performance.now() - t0) / 1000, path };
}

/** Removes a cached cubin the driver refused, so the next request compiles it again. */
export function forgetCached(path: string): void {
  rmSync(path, { force: true });
}
