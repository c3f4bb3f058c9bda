// Finding and running the system C compiler. One `cc -O3` start costs
// 0.3–1 s here, so a program is compiled as a few translation units (one per
// core) in parallel and linked once, never one process per kernel.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { CpuUnavailable } from './errors.js';

export interface CCompiler {
  readonly path: string;
  /** `cc --version`'s first line, part of the cache key. */
  readonly version: string;
}

/** Numerics must match the reference: no -ffast-math unless FUSEDET_CFLAGS adds it. */
// -ffp-contract=off: a*b+c rounds twice, as the reference does (a kernel may opt
// into fused multiply-adds per function). -fno-math-errno changes no result,
// it only lets sqrtf and friends inline and vectorise.
export const DEFAULT_CFLAGS: readonly string[] = ['-O3', '-march=native', '-fPIC', '-std=gnu11', '-ffp-contract=off', '-fno-math-errno'];

export function cflags(): string[] {
  const extra = process.env.FUSEDET_CFLAGS?.trim();
  return extra ? [...DEFAULT_CFLAGS, ...extra.split(/\s+/)] : [...DEFAULT_CFLAGS];
}

const found = new Map<string, CCompiler>();

function onPath(name: string): string | undefined {
  if (isAbsolute(name) || name.includes('/')) return existsSync(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function run(cmd: string, args: readonly string[], cwd?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, out: `${stdout}${stderr}${err && typeof err.code !== 'number' ? err.message : ''}` });
    });
  });
}

/**
 * The compiler to use: $FUSEDET_CC alone if set, else the first of cc, gcc,
 * clang on PATH that answers --version.
 */
export async function findCompiler(): Promise<CCompiler> {
  const fromEnv = process.env.FUSEDET_CC;
  const candidates = fromEnv ? [fromEnv] : ['cc', 'gcc', 'clang'];
  const key = `${candidates.join(',')}|${process.env.PATH ?? ''}`;
  const hit = found.get(key);
  if (hit) return hit;
  const tried: string[] = [];
  for (const name of candidates) {
    const path = onPath(name);
    if (!path) { tried.push(`${name} (not found${fromEnv ? '' : ' on PATH'})`); continue; }
    const r = await run(path, ['--version']);
    if (r.code !== 0) { tried.push(`${path} (--version failed: ${r.out.trim().split('\n')[0]})`); continue; }
    const cc = { path, version: r.out.trim().split('\n')[0] };
    found.set(key, cc);
    return cc;
  }
  throw new CpuUnavailable(`no C compiler found; tried ${fromEnv ? 'FUSEDET_CC=' : ''}${tried.join(', ')}. ` +
    'Install one (Debian/Ubuntu: apt-get install build-essential) or point FUSEDET_CC at a compiler.');
}

/**
 * What the generated code's meaning depends on besides its source: the
 * compiler, the flags and, because of -march=native, this CPU's features.
 */
export function toolchainKey(cc: CCompiler, flags: readonly string[]): string {
  let cpu = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = [/^model name\s*:.*$/m, /^flags\s*:.*$/m].map((r) => r.exec(info)?.[0] ?? '').join('\n');
  } catch { cpu = process.arch; }
  return createHash('sha256').update(`${cc.path}\n${cc.version}\n${flags.join(' ')}\n${cpu}`).digest('hex');
}
