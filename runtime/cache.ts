// The on-disk kernel cache shared by the native runtimes (CPU .so, CUDA
// cubins): where it lives, and entries that are checked before use. Node only
// (the browser bundle never imports it).
//
// A cache entry is the file and a sidecar `<file>.sum` holding its size and
// SHA-256, written before the file is renamed into place. A file without a
// matching sidecar (truncated by a full disk or a killed copy, zeroed,
// replaced) is never handed to dlopen or the driver: dlopen of a truncated
// .so kills the process with SIGBUS, which no try/catch can report. Such an
// entry is removed and built again, and the user is told once.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FusedetError } from '../io/errors.js';
import { makeFolder, writeFileAtomicSync } from '../io/files.js';

/** Where a cache folder cannot be used and nothing else can be either. */
export class CacheDirError extends FusedetError {
  constructor(message: string) {
    super(message, { exitCode: 1 });
  }
}

export type CacheNote = (line: string) => void;

const say: CacheNote = (line) => process.stderr.write(`fusedet: ${line}\n`);
const said = new Set<string>();
/** Each note once per process: a program with many entries must not repeat it. */
function once(note: CacheNote, key: string, line: string): void {
  if (said.has(key)) return;
  said.add(key);
  note(line);
}

/** Creates `dir` and proves a file can be written there (an existing read-only folder passes mkdir). */
function usable(dir: string): string | undefined {
  try {
    // Not Node's recursive mkdir: it spins forever at 100% CPU under /proc (Node 20).
    makeFolder(dir);
    const probe = join(dir, `.probe-${process.pid}`);
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export interface CacheRootOptions {
  /** FUSEDET_CACHE_DIR, when set. */
  readonly dir?: string;
  /** XDG_CACHE_HOME, when set (else ~/.cache). */
  readonly xdg?: string;
  readonly note?: CacheNote;
}

/** The cache settings from the environment, read once by a runtime's constructor. */
export function cacheRootFromEnv(env: NodeJS.ProcessEnv = process.env): CacheRootOptions {
  return { ...(env.FUSEDET_CACHE_DIR ? { dir: env.FUSEDET_CACHE_DIR } : {}), ...(env.XDG_CACHE_HOME ? { xdg: env.XDG_CACHE_HOME } : {}) };
}

const resolved = new Map<string, string>();

/**
 * The folder of `kind` ('cpu', 'cuda') in the kernel cache, created. A folder
 * that cannot be created or written (no permission, under /proc, a file in
 * the way) is replaced by one under the system's temporary folder for this
 * process, said once; only when that fails too is it an error.
 */
export function cacheDir(kind: string, opts: CacheRootOptions = cacheRootFromEnv()): string {
  const wanted = opts.dir ? join(opts.dir, kind) : join(opts.xdg || join(homedir(), '.cache'), 'fusedet', kind);
  const hit = resolved.get(wanted);
  if (hit) return hit;
  const why = usable(wanted);
  let dir = wanted;
  if (why !== undefined) {
    const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
    dir = join(tmpdir(), `fusedet-cache-${uid}`, kind);
    const why2 = usable(dir);
    const source = opts.dir ? `FUSEDET_CACHE_DIR=${opts.dir}` : 'the kernel cache folder';
    if (why2 !== undefined) {
      throw new CacheDirError(`cannot use ${source} (${wanted}: ${why}), nor ${dir} (${why2}): set FUSEDET_CACHE_DIR to a folder you can write`);
    }
    once(opts.note ?? say, `dir:${wanted}`, `cannot use ${source} (${wanted}: ${why}); compiled kernels are cached in ${dir} instead`);
  }
  resolved.set(wanted, dir);
  removeAbandoned(dir);
  return dir;
}

/** Work folders (`.build-*`, `nvcc-*`) left by builds killed midway; an hour is far longer than any build. */
export function removeAbandoned(dir: string, maxAgeMs = 3600_000): number {
  let removed = 0;
  let names: string[];
  try { names = readdirSync(dir); } catch { return 0; }
  for (const name of names) {
    if (!name.startsWith('.build-') && !name.startsWith('nvcc-') && !/\.(\d+\.tmp|tmp-\d+)$/.test(name)) continue;
    const p = join(dir, name);
    try {
      if (Date.now() - statSync(p).mtimeMs > maxAgeMs) { rmSync(p, { recursive: true, force: true }); removed++; }
    } catch { /* another process removed it first */ }
  }
  return removed;
}

const digest = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const sumPath = (path: string): string => `${path}.sum`;

/**
 * Puts `data` at `path` atomically (temp + rename), its sidecar first: a
 * reader never sees the file without it, and a crash between the two leaves
 * a sidecar alone, which is a plain miss.
 */
export function writeEntry(path: string, data: Uint8Array): void {
  sealEntry(path, data);
  writeFileAtomicSync(path, data);
}

/** Records the size and digest `data` must have at `path` (before the file is written there). */
export function sealEntry(path: string, data: Uint8Array): void {
  writeFileAtomicSync(sumPath(path), `${data.byteLength} ${digest(data)}\n`);
}

export type EntryState = { readonly ok: true; readonly data: Uint8Array } | { readonly ok: false; readonly why: string } | undefined;

/** The entry's bytes when they match its sidecar; undefined when there is none; why not otherwise. */
export function checkEntry(path: string): EntryState {
  if (!existsSync(path)) return undefined;
  let data: Uint8Array, sum: string;
  try {
    data = readFileSync(path);
  } catch (e) {
    return { ok: false, why: `unreadable (${(e as Error).message})` };
  }
  try {
    sum = readFileSync(sumPath(path), 'utf8').trim();
  } catch {
    return { ok: false, why: 'no size and digest were recorded for it (an interrupted write)' };
  }
  const [size, hash] = sum.split(' ');
  if (Number(size) !== data.byteLength) return { ok: false, why: `${data.byteLength} bytes instead of ${size} (truncated or overwritten)` };
  if (hash !== digest(data)) return { ok: false, why: 'its contents do not match the digest recorded when it was written' };
  return { ok: true, data };
}

/** Removes an entry and its sidecar, so the next request builds it again. */
export function forgetEntry(path: string): void {
  rmSync(path, { force: true });
  rmSync(sumPath(path), { force: true });
}

/** Says once per process that a damaged (or refused) cache entry was found and is being rebuilt. */
export function noteRebuilt(path: string, why: string, note: CacheNote = say): void {
  once(note, 'rebuilt', `the cached kernel file ${path} cannot be used (${why}); it was removed and is being compiled again`);
}
