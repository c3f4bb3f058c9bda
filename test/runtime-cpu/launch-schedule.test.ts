// The CPU pool's schedule (runtime-cpu/plan.ts scheduleLaunches, run by
// native/cpu_pool.cc): barriers only where a launch depends on unfinished
// work, consecutive small launches in serial runs on one thread, a list of
// serial runs only on the calling thread; malformed schedules refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Program } from '../../compiler/program.js';
import type { Expr, KBuf, Stmt } from '../../compiler/kernel/ir.js';
import { buildLibrary } from '../../runtime-cpu/build.js';
import { tryNativeCpu, nativeFailure } from '../../runtime-cpu/native.js';
import { launchWork, packLaunches, scheduleLaunches, SERIAL_WORK } from '../../runtime-cpu/plan.js';
import { handKernel } from '../../runtime-cpu/hand.js';
import { ELEMENTWISE_C, ELEMENTWISE_KERNELS, WG } from './kernels.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-schedule-test-'));
const native = tryNativeCpu();

const R: KBuf = { dtype: 'f32', access: 'r' }, W: KBuf = { dtype: 'f32', access: 'w' }, RW: KBuf = { dtype: 'f32', access: 'rw' };
const gid: Expr = { k: 'gid' };
/** y[gid] = x[gid] (+ a loop of `trips` adds when given): 2 operations per thread, or more. */
function copyKernel(bufs: readonly KBuf[], trips?: Expr): Program['kernels'][number] {
  const store: Stmt = { k: 'store', buf: bufs.length - 1, idx: gid, v: { k: 'load', buf: 0, idx: gid, t: 'f32' } };
  const body: Stmt[] = trips ? [{ k: 'for', v: 'j', from: { k: 'const', t: 'i64', v: 0 }, to: trips, body: [store] }] : [store];
  return { name: 'copy', hash: 'copy', workgroupSize: 1, ir: { name: 'copy', bufs, nargs: 1, workgroupSize: 1, locals: [], regs: [], body } };
}
const BIG = SERIAL_WORK; // a grid this large is worth splitting
const at = (kernel: number, buffers: number[], grid = BIG, args: number[] = [0]) => ({ kernel, buffers, args, grid });
const entries = (p: Pick<Program, 'launches' | 'kernels'>) => [...scheduleLaunches(p).entries];

test('work: threads × operations, loops by their bounds from constants and args; unknown bounds and hand kernels unbounded', () => {
  const k = copyKernel([R, W]);
  assert.is(launchWork(k, at(0, [0, 1], 10)), 10 * 2);
  const looped = copyKernel([R, W], { k: 'arg', i: 0 });
  assert.is(launchWork(looped, at(0, [0, 1], 3, [7])), 3 * 7 * 3);
  assert.is(launchWork(copyKernel([R, W], { k: 'var', name: 'n', t: 'i64' }), at(0, [0, 1], 1)), Number.POSITIVE_INFINITY);
  assert.is(launchWork(handKernel('add_f32', [R, R, W], 1), at(0, [0, 1, 2], 1)), Number.POSITIVE_INFINITY);
});

test('independent launches share no barrier; reading a write, writing a read and writing a write each wait', () => {
  const kernels = [copyKernel([R, W]), copyKernel([R, RW])];
  // Three launches reading buffer 0 into 1, 2, 3: no dependency.
  assert.equal(entries({ kernels, launches: [at(0, [0, 1]), at(0, [0, 2]), at(0, [0, 3])] }), [0, 0, 0]);
  // Read after write, two launches later: the barrier covers everything since the last one.
  assert.equal(entries({ kernels, launches: [at(0, [0, 1]), at(0, [0, 2]), at(0, [1, 3])] }), [0, 0, 1]);
  // Write after read (a temporary's buffer reused), write after write, read-write.
  assert.equal(entries({ kernels, launches: [at(0, [1, 2]), at(0, [0, 1])] }), [0, 1]);
  assert.equal(entries({ kernels, launches: [at(0, [0, 1]), at(0, [2, 1])] }), [0, 1]);
  assert.equal(entries({ kernels, launches: [at(0, [0, 1]), at(1, [2, 0])] }), [0, 1]);
  // After a barrier only what follows it counts: 3 reads 1, written before the barrier.
  assert.equal(entries({ kernels, launches: [at(0, [0, 1]), at(0, [1, 2]), at(0, [1, 3])] }), [0, 1, 0]);
});

test('consecutive small launches form serial runs; a run waits only for what runs beside it', () => {
  const kernels = [copyKernel([R, W])];
  // A dependent chain of tiny launches: one run of 3, no barrier; a big reader of its result waits.
  assert.equal(entries({ kernels, launches: [at(0, [0, 1], 1), at(0, [1, 2], 1), at(0, [2, 3], 1), at(0, [3, 4])] }), [3 << 1, 0, 0, 1]);
  // A tiny launch reading a big launch's output waits, and starts a new run.
  assert.equal(entries({ kernels, launches: [at(0, [0, 1]), at(0, [1, 2], 1), at(0, [2, 3], 1)] }), [0, (2 << 1) | 1, 0]);
  // A big launch between two tiny ones ends the run (the second starts its own); nothing here depends: no barrier.
  assert.equal(entries({ kernels, launches: [at(0, [0, 1], 1), at(0, [0, 2]), at(0, [0, 3], 1)] }), [1 << 1, 0, 1 << 1]);
  // Reading what the earlier run wrote waits for it, though a big launch came between.
  assert.equal(entries({ kernels, launches: [at(0, [0, 1], 1), at(0, [0, 2]), at(0, [1, 3], 1)] }), [1 << 1, 0, (1 << 1) | 1]);
  // A tiny launch depending on a big one beside the open run waits for it.
  assert.equal(entries({ kernels, launches: [at(0, [0, 1]), at(0, [0, 2], 1), at(0, [1, 3], 1)] }), [0, 1 << 1, (1 << 1) | 1]);
  // One big workgroup (a loop of SERIAL_WORK trips) joins a run it depends on; one that does not starts its own.
  const loops = [copyKernel([R, W]), copyKernel([R, W], { k: 'arg', i: 0 })];
  assert.ok(launchWork(loops[1], at(1, [1, 2], 1, [BIG])) > SERIAL_WORK);
  assert.equal(entries({ kernels: loops, launches: [at(0, [0, 1], 1), at(1, [1, 2], 1, [BIG]), at(1, [0, 3], 1, [BIG])] }), [2 << 1, 0, 1 << 1]);
  const s = scheduleLaunches({ kernels, launches: [at(0, [0, 1], 1), at(0, [1, 2], 1), at(0, [2, 3])] });
  assert.is(s.barriers, 1);
  assert.is(s.serialLaunches, 2);
});

/** gettid() of the thread that ran each launch, into tids[args[0]]. */
const TID_C = `#define _GNU_SOURCE
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>
void record_tid(void *const *bufs, const int64_t *args, int64_t wg_begin, int64_t wg_end) {
  int32_t *tids = bufs[0];
  for (int64_t g = wg_begin; g < wg_end; g++) tids[args[0]] = (int32_t)syscall(SYS_gettid);
}
`;

test('a serial run runs on one thread; a list of serial runs only on the calling thread (1..4 threads)', async () => {
  assert.ok(native, nativeFailure());
  const { path } = await buildLibrary([TID_C]);
  const lib = native!.loadLibrary(path, ['record_tid']);
  const n = 64;
  const plan = packLaunches(Array.from({ length: n }, (_, i) => ({ kernel: 0, buffers: [0], args: [i], grid: 1 })), new Map([[0, 0]]));
  for (let threads = 1; threads <= 4; threads++) {
    native!.setThreads(threads);
    const tids = new Int32Array(n);
    const allSerial = new Int32Array(n);
    allSerial[0] = 40 << 1;
    allSerial[40] = (24 << 1) | 1;
    native!.runLaunches(lib, plan, [tids], allSerial);
    // The main thread's id is the process id on Linux.
    assert.ok(tids.every((t) => t === process.pid), `threads ${threads}: ${[...new Set(tids)].join(',')} vs pid ${process.pid}`);
    // A run of 32 among split launches: all on one thread.
    const mixed = new Int32Array(n);
    mixed[16] = (32 << 1) | 1;
    mixed[48] = 1;
    tids.fill(0);
    native!.runLaunches(lib, plan, [tids], mixed);
    assert.ok(tids.every((t) => t !== 0), 'every launch ran');
    assert.is(new Set(tids.subarray(16, 48)).size, 1, `threads ${threads}: the run went over ${new Set(tids.subarray(16, 48)).size} threads`);
  }
});

test('scheduled lists give the results of a barrier after every launch (1..4 threads)', async () => {
  const { path } = await buildLibrary([ELEMENTWISE_C]);
  const lib = native!.loadLibrary(path, ELEMENTWISE_KERNELS);
  const n = WG * 16 + 5, grid = Math.ceil(n / WG);
  // rev_add chains (each workgroup reads another's output) interleaved with
  // independent count launches, as a Program for the scheduler.
  const kernels = ELEMENTWISE_KERNELS.map((name) => (name === 'count_wg' ? handKernel(name, [{ dtype: 'i32', access: 'rw' }], 0) : handKernel(name, [R, R, W], 1, WG)));
  const launches: Program['launches'] = [];
  for (let k = 0; k < 200; k++) {
    launches.push({ kernel: 3, buffers: [k % 2, 2, (k + 1) % 2], args: [n], grid });
    launches.push({ kernel: 2, buffers: [3 + (k % 3)], args: [], grid: 5 });
  }
  const schedule = scheduleLaunches({ kernels, launches });
  assert.ok(schedule.barriers < launches.length / 2 + 3, `${schedule.barriers} barriers for ${launches.length} launches`);
  const plan = packLaunches(launches, new Map(Array.from({ length: 6 }, (_, i) => [i, i] as [number, number])));
  for (let threads = 1; threads <= 4; threads++) {
    native!.setThreads(threads);
    const ping = new Float32Array(n), pong = new Float32Array(n), ones = new Float32Array(n).fill(1);
    const counts = [0, 1, 2].map(() => new Int32Array(5));
    native!.runLaunches(lib, plan, [ping, pong, ones, ...counts], schedule.entries);
    assert.ok(ping.every((x) => x === 200), `threads ${threads}: ping ${ping.subarray(0, 4).join(',')}`);
    assert.equal(counts.map((c) => [...c]), [[67, 67, 67, 67, 67], [67, 67, 67, 67, 67], [66, 66, 66, 66, 66]]);
  }
});

test('a malformed schedule is refused before anything runs', async () => {
  const { path } = await buildLibrary([ELEMENTWISE_C]);
  const lib = native!.loadLibrary(path, ELEMENTWISE_KERNELS);
  const counts = new Int32Array(4);
  const plan = packLaunches(Array(3).fill({ kernel: 2, buffers: [0], args: [], grid: 4 }), new Map([[0, 0]]));
  assert.throws(() => native!.runLaunches(lib, plan, [counts], new Int32Array(2)), /2 entries for 3 launches/);
  assert.throws(() => native!.runLaunches(lib, plan, [counts], Int32Array.of(4 << 1, 0, 0)), /runs past the last launch/);
  assert.throws(() => native!.runLaunches(lib, plan, [counts], Int32Array.of(2 << 1, 1, 0)), /inside a serial run/);
  assert.throws(() => native!.runLaunches(lib, plan, [counts], Int32Array.of(0, -1, 0)), /runs past the last launch/);
  assert.throws(() => native!.runLaunches(lib, plan, [counts], new Uint8Array(3) as unknown as Int32Array), /must be an Int32Array/);
  assert.ok(counts.every((c) => c === 0));
  native!.runLaunches(lib, plan, [counts], Int32Array.of(3 << 1, 0, 0));
  assert.ok(counts.every((c) => c === 3));
});

test.run();
