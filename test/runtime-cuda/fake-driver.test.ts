// The real addon and runtime against a stand-in libcuda.so.1
// (fake-libcuda.cc, built here from CUDA's cuda.h with g++): the addon's
// native paths run without a GPU. Building it checks that every entry point
// the addon binds exists under cuda.h's (versioned) name and that the
// addon's declarations match cuda.h's signatures. Then, each in a child
// process with a deadline: the bad input (no usable GPU, a compute
// capability below the minimum, out of memory, a refused launch, a fault, a
// hang) gives a clear error and leaves the device usable; CUDA graphs are
// captured and replayed, and a refused capture or replay falls back to
// plain launches without running anything twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nvccArchs } from '../../runtime-cuda/compile.js';
import { findNvcc } from '../../runtime-cuda/find.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const source = join(root, 'test/runtime-cuda/fake-libcuda.cc');

function cudaInclude(): string | undefined {
  const roots = [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda'].filter((r): r is string => !!r);
  try { roots.push(...readdirSync('/usr/local').filter((d) => /^cuda-\d/.test(d)).map((d) => join('/usr/local', d))); } catch { /* none */ }
  return roots.map((r) => join(r, 'include')).find((d) => existsSync(join(d, 'cuda.h')));
}

const include = cudaInclude();
const gxx = spawnSync('g++', ['--version']).status === 0;
const why = !include ? 'no CUDA cuda.h (CUDA_HOME, /usr/local/cuda*/include)' : !gxx ? 'no g++' : undefined;
if (why) console.log(`SKIP fake-driver tests: ${why}`);
const fake = why ? test.skip : test;
const dir = mkdtempSync(join(tmpdir(), 'fusedet-fake-cuda-'));
const lib = join(dir, 'libcuda.so.1');

interface Child { code: number | null; out: string; err: string; timedOut: boolean }

/** An ES module snippet from the project root in a fresh node that finds the fake driver first, 60 s deadline. */
function child(script: string, env: Record<string, string> = {}): Child {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root, encoding: 'utf8', timeout: 60_000,
    env: { ...process.env, FUSEDET_DEBUG: '0', FUSEDET_CACHE_DIR: dir, LD_LIBRARY_PATH: dir, ...env },
  });
  const res = { code: r.status, out: r.stdout, err: r.stderr, timedOut: (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT' };
  assert.not.ok(res.timedOut, 'the child hung');
  assert.is(res.code, 0, `the child failed (${res.code})\n${res.err}`);
  return res;
}

const addon = `import { createRequire } from 'node:module';
const a = createRequire(import.meta.url)('./build/Release/fusedet_cuda.node');
const tryIt = (f) => { try { return { ok: f() }; } catch (e) { return { error: e.message, name: e.constructor.name, notLaunched: e.notLaunched }; } };
const plan = (...ls) => BigInt64Array.from([ls.length, ...ls.flat()].map(BigInt));`;

fake('the fake driver builds from cuda.h with the addon\'s declarations asserted against it', () => {
  const r = spawnSync('g++', ['-std=c++17', '-O1', '-Wall', '-Werror', '-shared', '-fPIC', `-I${include}`, '-o', lib, source], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const names = spawnSync('nm', ['-D', '--defined-only', lib], { encoding: 'utf8' }).stdout;
  for (const n of ['cuMemAlloc_v2', 'cuStreamBeginCapture_v2', 'cuGraphInstantiateWithFlags', 'cuMemcpyHtoDAsync_v2', 'cuDevicePrimaryCtxReset_v2']) assert.match(names, new RegExp(`\\b${n}\\b`));
});

fake('open: every symbol binds (graphs included); no usable GPU and a GPU below sm_70 are refused in one sentence', () => {
  const ok = JSON.parse(child(`${addon} console.log(JSON.stringify(a.open([], 0, 70)));`).out);
  assert.equal([ok.name, ok.cc, ok.driverVersion, ok.libcuda], ['Fake GPU', 90, 13000, 'libcuda.so.1']);
  const old = JSON.parse(child(`${addon} console.log(JSON.stringify(tryIt(() => a.open([], 0, 70))));`, { FAKE_CUDA_CC: '61' }).out);
  assert.is(old.error, "Fake GPU has compute capability 6.1; fusedet's CUDA runtime needs 7.0 or newer");
  const none = JSON.parse(child(`${addon} console.log(JSON.stringify(tryIt(() => a.open([], 0, 70))));`, { FAKE_CUDA_INIT: 'fail' }).out);
  assert.match(none.error, /^cuInit failed: CUDA_ERROR_NO_DEVICE \(fake driver\) \(driver libcuda\.so\.1, CUDA 13\.0\): no usable NVIDIA GPU/);
  const viaRuntime = JSON.parse(child(`import { probeCuda } from './dist/runtime-cuda/device.js'; console.log(JSON.stringify(probeCuda()));`, { FAKE_CUDA_CC: '61' }).out);
  assert.is(viaRuntime, "Fake GPU has compute capability 6.1; fusedet's CUDA runtime needs 7.0 or newer");
  // sm_70 passes the minimum, but CUDA 13's compilers no longer build for it.
  const nvcc = findNvcc();
  if (nvcc && !nvccArchs(nvcc).includes(70)) {
    const volta = JSON.parse(child(`import { probeCuda } from './dist/runtime-cuda/device.js'; console.log(JSON.stringify(probeCuda()));`, { FAKE_CUDA_CC: '70', FUSEDET_NVRTC_DIR: dir }).out);
    assert.match(volta, /^nvcc \d+\.\d+ \(.*\) cannot build for this GPU \(compute capability 7\.0; it builds sm_75 to sm_\d+\): point FUSEDET_NVRTC_DIR or FUSEDET_NVCC at an older CUDA toolkit/);
  }
});

fake('bad input on the device: out of memory names sizes; a refused launch names kernel, grid and block and resets nothing; a fault resets the context and a reload works; a hang times out, nothing is queued behind it and the process still exits', () => {
  const r = child(`${addon}
    a.open([], 0, 70);
    const m = a.loadModule(new Uint8Array(8), ['inc0', 'fault1', 'hang2']);
    const x = a.alloc(16), y = a.alloc(16);
    const slots = BigInt64Array.of(x, y);
    const opts = { timeoutMs: 300, timing: false, syncEach: false };
    const out = {};
    out.oom = tryIt(() => a.alloc(2 ** 31));
    process.env.FAKE_CUDA_LAUNCH = '701';
    out.refused = tryIt(() => a.run(m, plan([0, 3, 64, 2, 1, 0, 1, 4]), slots, [], [], opts));
    delete process.env.FAKE_CUDA_LAUNCH;
    out.wide = tryIt(() => a.run(m, plan([0, 1, 2048, 2, 1, 0, 1, 4]), slots, [], [], opts));
    const y1 = new Float32Array(4);
    a.run(m, plan([0, 1, 64, 2, 1, 0, 1, 4]), slots, [[x, Float32Array.of(1, 2, 3, 4)]], [[y, y1]], opts);
    out.after = [a.generation(), ...y1];
    out.fault = tryIt(() => a.run(m, plan([0, 1, 64, 2, 1, 0, 1, 4], [1, 1, 64, 1, 0, 1]), slots, [], [], opts));
    out.generation = a.generation();
    out.stale = tryIt(() => a.run(m, plan([0, 1, 64, 2, 1, 0, 1, 4]), slots, [], [], opts));
    out.closed = tryIt(() => a.alloc(16));
    a.open([], 0, 70);
    const m2 = a.loadModule(new Uint8Array(8), ['inc0', 'hang1']);
    const x2 = a.alloc(16), y2 = a.alloc(16), got = new Float32Array(4);
    a.run(m2, plan([0, 1, 64, 2, 1, 0, 1, 4]), BigInt64Array.of(x2, y2), [[x2, Float32Array.of(5, 6, 7, 8)]], [[y2, got]], opts);
    out.reloaded = [...got];
    const t0 = Date.now();
    out.hang = tryIt(() => a.run(m2, plan([1, 1, 64, 1, 0, 0]), BigInt64Array.of(x2, y2), [], [], opts));
    out.hangMs = Date.now() - t0;
    out.queuedBehind = tryIt(() => a.alloc(16));
    process.env.FAKE_CUDA_FINISH = '1';
    out.finished = typeof a.alloc(16);
    console.log(JSON.stringify(out));`, { FAKE_CUDA_MEM: String(2 ** 30) });
  const m = JSON.parse(r.out);
  assert.is(m.oom.error, 'out of GPU memory allocating 2147483648 bytes (2.0 GiB); 1024.0 MiB free of 1.0 GiB');
  assert.is(m.refused.error, 'launch 0 of kernel inc0 (grid 3 x block 64) failed: CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES (fake driver)');
  assert.is(m.wide.error, "launch 0 of kernel inc0 (grid 1 x block 2048): outside CUDA's limits (grid < 2^31, block 1..1024)");
  assert.is(m.wide.name, 'RangeError');
  assert.equal(m.after, [0, 2, 3, 4, 5], 'a refused launch left the context as it was');
  assert.match(m.fault.error, /^a kernel of this run \(2 launches; FUSEDET_CUDA_SYNC=1 .*\): CUDA_ERROR_ILLEGAL_ADDRESS \(fake driver\); the CUDA context was reset, so the program must be loaded again$/);
  assert.is(m.generation, 1);
  assert.match(m.stale.error, /the CUDA device is not open|no longer valid/);
  assert.match(m.closed.error, /the CUDA device is not open/);
  assert.equal(m.reloaded, [6, 7, 8, 9]);
  assert.match(m.hang.error, /^a kernel of this run \(1 launches; .*\): the GPU did not finish within 0\.3 s \(FUSEDET_CUDA_TIMEOUT sets the limit in seconds\)$/);
  assert.ok(m.hangMs < 5000, `the hang was reported after ${m.hangMs} ms`);
  assert.match(m.queuedBehind.error, /^the GPU is still running a kernel of this run \(1 launches; .*\), which did not finish in time: wait for it, or restart the process$/);
  assert.is(m.finished, 'bigint', 'once the late run finishes, the device takes work again');
});

fake('the graph entry points: capture records without running; replay runs once; a capture that cannot begin or end is refused and the stream stays usable', () => {
  const r = child(`${addon}
    a.open([], 0, 70);
    const m = a.loadModule(new Uint8Array(8), ['accum0']);
    const w = a.alloc(16), read = () => { const v = new Float32Array(4); a.copy([], [[w, v]], 1000); return [...v]; };
    const p = plan([0, 1, 64, 1, 1, 0, 4], [0, 0, 64, 1, 1, 0, 4], [0, 1, 64, 1, 1, 0, 4]);
    const slots = BigInt64Array.of(w), opts = { timeoutMs: 1000 };
    const out = {};
    const g = a.captureGraph(m, p, slots);
    out.captured = read();
    a.runGraph(g, [], [], opts);
    out.replayed = read();
    process.env.FAKE_CUDA_GRAPH_LAUNCH = 'fail';
    out.refusedReplay = tryIt(() => a.runGraph(g, [], [], opts));
    delete process.env.FAKE_CUDA_GRAPH_LAUNCH;
    out.afterRefused = read();
    a.destroyGraph(g);
    out.destroyed = tryIt(() => a.runGraph(g, [], [], opts));
    process.env.FAKE_CUDA_CAPTURE = 'invalidate';
    out.invalidated = tryIt(() => a.captureGraph(m, p, slots));
    process.env.FAKE_CUDA_CAPTURE = 'unsupported';
    out.unsupported = tryIt(() => a.captureGraph(m, p, slots));
    delete process.env.FAKE_CUDA_CAPTURE;
    out.bad = tryIt(() => a.captureGraph(m, plan([3, 1, 64, 1, 1, 0, 4]), slots));
    a.run(m, p, slots, [], [], { timeoutMs: 1000, timing: false, syncEach: false });
    out.plainAfter = read();
    out.generation = a.generation();
    console.log(JSON.stringify(out));`, { FAKE_CUDA_TRACE: '1' });
  const m = JSON.parse(r.out);
  assert.equal(m.captured, [0, 0, 0, 0], 'capture runs nothing');
  assert.equal(m.replayed, [2, 2, 2, 2], 'the two working launches ran once (the grid-0 one is not recorded)');
  assert.is(m.refusedReplay.error, 'cuGraphLaunch (2 launches): CUDA_ERROR_NOT_SUPPORTED (fake driver)');
  assert.is(m.refusedReplay.notLaunched, true);
  assert.equal(m.afterRefused, [2, 2, 2, 2]);
  assert.match(m.destroyed.error, /this CUDA graph is no longer valid/);
  assert.is(m.invalidated.error, 'cuStreamEndCapture (2 launches): CUDA_ERROR_STREAM_CAPTURE_INVALIDATED (fake driver)');
  assert.is(m.unsupported.error, 'cuStreamBeginCapture: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (fake driver)');
  assert.is(m.bad.error, 'run: malformed plan: launch 0 names kernel 3');
  assert.equal(m.plainAfter, [4, 4, 4, 4], 'plain launches work after refused captures');
  assert.is(m.generation, 0);
  assert.match(r.err, /fake-cuda: captured 2 launches\nfake-cuda: graph launch of 2 launches\n/);
});

/** The runtime over the fake driver: a program of `n` launches, n-1 adding 1 to param w in place, the last y = w + 1. */
const runtime = (n: number) => `
  import { CudaRuntime } from './dist/runtime-cuda/runtime.js';
  import { openCuda } from './dist/runtime-cuda/device.js';
  const compiler = { id: 'fake 1.0', kind: 'nvcc', version: 13000, archs: [], compile: async (src) => new TextEncoder().encode(src) };
  const rt = new CudaRuntime(() => '// fake kernels', () => ({ ...openCuda(), compiler }));
  const ir = (name) => ({ name, bufs: [], nargs: 1, workgroupSize: 32, locals: [], regs: [], body: [] });
  const program = {
    buffers: [{ id: 0, bytes: 16, dtype: 'f32', role: 'param', name: 'w', shape: [4] }, { id: 1, bytes: 16, dtype: 'f32', role: 'output', name: 'y', shape: [4] }],
    kernels: [{ name: 'accum0', hash: 'a', workgroupSize: 32, ir: ir('accum0') }, { name: 'inc1', hash: 'b', workgroupSize: 32, ir: ir('inc1') }],
    launches: [...Array.from({ length: ${n - 1} }, () => ({ kernel: 0, buffers: [0], args: [4], grid: 1 })), { kernel: 1, buffers: [0, 1], args: [4], grid: 1 }],
    inputs: {}, outputs: { y: 1 }, params: { w: 0 }, peakBytes: 32,
  };`;

fake('the runtime replays the whole launch list as a graph from the second run; in-place updates happen once per run; computeCapability is the device\'s', () => {
  const r = child(`${runtime(12)}
    const exe = await rt.load(program);
    const ys = [];
    for (let i = 0; i < 3; i++) ys.push((await exe.run({})).y.data[0]);
    exe.dispose();
    console.log(JSON.stringify({ ys, cc: rt.computeCapability }));`, { FAKE_CUDA_TRACE: '1', FUSEDET_DEBUG: '1' });
  const m = JSON.parse(r.out);
  assert.equal(m.ys, [12, 23, 34]);
  assert.is(m.cc, 90);
  assert.is(r.err.match(/graph launch of 12 launches/g)?.length, 2);
  assert.match(r.err, /\[fusedet\] cuda: 12 launches captured as a CUDA graph in [\d.]+ ms; this run and later ones replay it/);
  assert.match(r.err, /fake-cuda: graph destroyed/);
});

fake('the runtime falls back to plain launches when capture or replay is refused, with a FUSEDET_DEBUG=1 note and the same results', () => {
  for (const [env, note] of [
    [{ FAKE_CUDA_CAPTURE: 'invalidate' }, /capturing 12 launches as a CUDA graph failed \(cuStreamEndCapture \(12 launches\): CUDA_ERROR_STREAM_CAPTURE_INVALIDATED \(fake driver\)\); plain launches instead/],
    [{ FAKE_CUDA_GRAPH_LAUNCH: 'fail' }, /replaying the CUDA graph failed before it ran \(cuGraphLaunch \(12 launches\): CUDA_ERROR_NOT_SUPPORTED \(fake driver\)\); plain launches instead/],
  ] as const) {
    const r = child(`${runtime(12)}
      const exe = await rt.load(program);
      const ys = [];
      for (let i = 0; i < 3; i++) ys.push((await exe.run({})).y.data[0]);
      console.log(JSON.stringify(ys));`, { ...env, FUSEDET_DEBUG: '1' });
    assert.equal(JSON.parse(r.out), [12, 23, 34]);
    assert.match(r.err, note);
  }
});

fake('a fault during a graph replay is reported as such, the executable refuses further use and a reload works', () => {
  const r = child(`${runtime(10)}
    program.kernels.push({ name: 'fault2', hash: 'c', workgroupSize: 32, ir: ir('fault2') });
    program.launches.splice(5, 0, { kernel: 2, buffers: [0], args: [], grid: 0 });
    const exe = await rt.load(program);
    await exe.run({});
    program.launches[5].grid = 1;
    const bad = await rt.load(program);
    const err = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; } };
    const plain = await err(() => bad.run({}));
    console.log(JSON.stringify({ plain, stale: await err(() => exe.run({})), again: (await (await rt.load({ ...program, launches: program.launches.filter((l) => l.kernel !== 2) })).run({})).y.data[0] }));`, { FUSEDET_CUDA_GRAPHS: '1' });
  const m = JSON.parse(r.out);
  assert.match(m.plain, /^CudaRunError: CUDA error while running the program: a kernel of this run \(11 launches; .*\) \(replayed as a CUDA graph; FUSEDET_CUDA_GRAPHS=0 turns graphs off\): CUDA_ERROR_ILLEGAL_ADDRESS \(fake driver\); the CUDA context was reset/, m.plain);
  assert.match(m.stale, /^CudaRunError: this CUDA executable was disposed \(or its context was reset after a GPU error\): load the program again$/);
  assert.is(m.again, 10);
});

fake('a cached cubin the driver refuses is compiled again (said once)', () => {
  const r = child(`${runtime(2)}
    import { moduleKey, cacheDir } from './dist/runtime-cuda/compile.js';
    import { writeEntry } from './dist/runtime/cache.js';
    import { join } from 'node:path';
    // Sealed (size and digest recorded), so it reaches the driver: a damaged file never does.
    writeEntry(join(cacheDir(), moduleKey('// fake kernels', 90, 'fake 1.0') + '.cubin'), new TextEncoder().encode('BAD cubin'));
    const exe = await rt.load(program);
    console.log(JSON.stringify({ y: (await exe.run({})).y.data[0], stats: exe.stats }));`, { FUSEDET_DEBUG: '1' });
  const m = JSON.parse(r.out);
  assert.is(m.y, 2);
  assert.is(m.stats.compiled, 1);
  assert.match(r.err, /the cached kernel file .*\.cubin cannot be used \(the driver refused it: cuModuleLoadData refused the compiled kernels \(fake: not a cubin\): CUDA_ERROR_INVALID_IMAGE \(fake driver\)\); it was removed and is being compiled again/);
});

fake('a GPU newer than the compiler gets PTX for the newest architecture the compiler knows, loaded as is (the driver compiles it)', () => {
  const r = child(`${runtime(2)}
    const seen = [];
    compiler.archs = [75, 80, 90];
    const compile = compiler.compile;
    compiler.compile = async (src, target) => { seen.push(target); return compile(src, target); };
    const exe = await rt.load(program);
    console.log(JSON.stringify({ seen, y: (await exe.run({})).y.data[0] }));`, { FAKE_CUDA_CC: '100', FUSEDET_DEBUG: '1', FUSEDET_CACHE_DIR: mkdtempSync(join(dir, 'ptx-')) });
  const m = JSON.parse(r.out);
  assert.equal(m.seen, [{ kind: 'ptx', arch: 90 }]);
  assert.is(m.y, 2);
  assert.match(r.err, /cuda: fake 1\.0 does not build sm_100: compiling PTX for compute_90, which the driver compiles for this GPU at load/);
});

fake('load reports registers and spills per kernel (FUSEDET_DEBUG=2) and refuses a block larger than the kernel\'s registers allow, naming it', () => {
  const ok = child(`${runtime(2)}
    await rt.load(program);
    console.log('[]');`, { FUSEDET_DEBUG: '2' });
  assert.match(ok.err, /kernel accum0: 40 registers, 8 B local \(spills\) per thread, block 32 \(at most 1024\)/);
  const r = child(`${runtime(2)}
    let err;
    try { await rt.load(program); } catch (e) { err = e; }
    console.log(JSON.stringify({ name: err?.name, message: err?.message }));`, { FAKE_CUDA_MAX_THREADS: '16' });
  const m = JSON.parse(r.out);
  assert.is(m.name, 'CudaRunError');
  assert.is(m.message, 'kernel accum0 is scheduled for blocks of 32 threads, but with 40 registers per thread Fake GPU runs at most 16: a compiler schedule problem (its block size must come down for this GPU)');
});

test('cleanup', () => { rmSync(dir, { recursive: true, force: true }); });

test.run();
