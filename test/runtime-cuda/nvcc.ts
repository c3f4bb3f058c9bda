// nvcc for the tests: one process per architecture per translation unit,
// with the --resource-usage text cached on disk by a hash of the source, the
// architecture and nvcc's version, so only changed renderings recompile (the
// ResNet-50 unit costs ~50 s of CPU per architecture).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const ARCHS = ['sm_90', 'sm_75'] as const;

let version: string | undefined;
function nvccVersionText(): string {
  version ??= spawnSync('nvcc', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return version;
}

function cacheDir(): string {
  const root = process.env.FUSEDET_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'fusedet');
  const dir = join(root, 'nvcc-test');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface NvccResult { readonly arch: string; readonly usage: string; readonly cached: boolean }

/** Compiles `source` for one architecture; rejects with nvcc's message and the numbered source. */
export function nvccArch(source: string, arch: string): Promise<NvccResult> {
  const key = createHash('sha256').update(nvccVersionText()).update(`\0${arch}\0`).update(source).digest('hex').slice(0, 32);
  const cached = join(cacheDir(), `${key}.txt`);
  if (existsSync(cached)) return Promise.resolve({ arch, usage: readFileSync(cached, 'utf8'), cached: true });
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-nvcc-'));
  const file = join(dir, 'unit.cu');
  writeFileSync(file, source);
  return new Promise((resolve, reject) => {
    const child = spawn('nvcc', ['-c', '-o', join(dir, 'unit.o'), '--resource-usage', `-arch=${arch}`, '-std=c++17', file]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) {
        reject(new Error(`nvcc -arch=${arch} failed:\n${out}\n--- source ---\n${source.split('\n').map((l, i) => `${i + 1}: ${l}`).join('\n')}`));
        return;
      }
      writeFileSync(cached + '.tmp', out);
      renameSync(cached + '.tmp', cached);
      resolve({ arch, usage: out, cached: false });
    });
  });
}

export interface KernelResources { readonly kernel: string; readonly arch: string; readonly registers: number; readonly spillStores: number; readonly spillLoads: number; readonly stack: number; readonly smem: number }

/** Per kernel and arch from `nvcc --resource-usage` (ptxas info lines). */
export function parseResources(usage: string): KernelResources[] {
  const rows: KernelResources[] = [];
  let kernel = '', arch = '', stack = 0, stores = 0, loads = 0;
  for (const line of usage.split('\n')) {
    const entry = line.match(/Compiling entry function '([^']+)' for '([^']+)'/);
    if (entry) { kernel = entry[1]; arch = entry[2]; stack = stores = loads = 0; continue; }
    const s = line.match(/(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/);
    if (s) { stack = Number(s[1]); stores = Number(s[2]); loads = Number(s[3]); }
    const r = line.match(/Used (\d+) registers/);
    if (r && kernel) {
      const smem = line.match(/(\d+) bytes smem/);
      rows.push({ kernel, arch, registers: Number(r[1]), spillStores: stores, spillLoads: loads, stack, smem: smem ? Number(smem[1]) : 0 });
      kernel = '';
    }
  }
  return rows;
}

/** Runs `tasks` at most `lanes` at a time. */
export async function limited<T>(tasks: readonly (() => Promise<T>)[], lanes: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, lanes) }, async () => {
    for (let i = next++; i < tasks.length; i = next++) results[i] = await tasks[i]();
  }));
  return results;
}
