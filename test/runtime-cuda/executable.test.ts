// CudaExecutable and the device allocator against a stand-in for the addon
// that keeps "device" memory in host arrays: what crosses into native code
// (plan, slots, copies), resident params, timing, error wrapping, the reset
// rule and the allocator's reuse and out-of-memory path, all without a GPU.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Program } from '../../compiler/program.js';
import { DeviceAllocator, roundSize } from '../../runtime-cuda/allocator.js';
import { CudaExecutable } from '../../runtime-cuda/executable.js';
import type { CudaModule, HostCopy, NativeCuda, RunOptions } from '../../runtime-cuda/native.js';
import { packCudaLaunches } from '../../runtime-cuda/plan.js';

class FakeDevice {
  memory = new Map<bigint, Uint8Array>();
  next = 0x1000n;
  generation = 0;
  freed: bigint[] = [];
  zeroed: bigint[] = [];
  capacity = Infinity;
  runs: { plan: BigInt64Array; slots: BigInt64Array; options: RunOptions }[] = [];
  failNextRun?: string;

  native(): NativeCuda {
    const used = (): number => [...this.memory.values()].reduce((s, m) => s + m.length, 0);
    const copy = (ups: readonly HostCopy[], downs: readonly HostCopy[]): void => {
      for (const [p, v] of ups) this.memory.get(p)!.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      for (const [p, v] of downs) new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(this.memory.get(p)!.subarray(0, v.byteLength));
    };
    return {
      alloc: (bytes: number) => {
        if (used() + bytes > this.capacity) throw new Error(`out of GPU memory allocating ${bytes} bytes`);
        const p = this.next;
        this.next += BigInt(bytes) + 0x100n;
        this.memory.set(p, new Uint8Array(bytes));
        return p;
      },
      free: (p: bigint) => { this.freed.push(p); this.memory.delete(p); },
      zero: (p: bigint) => { this.zeroed.push(p); this.memory.get(p)!.fill(0); },
      generation: () => this.generation,
      copy: (ups: readonly HostCopy[], downs: readonly HostCopy[]) => copy(ups, downs),
      run: (_m: CudaModule, plan: BigInt64Array, slots: BigInt64Array, ups: readonly HostCopy[], downs: readonly HostCopy[], options: RunOptions) => {
        if (this.failNextRun) {
          const msg = this.failNextRun;
          this.failNextRun = undefined;
          if (/ILLEGAL_ADDRESS/.test(msg)) this.generation++;
          throw new Error(msg);
        }
        this.runs.push({ plan, slots, options });
        copy(ups, []);
        // The "kernel": output = input + param, elementwise (buffers 0, 1 -> 2).
        const [x, w, y] = [0, 1, 2].map((i) => new Float32Array(this.memory.get(slots[i])!.buffer));
        for (let i = 0; i < y.length; i++) y[i] = x[i] + w[i];
        copy([], downs);
        return options.timing ? Float64Array.from({ length: Number(plan[0]) }, () => 0.5) : undefined;
      },
    } as unknown as NativeCuda;
  }
}

const program: Program = {
  buffers: [
    { id: 0, bytes: 16, dtype: 'f32', role: 'input', name: 'x', shape: [4] },
    { id: 1, bytes: 16, dtype: 'f32', role: 'param', name: 'w', shape: [4] },
    { id: 2, bytes: 16, dtype: 'f32', role: 'output', name: 'y', shape: [2, 2] },
  ],
  kernels: [{ name: 'k0_add', hash: 'h', workgroupSize: 64, ir: { name: 'k0_add', bufs: [], nargs: 1, workgroupSize: 64, locals: [], regs: [], body: [] } }],
  launches: [{ kernel: 0, buffers: [0, 1, 2], args: [4], grid: 1 }, { kernel: 0, buffers: [2, 1, 2], args: [7], grid: 3 }],
  inputs: { x: 0 }, outputs: { y: 2 }, params: { w: 1 }, peakBytes: 48,
};
const stats = { compiled: 1, cached: 0, kernels: 1, seconds: 0 };
/** Resolves to the rejection's message (uvu has no assert.rejects). */
async function rejection(f: () => Promise<unknown>): Promise<Error> {
  try { await f(); } catch (e) { return e as Error; }
  throw new assert.Assertion({ message: 'expected a rejection', operator: 'rejects', details: '', actual: 'resolved', expects: 'rejected', generated: false });
}
const rejects = async (f: () => Promise<unknown>, re: RegExp | ((e: Error) => boolean)): Promise<void> => {
  const e = await rejection(f);
  assert.ok(re instanceof RegExp ? re.test(e.message) : re(e), `unexpected rejection: ${e.name}: ${e.message}`);
};
const f32 = (xs: number[], shape = [xs.length]) => ({ dtype: 'f32' as const, shape, data: Float32Array.from(xs) });

test('the packed plan: [count, kernel, grid, block, nbufs, nargs, slots..., args...]', () => {
  const plan = packCudaLaunches(program, program.launches, new Map([[0, 0], [1, 1], [2, 2]]));
  assert.equal([...plan].map(Number), [2, 0, 1, 64, 3, 1, 0, 1, 2, 4, 0, 3, 64, 3, 1, 2, 1, 2, 7]);
});

test('params stay resident; run uploads inputs and downloads shaped outputs in one native call', async () => {
  const dev = new FakeDevice();
  const exe = new CudaExecutable(program, dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  await exe.setParams({ w: f32([10, 20, 30, 40]) });
  const a = await exe.run({ x: f32([1, 2, 3, 4]) });
  assert.equal(a.y.shape, [2, 2]);
  assert.equal([...a.y.data], [11, 22, 33, 44]);
  const b = await exe.run({ x: f32([0, 0, 0, 1]) });
  assert.equal([...b.y.data], [10, 20, 30, 41]);
  assert.equal([...(await exe.getParam('w')).data], [10, 20, 30, 40]);
  assert.is(dev.runs.length, 2);
  assert.is(dev.runs[0].options.timing, false);
  assert.equal(exe.lastTimes(), []);
});

test('input mismatches are refused before the device is touched', async () => {
  const dev = new FakeDevice();
  const exe = new CudaExecutable(program, dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  await rejects(() => exe.run({}), /input 'x' is missing \(f32, 4 elements\)/);
  await rejects(() => exe.run({ x: f32([1, 2, 3]) }), /input 'x' has 3 elements .* the program expects 4/);
  await rejects(() => exe.run({ x: { dtype: 'f32', shape: [4], data: new Float64Array(4) } }), /held in a Float64Array/);
  await rejects(() => exe.run({ x: f32([1, 2, 3, 4]), z: f32([1]) }), /no input named 'z'/);
  await rejects(() => exe.setParams({ v: f32([1]) }), /no param named 'v'; its params: w/);
  assert.is(dev.runs.length, 0);
});

test('FUSEDET_DEBUG=2 times every launch with events', async () => {
  const dev = new FakeDevice();
  const exe = new CudaExecutable(program, dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  process.env.FUSEDET_DEBUG = '2';
  try { await exe.run({ x: f32([1, 2, 3, 4]) }); } finally { delete process.env.FUSEDET_DEBUG; }
  assert.equal(exe.lastTimes().map((t) => [t.kernel, t.grid, t.seconds]), [['k0_add', 1, 0.0005], ['k0_add', 3, 0.0005]]);
});

test('a failing launch becomes CudaRunError; after a context reset the executable refuses further use', async () => {
  const dev = new FakeDevice();
  const exe = new CudaExecutable(program, dev.native(), {} as CudaModule, new DeviceAllocator(dev.native()), stats);
  dev.failNextRun = 'launch 1 of kernel k0_add (grid 3 x block 64) failed: CUDA_ERROR_INVALID_VALUE (invalid argument)';
  await rejects(() => exe.run({ x: f32([1, 2, 3, 4]) }), (e: Error) => e.name === 'CudaRunError' && /while running the program: launch 1 of kernel k0_add \(grid 3 x block 64\)/.test(e.message));
  assert.equal([...(await exe.run({ x: f32([1, 2, 3, 4]) })).y.data], [1, 2, 3, 4], 'a non-fatal error leaves it usable');
  dev.failNextRun = 'a kernel of this run: CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered); the CUDA context was reset';
  await rejects(() => exe.run({ x: f32([1, 2, 3, 4]) }), /ILLEGAL_ADDRESS/);
  await rejects(() => exe.run({ x: f32([1, 2, 3, 4]) }), /context was reset after a GPU error\): load the program again/);
});

test('allocator: sizes round to buckets; disposed blocks are reused zeroed; out of memory trims the cache, then names the buffer', () => {
  assert.equal([1, 512, 513, 1000, 2 ** 20, 2 ** 21 + 1].map(roundSize), [512, 512, 1024, 1024, 2 ** 20, 2 ** 22]);
  const dev = new FakeDevice();
  const alloc = new DeviceAllocator(dev.native());
  const first = new CudaExecutable(program, dev.native(), {} as CudaModule, alloc, stats);
  const ptrs = new Set(dev.memory.keys());
  first.dispose();
  new CudaExecutable(program, dev.native(), {} as CudaModule, alloc, stats).dispose();
  assert.equal(new Set(dev.memory.keys()), ptrs, 'no new allocations');
  assert.is(dev.zeroed.length, 3);
  dev.capacity = 2048;
  const big = alloc.acquire(1500, 'buffer 9 (huge)');
  assert.is(dev.freed.length, 3, 'the cache was trimmed to make room');
  alloc.release(big);
  dev.capacity = 1024;
  assert.throws(() => alloc.acquire(5000, 'buffer 7 (features)'), /cannot allocate buffer 7 \(features\) on the GPU \(4\.9 KiB; 0 B already held by fusedet\): out of GPU memory allocating 8192 bytes/);
  let err: Error | undefined;
  try { new CudaExecutable({ ...program, buffers: program.buffers.map((b) => ({ ...b, bytes: 4096 })) }, dev.native(), {} as CudaModule, alloc, stats); } catch (e) { err = e as Error; }
  assert.match(err?.message ?? '', /^cannot allocate buffer 0 \(x\) on the GPU \(4\.0 KiB; 0 B already held by fusedet; the program needs 12\.0 KiB in all\): out of GPU memory/);
  assert.is(alloc.liveBytes, 0, 'a failed load holds nothing');
});

test.run();
