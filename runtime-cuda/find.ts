// Where the CUDA pieces live on a machine: the driver library, NVRTC and nvcc.
// Searches are plain folder listings, so what was searched can be reported.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** libcuda.so.1 beyond the loader path (the addon tries the bare name first). */
export const LIBCUDA_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libcuda.so.1', '/usr/lib64/libcuda.so.1', '/usr/lib/aarch64-linux-gnu/libcuda.so.1',
  '/usr/lib/wsl/lib/libcuda.so.1', '/usr/local/cuda/compat/libcuda.so.1',
];

/** CUDA installations in the usual places, newest version first. */
function cudaRoots(): string[] {
  const roots: string[] = [];
  for (const v of ['CUDA_HOME', 'CUDA_PATH']) if (process.env[v]) roots.push(process.env[v]!);
  roots.push('/usr/local/cuda');
  try {
    roots.push(...readdirSync('/usr/local').filter((d) => /^cuda-\d/.test(d)).sort(byVersionDesc).map((d) => join('/usr/local', d)));
  } catch { /* no /usr/local */ }
  return roots;
}

function byVersionDesc(a: string, b: string): number {
  const va = a.match(/\d+/g)!.map(Number), vb = b.match(/\d+/g)!.map(Number);
  for (let i = 0; i < Math.max(va.length, vb.length); i++) if ((vb[i] ?? 0) !== (va[i] ?? 0)) return (vb[i] ?? 0) - (va[i] ?? 0);
  return 0;
}

/** libnvrtc.so* files of a folder, the most specific version first (builtins excluded). */
export function nvrtcIn(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  return names.filter((n) => /^libnvrtc\.so(\.\d+)*$/.test(n)).sort(byLength).map((n) => join(dir, n));
}
const byLength = (a: string, b: string): number => b.length - a.length || (a < b ? 1 : -1);

export interface NvrtcSearch {
  /** Candidate library paths, in the order to try. */
  readonly candidates: string[];
  /** Folders searched, for the message when none is found. */
  readonly searched: string[];
  /** Set when FUSEDET_NVRTC_DIR names a folder without NVRTC (a user error worth saying). */
  readonly badEnv?: string;
}

/**
 * Folders of pip's NVIDIA wheels (nvidia-cuda-nvrtc*, nvidia-cuda-nvcc*, which
 * PyTorch brings): <site-packages>/nvidia/<part>/<sub> holding what `has`
 * looks for, in a virtualenv, conda, the user's site and the system's Python.
 */
function pythonNvidiaDirs(env: NodeJS.ProcessEnv, sub: 'lib' | 'bin', has: (dir: string) => boolean): string[] {
  const prefixes = [env.VIRTUAL_ENV, env.CONDA_PREFIX, env.HOME && join(env.HOME, '.local'), '/usr/local', '/usr'].filter((p): p is string => !!p);
  const out: string[] = [];
  for (const prefix of prefixes) {
    const lib = join(prefix, 'lib');
    let pythons: string[];
    try { pythons = readdirSync(lib).filter((d) => /^python3(\.\d+)?$/.test(d)).sort().reverse(); } catch { continue; }
    for (const py of pythons) {
      for (const packages of ['site-packages', 'dist-packages']) {
        const nvidia = join(lib, py, packages, 'nvidia');
        let parts: string[];
        try { parts = readdirSync(nvidia).sort().reverse(); } catch { continue; }
        out.push(...parts.map((p) => join(nvidia, p, sub)).filter(has));
      }
    }
  }
  return out;
}

export const pythonNvrtcDirs = (env: NodeJS.ProcessEnv = process.env): string[] => pythonNvidiaDirs(env, 'lib', (d) => nvrtcIn(d).length > 0);

/** FUSEDET_NVRTC_DIR alone when set; otherwise the loader path, the usual CUDA locations, then pip's NVIDIA wheels. */
export function findNvrtc(env: NodeJS.ProcessEnv = process.env): NvrtcSearch {
  const fixed = env.FUSEDET_NVRTC_DIR;
  if (fixed) {
    const candidates = nvrtcIn(fixed);
    const why = !existsSync(fixed) ? 'does not exist' : !statSync(fixed).isDirectory() ? 'is not a folder' : 'holds no libnvrtc.so*';
    return { candidates, searched: [fixed], ...(candidates.length ? {} : { badEnv: `FUSEDET_NVRTC_DIR=${fixed} ${why}` }) };
  }
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean),
    ...cudaRoots().flatMap((r) => [join(r, 'lib64'), join(r, 'lib'), join(r, 'targets', 'x86_64-linux', 'lib'), join(r, 'targets', 'sbsa-linux', 'lib')]),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib/aarch64-linux-gnu',
    ...pythonNvrtcDirs(env),
  ];
  const searched = [...new Set(dirs)];
  return { candidates: searched.flatMap(nvrtcIn), searched };
}

/** nvcc on PATH, else in a CUDA installation, else in pip's NVIDIA wheels; undefined when there is none. */
export function findNvcc(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FUSEDET_NVCC) return existsSync(env.FUSEDET_NVCC) ? env.FUSEDET_NVCC : undefined;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...cudaRoots().map((r) => join(r, 'bin')),
    ...pythonNvidiaDirs(env, 'bin', (d) => existsSync(join(d, 'nvcc')))];
  return dirs.map((d) => join(d, 'nvcc')).find((p) => existsSync(p));
}
