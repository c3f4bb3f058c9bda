// Every path a user gives goes through here, so a missing file, a folder where
// a file was meant, a FIFO, a full disk or a permission problem becomes one
// clear message naming the option and the path (never an fs stack trace,
// never a hang on /dev/zero or a pipe), whichever command it came from.
//
// Writes are atomic: a temporary file in the same folder, fsynced, renamed
// over the target (and the folder fsynced), so a crash or a full disk leaves
// the previous file whole. On failure the temporary file is removed and the
// message says which file and how many bytes it needed.
import * as nodeFs from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FusedetError } from './errors.js';

/** A file or folder a user named could not be used. */
export class FileError extends FusedetError {
  readonly path: string;
  /** The errno code behind it (ENOENT, EISDIR...), or a word of ours (NOTFILE, TOOBIG). */
  readonly code: string;
  constructor(path: string, code: string, message: string, hint?: string) {
    super(message, hint === undefined ? {} : { hint });
    this.path = path;
    this.code = code;
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
};

/** "what path: reason" for an fs error; `what` is the option or role ("--gt", "annotations"). */
export function describeFsError(e: unknown, path: string, what?: string, action?: string): FileError {
  const code = (e as NodeJS.ErrnoException)?.code ?? 'EUNKNOWN';
  const reason = REASONS[code] ?? (e as Error)?.message ?? String(e);
  return new FileError(path, code, `${what ? `${what} ` : ''}${path}: ${action ? `${action}: ` : ''}${reason}${REASONS[code] ? ` (${code})` : ''}`);
}

const prefix = (what: string | undefined, path: string): string => `${what ? `${what} ` : ''}${path}`;

export interface UserFileOptions {
  /** The option or role named in messages ("--gt", "--dets", "import"). */
  what?: string;
  /** Refuse files bigger than this many bytes (no limit by default). */
  maxBytes?: number;
}

/**
 * Checks that PATH names a readable regular file and returns its stats. A
 * folder, a FIFO, a device (/dev/zero) or a socket is refused before anything
 * opens it, so nothing can hang reading it.
 */
export function statUserFile(path: string, opts: UserFileOptions = {}): nodeFs.Stats {
  let st: nodeFs.Stats;
  try { st = nodeFs.statSync(path); } catch (e) { throw describeFsError(e, path, opts.what); }
  if (st.isDirectory()) throw new FileError(path, 'EISDIR', `${prefix(opts.what, path)}: is a folder, not a file`, 'give the file inside it');
  if (!st.isFile()) {
    const kind = st.isFIFO() ? 'a pipe (FIFO)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw new FileError(path, 'NOTFILE', `${prefix(opts.what, path)}: is ${kind}, not a regular file`);
  }
  if (opts.maxBytes !== undefined && st.size > opts.maxBytes) {
    throw new FileError(path, 'TOOBIG', `${prefix(opts.what, path)}: ${st.size} bytes, more than the ${opts.maxBytes}-byte limit for it`);
  }
  return st;
}

/** Checks that PATH names an existing folder. */
export function statUserFolder(path: string, opts: { what?: string } = {}): nodeFs.Stats {
  let st: nodeFs.Stats;
  try { st = nodeFs.statSync(path); } catch (e) { throw describeFsError(e, path, opts.what); }
  if (!st.isDirectory()) throw new FileError(path, 'ENOTDIR', `${prefix(opts.what, path)}: is a file, not a folder`);
  return st;
}

/** Opens a user's file for reading (after statUserFile's checks); returns the descriptor. */
export function openUserFile(path: string, opts: UserFileOptions = {}): number {
  statUserFile(path, opts);
  try { return nodeFs.openSync(path, 'r'); } catch (e) { throw describeFsError(e, path, opts.what); }
}

/** Reads a user's whole file (after statUserFile's checks). */
export function readUserFile(path: string, opts: UserFileOptions = {}): Buffer {
  statUserFile(path, opts);
  try { return nodeFs.readFileSync(path); } catch (e) { throw describeFsError(e, path, opts.what); }
}

/** Reads a user's text file as UTF-8, without a leading byte-order mark. */
export function readUserText(path: string, opts: UserFileOptions = {}): string {
  return stripBom(readUserFile(path, opts).toString('utf8'));
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The first bytes of a file, shown readably in "the file starts with ..." messages. */
export function describeStart(bytes: Uint8Array, max = 24): string {
  if (bytes.length === 0) return 'the file is empty';
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'the file starts with a UTF-8 byte-order mark';
  const head = Buffer.from(bytes.subarray(0, max)).toString('utf8').replace(/\uFFFD/g, '?');
  const binary = [...bytes.subarray(0, max)].some((b) => b < 9 || (b > 13 && b < 32));
  if (binary) return `the file starts with binary bytes ${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`;
  return `the file starts with ${JSON.stringify(head)}${bytes.length > max ? '...' : ''}`;
}

/** The fs calls an atomic write makes: tests pass a fake that fails (ENOSPC) part-way. */
export interface WriteFs {
  openSync(path: string, flags: string): number;
  writeSync(fd: number, bytes: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, opts: { force: boolean }): void;
  mkdirSync(path: string, opts: { recursive: boolean }): unknown;
}

export const realFs: WriteFs = nodeFs as unknown as WriteFs;

export interface AtomicWriteOptions {
  /** The option or role named in messages ("--out", "checkpoint", "log"). */
  what?: string;
  /** Replace an existing file (default true); false refuses with "exists; pass --force". */
  overwrite?: boolean;
  /** Bytes the whole file will take, when known before writing (for the full-disk message). */
  size?: number;
  /** fsync the file and its folder (default true). */
  durable?: boolean;
  /** Create the folder if missing (default true). */
  mkdir?: boolean;
  fs?: WriteFs;
}

/** Appends bytes to the file being written. */
export type Sink = (chunk: string | Uint8Array) => void;

const encoder = new TextEncoder();

/**
 * mkdir -p, one level at a time: Node's recursive mkdir spins forever at 100%
 * CPU under /proc (each level "succeeds" and the next is ENOENT again), so
 * the levels are made here and any failure names the folder.
 */
export function makeFolder(dir: string, what?: string, fs: WriteFs = realFs): void {
  const missing: string[] = [];
  let at = dir;
  for (;;) {
    let st: nodeFs.Stats | undefined;
    try { st = nodeFs.statSync(at); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw describeFsError(e, at, what);
    }
    if (st) {
      if (!st.isDirectory()) throw new FileError(at, 'ENOTDIR', `${prefix(what, dir)}: ${at} is a file, not a folder`);
      break;
    }
    missing.push(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing.reverse()) {
    try { fs.mkdirSync(d, { recursive: false }); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && nodeFs.statSync(d).isDirectory()) continue;
      throw describeFsError(e, d, what, 'cannot create this folder');
    }
  }
}

/** The hidden temporary name beside PATH. Same folder, so the rename stays on one file system. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

function prepare(path: string, o: AtomicWriteOptions, fs: WriteFs): { tmp: string; fd: number } {
  if (o.overwrite === false && nodeFs.existsSync(path)) {
    throw new FileError(path, 'EEXIST', `${prefix(o.what, path)}: exists; pass --force to replace it`);
  }
  if (o.mkdir !== false) makeFolder(dirname(path), o.what, fs);
  const tmp = tempPathFor(path);
  try { return { tmp, fd: fs.openSync(tmp, 'w') }; } catch (e) { throw describeFsError(e, path, o.what, 'cannot write it'); }
}

function failed(e: unknown, path: string, tmp: string, fd: number | undefined, written: number, o: AtomicWriteOptions, fs: WriteFs): FusedetError | unknown {
  if (fd !== undefined) { try { fs.closeSync(fd); } catch { /* already closed */ } }
  try { fs.rmSync(tmp, { force: true }); } catch { /* the message below matters more */ }
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const need = o.size !== undefined ? `it needs ${o.size} bytes` : `it needs more than the ${written} bytes written before the disk filled`;
    return new FileError(path, code, `${prefix(o.what, path)}: cannot write it: ${REASONS[code]} (${code}); ${need}. The previous file, if any, is unchanged; the temporary file was removed`, `free at least ${o.size ?? written} bytes on that disk, or write elsewhere`);
  }
  if (code && typeof code === 'string' && code.startsWith('E')) {
    const d = describeFsError(e, path, o.what);
    return new FileError(path, code, `${d.message}; the previous file, if any, is unchanged`);
  }
  return e; // the producer's own error (e.g. a data error): passed through after cleanup
}

/** fsync, close (then `closed()`), rename, fsync the folder. */
function finish(path: string, tmp: string, fd: number, o: AtomicWriteOptions, fs: WriteFs, closed: () => void): void {
  if (o.durable !== false) fs.fsyncSync(fd);
  fs.closeSync(fd);
  closed();
  fs.renameSync(tmp, path);
  if (o.durable !== false) {
    // The rename is durable only once the folder's entry is on disk.
    try { const d = nodeFs.openSync(dirname(path), 'r'); try { nodeFs.fsyncSync(d); } finally { nodeFs.closeSync(d); } } catch { /* some file systems refuse fsync on folders */ }
  }
}

function sinkFor(fd: number, fs: WriteFs, count: (n: number) => void): Sink {
  return (chunk) => {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    let done = 0;
    while (done < bytes.length) {
      const n = fs.writeSync(fd, bytes, done, bytes.length - done);
      done += n;
      count(n);
    }
  };
}

/**
 * Writes PATH atomically. CONTENT is the whole file, or a function that writes
 * it piece by piece to the sink it is given (big files, streamed).
 */
export function writeFileAtomicSync(path: string, content: string | Uint8Array | ((write: Sink) => void), o: AtomicWriteOptions = {}): void {
  const fs = o.fs ?? realFs;
  const opts = typeof content === 'function' ? o : { ...o, size: o.size ?? (typeof content === 'string' ? Buffer.byteLength(content) : content.length) };
  const { tmp, fd } = prepare(path, opts, fs);
  let written = 0, open = true;
  try {
    const write = sinkFor(fd, fs, (n) => { written += n; });
    if (typeof content === 'function') content(write); else write(content);
    finish(path, tmp, fd, opts, fs, () => { open = false; });
  } catch (e) {
    throw failed(e, path, tmp, open ? fd : undefined, written, opts, fs);
  }
}

/** As writeFileAtomicSync, for producers that await (async record iterators, image encoders). */
export async function writeFileAtomic(path: string, content: string | Uint8Array | ((write: Sink) => Promise<void> | void), o: AtomicWriteOptions = {}): Promise<void> {
  if (typeof content !== 'function') return writeFileAtomicSync(path, content, o);
  const fs = o.fs ?? realFs;
  const { tmp, fd } = prepare(path, o, fs);
  let written = 0, open = true;
  try {
    await content(sinkFor(fd, fs, (n) => { written += n; }));
    finish(path, tmp, fd, o, fs, () => { open = false; });
  } catch (e) {
    throw failed(e, path, tmp, open ? fd : undefined, written, o, fs);
  }
}

/**
 * Removes the temporary files writers killed mid-write left in DIR: ".NAME.tmp-PID"
 * (and the older "NAME.tmp-PID") whose process is gone.
 */
export function removeStaleTemps(dir: string): void {
  let names: string[];
  try { names = nodeFs.readdirSync(dir); } catch { return; }
  for (const f of names) {
    const m = /^.+\.tmp-(\d+)$/.exec(f);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    nodeFs.rmSync(join(dir, f), { force: true });
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}
