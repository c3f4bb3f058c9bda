// The native addon itself: dlopen, symbol lookup, the packed launch plan, the
// thread pool (every workgroup exactly once, launches in order) and alloc.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildLibrary } from '../../runtime-cpu/build.js';
import { tryNativeCpu, nativeFailure } from '../../runtime-cpu/native.js';
import { packLaunches } from '../../runtime-cpu/plan.js';
import { ELEMENTWISE_C, ELEMENTWISE_KERNELS, WG } from '../runtime-cpu/kernels.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-native-test-'));
const native = tryNativeCpu();
const identity = new Map(Array.from({ length: 8 }, (_, i) => [i, i] as [number, number]));

test('the addon loads and reports a thread count', () => {
  assert.ok(native, nativeFailure());
  assert.ok(native!.threads() >= 1);
});

test('alloc gives zeroed buffers of the asked size', () => {
  const buf = native!.alloc(1000);
  assert.is(buf.byteLength, 1000);
  assert.ok(new Uint8Array(buf).every((x) => x === 0));
  assert.is(native!.alloc(0).byteLength, 0);
});

test('alloc recycles a collected buffer of the same size, zeroed again', () => {
  // gc() needs --expose-gc: a child process, so this file's other tests keep Node's defaults;
  // --single-threaded-gc sweeps the collected buffer inside gc(), not on a background thread.
  const child = `
    import { tryNativeCpu } from ${JSON.stringify(new URL('../../runtime-cpu/native.js', import.meta.url).href)};
    const native = tryNativeCpu();
    const before = native.recycled().reused;
    // Filled inside a function, so no reference to the buffer outlives it.
    const dropped = (bytes, zero) => { new Uint8Array(native.alloc(bytes, zero)).fill(7); };
    for (const [bytes, zero] of [[1 << 20, true], [3 << 20, false], [100 << 10, true]]) {
      dropped(bytes, zero);
      gc();
      await new Promise((r) => setTimeout(r, 10)); // finalizers run after the collection
      const again = native.alloc(bytes, zero);
      if (again.byteLength !== bytes) throw new Error('size ' + again.byteLength + ' for ' + bytes);
      if (zero && !new Uint8Array(again).every((x) => x === 0)) throw new Error('a recycled buffer was not zeroed');
    }
    console.log(JSON.stringify({ reused: native.recycled().reused - before, cap: native.recycled().cap }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--single-threaded-gc', '--input-type=module', '-e', child], { encoding: 'utf8' });
  const { reused, cap } = JSON.parse(out.trim().split('\n').pop()!);
  assert.is(reused, 3, 'each collected buffer of 64 KiB or more came back for the next alloc of its size');
  assert.ok(cap > 0 && cap <= 256 * 2 ** 20);
});

test('loadLibrary names a missing symbol and a missing file', async () => {
  const { path } = await buildLibrary([ELEMENTWISE_C]);
  assert.throws(() => native!.loadLibrary(path, ['add_f32', 'no_such_kernel']), /kernel 'no_such_kernel' is missing/);
  assert.throws(() => native!.loadLibrary('/nonexistent/lib.so', []), /cannot load kernel library/);
});

test('every workgroup runs exactly once, for any grid and 1..4 threads', async () => {
  const { path } = await buildLibrary([ELEMENTWISE_C]);
  const lib = native!.loadLibrary(path, ELEMENTWISE_KERNELS);
  for (let threads = 1; threads <= 4; threads++) {
    native!.setThreads(threads);
    assert.is(native!.threads(), threads);
    for (const grid of [0, 1, 2, 3, 5, 7, 64, 1001]) {
      const counts = new Int32Array(Math.max(grid, 1));
      // Three launches of the same kernel: each workgroup counted three times.
      native!.runLaunches(lib, packLaunches(Array(3).fill({ kernel: 2, buffers: [0], args: [], grid }), identity), [counts]);
      assert.ok(counts.subarray(0, grid).every((c) => c === 3), `threads ${threads}, grid ${grid}: ${counts.subarray(0, 16).join(',')}`);
    }
  }
});

test('launches run in order: the second sees all of the first (1..4 threads)', async () => {
  const { path } = await buildLibrary([ELEMENTWISE_C]);
  const lib = native!.loadLibrary(path, ELEMENTWISE_KERNELS);
  const n = WG * 37 + 5;
  const a = Float32Array.from({ length: n }, (_, i) => (i % 13) - 6);
  const b = Float32Array.from({ length: n }, (_, i) => (i % 7) * 0.5);
  const bias = Float32Array.of(0.25);
  const want = a.map((x, i) => Math.fround(Math.fround(x + b[i]) * Math.fround(x + b[i])) + 0.25);
  const grid = Math.ceil(n / WG);
  const plan = packLaunches([
    { kernel: 0, buffers: [0, 1, 2], args: [n], grid },
    { kernel: 1, buffers: [2, 3, 4], args: [n], grid },
  ], identity);
  for (let threads = 1; threads <= 4; threads++) {
    native!.setThreads(threads);
    const tmp = native!.alloc(n * 4);
    const out = new Float32Array(n);
    // Buffers as ArrayBuffer, TypedArray and a view with an offset: all used in place.
    const padded = new Float32Array(n + 3);
    padded.set(a, 3);
    native!.runLaunches(lib, plan, [padded.subarray(3), b, tmp, bias.buffer, out]);
    for (let i = 0; i < n; i++) if (out[i] !== Math.fround(want[i])) assert.unreachable(`threads ${threads}: out[${i}] = ${out[i]}, want ${want[i]}`);
  }
});

test('a long chain of dependent launches in one call: no thread runs ahead of a barrier (2..4 threads)', async () => {
  const { path } = await buildLibrary([ELEMENTWISE_C]);
  const lib = native!.loadLibrary(path, ELEMENTWISE_KERNELS);
  const n = WG * 64 + 17, grid = Math.ceil(n / WG), steps = 1001;
  // Ping-pong: step k computes buf[(k+1)%2][i] = buf[k%2][n-1-i] + 1, so the
  // end value counts completed steps, and every workgroup depends on another's.
  const launches = Array.from({ length: steps }, (_, k) => ({ kernel: 3, buffers: [k % 2, 2, (k + 1) % 2], args: [n], grid }));
  const plan = packLaunches(launches, identity);
  for (let threads = 2; threads <= 4; threads++) {
    native!.setThreads(threads);
    const ping = new Float32Array(n), pong = new Float32Array(n), ones = new Float32Array(n).fill(1);
    native!.runLaunches(lib, plan, [ping, pong, ones]);
    const last = steps % 2 === 0 ? ping : pong;
    const bad = last.findIndex((x) => x !== steps);
    assert.is(bad, -1, `threads ${threads}: element ${bad} is ${last[bad]}, want ${steps}`);
  }
});

test('a malformed plan is refused before anything runs', async () => {
  const { path } = await buildLibrary([ELEMENTWISE_C]);
  const lib = native!.loadLibrary(path, ELEMENTWISE_KERNELS);
  const counts = new Int32Array(4);
  assert.throws(() => native!.runLaunches(lib, BigInt64Array.of(1n, 9n, 4n, 1n, 0n, 0n), [counts]), /names kernel 9/);
  assert.throws(() => native!.runLaunches(lib, BigInt64Array.of(1n, 2n, 4n, 1n, 0n, 5n), [counts]), /uses buffer 5/);
  assert.throws(() => native!.runLaunches(lib, BigInt64Array.of(2n, 2n, 4n, 1n, 0n, 0n), [counts]), /truncated/);
  assert.throws(() => native!.runLaunches(lib, BigInt64Array.of(1n, 2n, 4n, 1n, 0n, 0n), [42 as unknown as ArrayBuffer]), /ArrayBuffer, a TypedArray or null/);
  assert.throws(() => native!.runLaunches(lib, BigInt64Array.of(1n, 2n, 4n, 1n, 0n, 0n), [null]), /uses buffer 0, which is null/);
  // An empty array is a buffer, not a missing one (grid 0: nothing reads it).
  native!.runLaunches(lib, BigInt64Array.of(1n, 2n, 0n, 1n, 0n, 0n), [new Int32Array(0)]);
  assert.ok(counts.every((c) => c === 0));
});

test('FUSEDET_THREADS sets the pool size of a new process', () => {
  const script = `import('${new URL('../../runtime-cpu/native.js', import.meta.url).href}').then((m) => process.stdout.write(String(m.tryNativeCpu().threads())))`;
  for (const n of ['1', '3']) {
    const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, FUSEDET_THREADS: n } }).toString();
    assert.is(out, n);
  }
});

test('setThreads rejects nonsense', () => {
  assert.throws(() => native!.setThreads(0), /1\.\.1024/);
});

test.run();
