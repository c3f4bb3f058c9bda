// A loaded program on the CPU: inputs in place, params resident across runs,
// outputs owned by the caller, the SGEMM over thread counts, clear errors for
// bad inputs and for buffers larger than memory allows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomTensor, tensor } from '../../compiler/tensor.js';
import { loadUnits, nativeOrThrow } from '../../runtime-cpu/load.js';
import { BufferTooLarge, InputMismatch } from '../../runtime-cpu/errors.js';
import { GEMM_V16, GEMM_V8, gemmProgram, gemmSource } from '../../bench/gemm-kernel.js';
import { ELEMENTWISE_C, addSquareProgram, gemmReference } from './kernels.js';

/** uvu has no async throws: resolves when fn rejects with an error matching `want`. */
async function rejects(fn: () => Promise<unknown>, want: RegExp | ((e: unknown) => boolean)): Promise<void> {
  let error: unknown;
  try { await fn(); } catch (e) { error = e; }
  if (error === undefined) assert.unreachable(`expected a rejection matching ${String(want)}`);
  if (want instanceof RegExp) assert.match((error as Error).message, want);
  else assert.ok(want(error), `unexpected error: ${(error as Error).message}`);
}

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-exe-test-'));
const native = nativeOrThrow();

test('two launches with a resident param; params persist across runs and can change', async () => {
  const n = 1000;
  const exe = await loadUnits(addSquareProgram(n), [ELEMENTWISE_C]);
  await exe.setParams(new Map([['bias', tensor('f32', [1], [2])]]));
  const a = randomTensor([n], 1), b = randomTensor([n], 2);
  const want = (bias: number): Float32Array => a.data.map((x, i) => {
    const s = Math.fround(x + b.data[i]);
    return Math.fround(Math.fround(s * s) + bias);
  }) as Float32Array;
  for (let run = 0; run < 2; run++) {
    const { out } = await exe.run({ a, b });
    assert.equal(out.shape, [n]);
    assert.equal(Array.from(out.data), Array.from(want(2)), `run ${run}`);
  }
  await exe.setParams({ bias: tensor('f32', [1], [-1]) });
  assert.equal(Array.from((await exe.getParam('bias')).data), [-1]);
  const { out } = await exe.run({ a, b });
  assert.equal(Array.from(out.data), Array.from(want(-1)));
  // The caller owns outputs: a later run does not change them.
  const first = (await exe.run({ a, b })).out;
  const copy = Array.from(first.data);
  await exe.run({ a: randomTensor([n], 3), b });
  assert.equal(Array.from(first.data), copy);
});

test('sgemm equals a double-precision loop at odd sizes, 1..4 threads, both vector widths', async () => {
  for (const shape of [GEMM_V16, GEMM_V8]) {
    for (const [m, n, k] of [[1, 1, 1], [37, 45, 29], [130, 261, 300]]) {
      const exe = await loadUnits(gemmProgram(m, n, k, shape), [gemmSource(shape)]);
      const a = randomTensor([m, k], m + k), b = randomTensor([k, n], n);
      const want = gemmReference(a.data as Float32Array, b.data as Float32Array, m, n, k);
      for (let threads = 1; threads <= 4; threads++) {
        native.setThreads(threads);
        const c = (await exe.run({ a, b })).c.data;
        let worst = 0;
        for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(c[i] - want[i]));
        // |a|,|b| ≤ 1: the f32 sum of k products is within k·2⁻²³·k of exact.
        assert.ok(worst <= 1e-6 * k * Math.sqrt(k) + 1e-6, `v${shape.vectorWidth} ${m}x${n}x${k} threads ${threads}: max error ${worst}`);
      }
    }
  }
});

test('a wrong, missing or unknown input is refused with the name and what was expected', async () => {
  const exe = await loadUnits(addSquareProgram(16), [ELEMENTWISE_C]);
  const a = randomTensor([16], 1);
  await rejects(() => exe.run({ a }), (e: unknown) => e instanceof InputMismatch && /input 'b' is missing/.test((e as Error).message));
  await rejects(() => exe.run({ a, b: randomTensor([15], 1) }), /input 'b' has 15 elements .* expects 16/);
  await rejects(() => exe.run({ a, b: tensor('i32', [16], new Array(16).fill(0)) }), /input 'b' is i32, the program expects f32/);
  await rejects(() => exe.run({ a, b: a, c: a }), /no input named 'c'; its inputs: a, b/);
  await rejects(() => exe.run({ a, b: { dtype: 'f32', shape: [16], data: new Float64Array(16) } }), /input 'b' is held in a Float64Array/);
  await rejects(() => exe.setParams({ nope: a }), /no param named 'nope'/);
});

test('a buffer larger than allowed memory fails with its size, not a crash', async () => {
  const huge = addSquareProgram(16);
  huge.buffers[2] = { ...huge.buffers[2], bytes: 2 ** 50 };
  await rejects(() => loadUnits(huge, [ELEMENTWISE_C]), (e: unknown) =>
    e instanceof BufferTooLarge && /1\.0 PiB \(1125899906842624 bytes\)/.test((e as Error).message) && /buffer 2/.test((e as Error).message));
  // Under an explicit limit, the total counts too.
  process.env.FUSEDET_CPU_MEMORY_LIMIT = String(1000);
  try {
    await rejects(() => loadUnits(addSquareProgram(200), [ELEMENTWISE_C]), /cannot allocate the program's 5 buffers: .*exceeds the 1000 B/);
  } finally {
    delete process.env.FUSEDET_CPU_MEMORY_LIMIT;
  }
});

test('per-launch times are recorded at FUSEDET_DEBUG=2', async () => {
  process.env.FUSEDET_DEBUG = '2';
  const write = process.stderr.write.bind(process.stderr);
  const lines: string[] = [];
  process.stderr.write = ((s: string) => { lines.push(String(s)); return true; }) as typeof process.stderr.write;
  try {
    const exe = await loadUnits(addSquareProgram(300), [ELEMENTWISE_C]);
    await exe.run({ a: randomTensor([300], 1), b: randomTensor([300], 2) });
    assert.equal(exe.lastTimes().map((t) => t.kernel), ['add_f32', 'square_bias_f32']);
    assert.ok(lines.some((l) => /launch 1 square_bias_f32 grid 2: [\d.]+ ms/.test(l)), lines.join(''));
    assert.ok(lines.some((l) => /cpu: 3 kernels: (cache hit|1 unit\(s\) compiled) in [\d.]+ s, \d+ threads/.test(l)), lines.join(''));
  } finally {
    process.stderr.write = write;
    delete process.env.FUSEDET_DEBUG;
  }
});

test.run();
