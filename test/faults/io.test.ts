// io/files.ts and io/errors.ts: the one helper every user path and every
// atomic write goes through. Faults are injected with a fake WriteFs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FusedetError, formatUserError, isUserFacing } from '../../io/errors.js';
import { FileError, describeStart, readUserText, statUserFile, writeFileAtomic, writeFileAtomicSync } from '../../io/files.js';
import { fullDisk } from './full-disk.js';

const root = mkdtempSync(join(tmpdir(), 'fusedet-io-'));

function throwsFile(fn: () => unknown, code: string, re: RegExp): FileError {
  try { fn(); } catch (e) {
    assert.instance(e, FileError);
    assert.ok(isUserFacing(e));
    assert.is((e as FileError).code, code);
    assert.match((e as Error).message, re);
    return e as FileError;
  }
  throw new Error(`expected ${code}`);
}

test('FusedetError: exit code, hint, name of the subclass', () => {
  class Sub extends FusedetError {}
  const e = new Sub('bad thing', { exitCode: 2, hint: 'do this' });
  assert.is(e.exitCode, 2);
  assert.is(e.name, 'Sub');
  assert.is(formatUserError(e), 'bad thing\nhint: do this\n');
  assert.is(new FusedetError('x').exitCode, 1);
});

test('statUserFile: missing, folder, device, FIFO, too big: one message naming option and path', () => {
  throwsFile(() => statUserFile(join(root, 'nope.json'), { what: '--gt' }), 'ENOENT', /^--gt .*nope\.json: no such file/);
  throwsFile(() => statUserFile(root, { what: '--dets' }), 'EISDIR', /^--dets .*: is a folder, not a file/);
  throwsFile(() => statUserFile('/dev/zero', { what: 'import' }), 'NOTFILE', /a device, not a regular file/);
  const fifo = join(root, 'fifo');
  if (spawnSync('mkfifo', [fifo]).status === 0) throwsFile(() => statUserFile(fifo), 'NOTFILE', /pipe \(FIFO\)/);
  const big = join(root, 'big.txt');
  writeFileSync(big, 'x'.repeat(100));
  throwsFile(() => statUserFile(big, { maxBytes: 10 }), 'TOOBIG', /100 bytes, more than the 10-byte limit/);
});

test('readUserText drops a byte-order mark; describeStart says what a file starts with', () => {
  const p = join(root, 'bom.txt');
  writeFileSync(p, '\uFEFF{"a": 1}');
  assert.is(readUserText(p), '{"a": 1}');
  assert.is(describeStart(new Uint8Array()), 'the file is empty');
  assert.match(describeStart(readFileSync(p)), /byte-order mark/);
  assert.match(describeStart(Buffer.from('hello world\n')), /starts with "hello world\\n"/);
});

test('atomic write: replaces whole, leaves no temporary file', () => {
  const p = join(root, 'w', 'out.json');
  writeFileAtomicSync(p, 'one');
  writeFileAtomicSync(p, (w) => { w('tw'); w(new Uint8Array([111])); });
  assert.is(readFileSync(p, 'utf8'), 'two');
  assert.equal(readdirSync(join(root, 'w')), ['out.json']);
  throwsFile(() => writeFileAtomicSync(p, 'x', { overwrite: false }), 'EEXIST', /exists; pass --force/);
});

test('atomic write on a full disk: clear message with the bytes needed, temp removed, old file whole', async () => {
  const dir = join(root, 'full');
  mkdirSync(dir);
  const p = join(dir, 'log.json');
  writeFileSync(p, 'old');
  const e = throwsFile(() => writeFileAtomicSync(p, 'x'.repeat(5000), { what: 'log', fs: fullDisk(1000) }), 'ENOSPC', /^log .*log\.json: cannot write it: no space left on the device \(ENOSPC\); it needs 5000 bytes/);
  assert.match(e.hint!, /free at least 5000 bytes/);
  assert.is(readFileSync(p, 'utf8'), 'old');
  assert.equal(readdirSync(dir), ['log.json']);
  // Streaming producer, async: size unknown, the message says how far it got.
  try {
    await writeFileAtomic(p, async (w) => { for (let i = 0; i < 10; i++) w('y'.repeat(300)); }, { fs: fullDisk(1000) });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /more than the 1000 bytes written/);
  }
  assert.equal(readdirSync(dir), ['log.json']);
});

test('atomic write: a producer error is passed through and the temp removed', () => {
  const dir = join(root, 'prod');
  try {
    writeFileAtomicSync(join(dir, 'a.txt'), (w) => { w('part'); throw new RangeError('mine'); });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, RangeError);
  }
  assert.equal(readdirSync(dir), []);
});

test('atomic write into an unwritable place names it', () => {
  throwsFile(() => writeFileAtomicSync('/proc/fusedet-nope/x.json', 'x', { what: '--out' }), fs.existsSync('/proc') ? 'ENOENT' : 'ENOENT', /^--out \/proc\/fusedet-nope/);
});

test.run();
