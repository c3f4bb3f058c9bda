// When CUDA graphs are used (runtime-cuda/graphs.ts), without a GPU: the
// pure decision, and the runner against a stand-in addon that records what it
// is asked to do (capture, replay, plain launches) and can refuse capture or
// replay. The stand-in's "kernels" add 1 to a counter per launch, so a wrong
// fallback (a run done twice, or not at all) shows in the result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Program } from '../../compiler/program.js';
import { DeviceAllocator } from '../../runtime-cuda/allocator.js';
import { CudaExecutable } from '../../runtime-cuda/executable.js';
import { AUTO_MIN_LAUNCHES, GraphContext, GraphRunner, chooseGraph, graphMode, workingLaunches } from '../../runtime-cuda/graphs.js';
import type { CudaGraph, CudaModule, HostCopy, NativeCuda, RunOptions } from '../../runtime-cuda/native.js';
import { packCudaLaunches } from '../../runtime-cuda/plan.js';

const base: GraphContext = { mode: 'auto', timing: false, syncEach: false, launches: 40, run: 2, refused: false };

test('FUSEDET_CUDA_GRAPHS: 0, 1, auto (default); anything else is refused naming the value', () => {
  assert.is(graphMode({}), 'auto');
  assert.is(graphMode({ FUSEDET_CUDA_GRAPHS: 'auto' }), 'auto');
  assert.is(graphMode({ FUSEDET_CUDA_GRAPHS: '0' }), 'off');
  assert.is(graphMode({ FUSEDET_CUDA_GRAPHS: '1' }), 'on');
  assert.throws(() => graphMode({ FUSEDET_CUDA_GRAPHS: 'yes' }), (e: Error) => e.name === 'CudaRunError' && /FUSEDET_CUDA_GRAPHS=yes is not understood: use 0/.test(e.message));
});

test('chooseGraph: auto replays from the second run of a large enough plan; timing, sync, off and refusals keep plain launches', () => {
  assert.equal(chooseGraph(base), { use: true });
  assert.equal(chooseGraph({ ...base, run: 1 }), { use: false, why: 'the first run of this launch list' });
  assert.equal(chooseGraph({ ...base, launches: AUTO_MIN_LAUNCHES - 1 }), { use: false, why: `fewer than ${AUTO_MIN_LAUNCHES} launches` });
  assert.equal(chooseGraph({ ...base, launches: AUTO_MIN_LAUNCHES }), { use: true });
  assert.equal(chooseGraph({ ...base, mode: 'on', run: 1, launches: 1 }), { use: true }, 'FUSEDET_CUDA_GRAPHS=1: any size, first run');
  assert.equal(chooseGraph({ ...base, mode: 'on', launches: 0 }), { use: false, why: 'no launches' });
  for (const mode of ['on', 'auto'] as const) {
    assert.equal(chooseGraph({ ...base, mode, timing: true }), { use: false, why: 'per-launch timing (FUSEDET_DEBUG=2)' });
    assert.equal(chooseGraph({ ...base, mode, syncEach: true }), { use: false, why: 'FUSEDET_CUDA_SYNC=1' });
    assert.equal(chooseGraph({ ...base, mode, refused: true }), { use: false, why: 'the CUDA graph of this launch list was refused earlier' });
  }
  assert.equal(chooseGraph({ ...base, mode: 'off' }), { use: false, why: 'FUSEDET_CUDA_GRAPHS=0' });
});

/** A program of `n` launches of one kernel, the last one empty (grid 0). */
function chain(n: number): Program {
  return {
    buffers: [{ id: 0, bytes: 4, dtype: 'f32', role: 'input', name: 'x', shape: [1] }, { id: 1, bytes: 4, dtype: 'f32', role: 'output', name: 'y', shape: [1] }],
    kernels: [{ name: 'k0_inc', hash: 'h', workgroupSize: 32, ir: { name: 'k0_inc', bufs: [], nargs: 1, workgroupSize: 32, locals: [], regs: [], body: [] } }],
    launches: Array.from({ length: n }, (_, i) => ({ kernel: 0, buffers: [0, 1], args: [i], grid: i === n - 1 ? 0 : 1 })),
    inputs: { x: 0 }, outputs: { y: 1 }, params: {}, peakBytes: 8,
  };
}

test('workingLaunches counts launches with grid > 0 in a packed plan', () => {
  const p = chain(5);
  assert.is(workingLaunches(packCudaLaunches(p, p.launches, new Map([[0, 0], [1, 1]]))), 4);
  assert.is(workingLaunches(new BigInt64Array([0n])), 0);
});

/** Device memory in host arrays; y = x + (number of working launches), however they are run. */
class FakeDevice {
  memory = new Map<bigint, Float32Array>();
  next = 0x1000n;
  generation = 0;
  calls: string[] = [];
  live = new Set<object>();
  refuseCapture?: Error;
  refuseReplay?: Error & { notLaunched?: boolean };

  private exec(plan: BigInt64Array, slots: BigInt64Array, ups: readonly HostCopy[], downs: readonly HostCopy[]): void {
    for (const [p, v] of ups) this.memory.get(p)!.set(v as Float32Array);
    const y = this.memory.get(slots[1])!;
    y[0] = this.memory.get(slots[0])![0] + workingLaunches(plan);
    for (const [p, v] of downs) (v as Float32Array).set(this.memory.get(p)!.subarray(0, (v as Float32Array).length));
  }

  native(): NativeCuda {
    return {
      alloc: (bytes: number) => { const p = this.next; this.next += 0x100n; this.memory.set(p, new Float32Array(bytes / 4)); return p; },
      free: () => undefined,
      zero: (p: bigint) => this.memory.get(p)!.fill(0),
      generation: () => this.generation,
      run: (_m: CudaModule, plan: BigInt64Array, slots: BigInt64Array, ups: readonly HostCopy[], downs: readonly HostCopy[], o: RunOptions) => {
        this.calls.push('run');
        this.exec(plan, slots, ups, downs);
        return o.timing ? new Float64Array(Number(plan[0])).fill(0.25) : undefined;
      },
      captureGraph: (_m: CudaModule, plan: BigInt64Array, slots: BigInt64Array) => {
        this.calls.push('capture');
        if (this.refuseCapture) throw this.refuseCapture;
        const g = { plan: plan.slice(), slots: slots.slice() };
        this.live.add(g);
        return g as unknown as CudaGraph;
      },
      runGraph: (graph: CudaGraph, ups: readonly HostCopy[], downs: readonly HostCopy[]) => {
        this.calls.push('replay');
        if (this.refuseReplay) throw this.refuseReplay;
        const g = graph as unknown as { plan: BigInt64Array; slots: BigInt64Array };
        assert.ok(this.live.has(g), 'a destroyed graph was replayed');
        this.exec(g.plan, g.slots, ups, downs);
      },
      destroyGraph: (graph: CudaGraph) => { this.calls.push('destroy'); this.live.delete(graph as unknown as object); },
    } as unknown as NativeCuda;
  }
}

const stats = { compiled: 1, cached: 0, kernels: 1, seconds: 0 };
const x = (v: number) => ({ x: { dtype: 'f32' as const, shape: [1], data: Float32Array.of(v) } });

async function withEnv<T>(vars: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try { return await f(); } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

test('an executable runs plainly first, captures on the second run, replays after; results are the same; dispose destroys the graph', async () => {
  const dev = new FakeDevice();
  const exe = new CudaExecutable(chain(12), dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  const ys: number[] = [];
  for (let i = 0; i < 4; i++) ys.push((await exe.run(x(i))).y.data[0]);
  assert.equal(ys, [11, 12, 13, 14]);
  assert.equal(dev.calls, ['run', 'capture', 'replay', 'replay', 'replay']);
  exe.dispose();
  assert.is(dev.calls.at(-1), 'destroy');
  assert.is(dev.live.size, 0);
});

test('small programs stay plain under auto; FUSEDET_CUDA_GRAPHS=1 graphs them from the first run; =0 never', async () => {
  const dev = new FakeDevice();
  const exe = new CudaExecutable(chain(3), dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  for (let i = 0; i < 3; i++) await exe.run(x(i));
  assert.equal(dev.calls, ['run', 'run', 'run']);
  dev.calls = [];
  const on = new CudaExecutable(chain(3), dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  await withEnv({ FUSEDET_CUDA_GRAPHS: '1' }, async () => { assert.is((await on.run(x(5))).y.data[0], 7); });
  assert.equal(dev.calls, ['capture', 'replay']);
  dev.calls = [];
  const off = new CudaExecutable(chain(20), dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  await withEnv({ FUSEDET_CUDA_GRAPHS: '0' }, async () => { for (let i = 0; i < 3; i++) await off.run(x(i)); });
  assert.equal(dev.calls, ['run', 'run', 'run']);
});

test('FUSEDET_DEBUG=2 and FUSEDET_CUDA_SYNC=1 runs are plain (timed), and the graph is kept for the runs after', async () => {
  const dev = new FakeDevice();
  const exe = new CudaExecutable(chain(10), dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  await exe.run(x(0));
  await exe.run(x(0));
  await withEnv({ FUSEDET_DEBUG: '2' }, async () => { await exe.run(x(0)); });
  assert.is(exe.lastTimes().length, 10, 'the timed run has per-launch times');
  await withEnv({ FUSEDET_CUDA_SYNC: '1' }, async () => { await exe.run(x(0)); });
  assert.is((await exe.run(x(1))).y.data[0], 10);
  assert.equal(exe.lastTimes(), []);
  assert.equal(dev.calls, ['run', 'capture', 'replay', 'run', 'run', 'replay']);
});

test('a refused capture falls back to plain launches (once, not retried); a replay refused before it ran falls back too', async () => {
  const dev = new FakeDevice();
  dev.refuseCapture = new Error('cuStreamEndCapture (9 launches): CUDA_ERROR_STREAM_CAPTURE_INVALIDATED');
  const exe = new CudaExecutable(chain(10), dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  const notes: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { notes.push(String(s)); return true; }) as typeof process.stderr.write;
  try {
    await withEnv({ FUSEDET_DEBUG: '1' }, async () => {
      const ys = [];
      for (let i = 0; i < 4; i++) ys.push((await exe.run(x(i))).y.data[0]);
      assert.equal(ys, [9, 10, 11, 12]);
    });
  } finally {
    process.stderr.write = write;
  }
  assert.equal(dev.calls, ['run', 'capture', 'run', 'run', 'run']);
  assert.ok(notes.some((n) => /capturing 9 launches as a CUDA graph failed \(.*STREAM_CAPTURE_INVALIDATED\); plain launches instead/.test(n)), notes.join(''));

  const dev2 = new FakeDevice();
  dev2.refuseReplay = Object.assign(new Error('cuGraphLaunch (9 launches): CUDA_ERROR_NOT_SUPPORTED'), { notLaunched: true });
  const exe2 = new CudaExecutable(chain(10), dev2.native(), {} as CudaModule, new DeviceAllocator(dev2.native()), stats);
  await exe2.run(x(0));
  assert.is((await exe2.run(x(1))).y.data[0], 10, 'the fallback ran the program exactly once');
  assert.is((await exe2.run(x(2))).y.data[0], 11);
  assert.equal(dev2.calls, ['run', 'capture', 'replay', 'destroy', 'run', 'run']);
});

test('a device fault during replay is an error, not a fallback: the program is not run again', async () => {
  const dev = new FakeDevice();
  const exe = new CudaExecutable(chain(10), dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  await exe.run(x(0));
  dev.refuseReplay = new Error('a kernel of this run (9 launches ...) (replayed as a CUDA graph): CUDA_ERROR_ILLEGAL_ADDRESS; the CUDA context was reset');
  let err: Error | undefined;
  try { await exe.run(x(0)); } catch (e) { err = e as Error; }
  assert.is(err?.name, 'CudaRunError');
  assert.match(err!.message, /while running the program: .*ILLEGAL_ADDRESS/);
  assert.equal(dev.calls, ['run', 'capture', 'replay']);
});

test('a context reset during capture is reported, not hidden by a fallback', () => {
  const dev = new FakeDevice();
  const native = dev.native();
  native.captureGraph = () => { dev.generation++; throw new Error('capturing launch 3 of kernel k0_inc: CUDA_ERROR_LAUNCH_FAILED; the CUDA context was reset'); };
  const runner = new GraphRunner(native, {} as CudaModule);
  const p = chain(10);
  const plan = packCudaLaunches(p, p.launches, new Map([[0, 0], [1, 1]]));
  const slots = BigInt64Array.of(native.alloc(4), native.alloc(4));
  const opts = { timeoutMs: 1000, timing: false, syncEach: false };
  assert.throws(() => runner.run(plan, slots, [], [], opts, 'on'), /context was reset/);
  assert.equal(dev.calls, [], 'no plain run after the fault');
});

test('a changed plan or buffer pointer re-captures (the old graph is destroyed); refilling the same arrays counts as a change', () => {
  const dev = new FakeDevice();
  const native = dev.native();
  const runner = new GraphRunner(native, {} as CudaModule);
  const p = chain(10);
  const plan = packCudaLaunches(p, p.launches, new Map([[0, 0], [1, 1]]));
  const slots = BigInt64Array.of(native.alloc(4), native.alloc(4));
  const opts = { timeoutMs: 1000, timing: false, syncEach: false };
  assert.is(runner.run(plan, slots, [], [], opts, 'on').graph, true);
  assert.is(runner.run(plan, slots, [], [], opts, 'on').graph, true);
  const moved = BigInt64Array.of(slots[0], native.alloc(4));
  runner.run(plan, moved, [], [], opts, 'on');
  plan[16] = 99n; // launch 1's argument ([count, 5 + 2 slots + 1 arg, then kind, grid, block, nbufs, nargs, 2 slots]), refilled in place
  runner.run(plan, moved, [], [], opts, 'on');
  assert.equal(dev.calls, ['capture', 'replay', 'replay', 'destroy', 'capture', 'replay', 'destroy', 'capture', 'replay']);
  assert.is(dev.live.size, 1);
  runner.dispose();
  assert.is(dev.live.size, 0);
});

test.run();
