import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, SafetensorsError } from '../../models/checkpoint/safetensors.js';
import { Tensor, tensor } from '../../compiler/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-st-'));
let n = 0;
const fresh = (): string => join(dir, `f${n++}.safetensors`);

function sample(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ['a.weight', tensor('f32', [2, 3], [1, -2.5, 3e-8, Infinity, -0, 6])],
    ['b', tensor('i32', [4], [1, -1, 2147483647, -2147483648])],
    ['mask', tensor('bool', [3], [1, 0, 1])],
    ['half', tensor('f16', [3], [1, 0.5, -65504])],
    ['empty', tensor('f32', [0, 2], [])],
    ['scalar', tensor('f32', [], [7])],
  ]);
}

/** A file written by hand the way the Python library lays it out. */
function handMade(headerObj: object, data: Uint8Array): Buffer {
  const h = Buffer.from(JSON.stringify(headerObj));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

function throwsNaming(path: string, re: RegExp): void {
  try { readSafetensors(path); } catch (e) {
    assert.instance(e, SafetensorsError);
    assert.is((e as SafetensorsError).exitCode, 1);
    assert.ok((e as Error).message.startsWith(path), (e as Error).message);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`reading ${path} should fail with ${re}`);
}

test('round trip keeps names, order, dtypes, shapes, values and metadata', () => {
  const p = fresh();
  const t = sample();
  writeSafetensors(p, t, { step: '12', config: '{"lr":0.01}' });
  const r = readSafetensors(p);
  assert.equal([...r.tensors.keys()], [...t.keys()]);
  for (const [name, want] of t) {
    const got = r.tensors.get(name)!;
    assert.is(got.dtype, want.dtype, name);
    assert.equal([...got.shape], [...want.shape], name);
    assert.equal(Array.from(got.data), Array.from(want.data), name);
  }
  assert.ok(Object.is(r.tensors.get('a.weight')!.data[4], -0));
  assert.equal(r.metadata, { step: '12', config: '{"lr":0.01}' });
  // Header length is a multiple of 8 (padding), the data follows it.
  const bytes = readFileSync(p);
  assert.is(Number(bytes.readBigUInt64LE(0)) % 8, 0);
});

test('reads a file laid out by another writer (offsets out of order)', () => {
  const p = fresh();
  const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
  writeFileSync(p, handMade({ y: { dtype: 'F32', shape: [1], data_offsets: [8, 12] }, x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data));
  const r = readSafetensors(p);
  assert.equal(Array.from(r.tensors.get('x')!.data), [1, 2]);
  assert.equal(Array.from(r.tensors.get('y')!.data), [3]);
});

test('refuses to overwrite an existing file', () => {
  const p = fresh();
  writeSafetensors(p, sample());
  assert.throws(() => writeSafetensors(p, sample()), /EEXIST/);
});

test('truncated files: every cut is an error naming the file', () => {
  const p = fresh();
  writeSafetensors(p, sample());
  const whole = readFileSync(p);
  for (const cut of [0, 5, 8, 20, whole.length - 30, whole.length - 1]) {
    const q = fresh();
    writeFileSync(q, whole.subarray(0, cut));
    throwsNaming(q, /truncated|corrupt/);
  }
  const q = fresh();
  writeFileSync(q, whole.subarray(0, whole.length - 4));
  throwsNaming(q, /truncated: tensor 'scalar'/);
});

test('corrupt headers and bad entries name the tensor', () => {
  const f32 = new Uint8Array(8);
  const cases: [object | string, RegExp][] = [
    ['{not json', /not JSON/],
    ['[1,2]', /not a JSON object/],
    [{ w: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, /tensor 'w': dtype "Q7"/],
    [{ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, /tensor 'w': shape/],
    [{ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, /tensor 'w': data_offsets \[0, 8\] hold 8 bytes, F32\[3\] needs 12/],
    [{ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, /tensor 'w': data_offsets/],
    [{ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, v: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, /overlaps/],
    [{ w: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, /tensor 'w': data starts at byte 4.*hole/],
    [{ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, /4 bytes after the last tensor/],
    [{ __metadata__: { a: 3 }, w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, /__metadata__.a is not a string/],
  ];
  for (const [h, re] of cases) {
    const p = fresh();
    if (typeof h === 'string') {
      const hb = Buffer.from(h);
      const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(hb.length));
      writeFileSync(p, Buffer.concat([len, hb, f32]));
    } else writeFileSync(p, handMade(h, f32));
    throwsNaming(p, re);
  }
  const p = fresh();
  const len = Buffer.alloc(8); len.writeBigUInt64LE(1n << 40n);
  writeFileSync(p, Buffer.concat([len, Buffer.alloc(16)]));
  throwsNaming(p, /header length .* exceeds/);
  throwsNaming(join(dir, 'nope.safetensors'), /no such file or folder \(ENOENT\)/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
