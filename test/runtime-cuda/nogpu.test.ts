// The CUDA runtime on a machine without a GPU (this one, CI): every way in
// refuses with one sentence naming what is missing, in a child process with
// a deadline (no crash, no hang); the compiler choice reports a bad
// FUSEDET_NVRTC_DIR and falls back to nvcc, whose cubins are cached on disk.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseCompiler, compileCached } from '../../runtime-cuda/compile.js';
import { findNvcc, findNvrtc } from '../../runtime-cuda/find.js';
import type { NativeCuda } from '../../runtime-cuda/native.js';
import { tryNativeCuda } from '../../runtime-cuda/native.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const haveLibcuda = ['/usr/lib/x86_64-linux-gnu/libcuda.so.1', '/usr/lib64/libcuda.so.1'].some(existsSync);
const haveNvcc = findNvcc() !== undefined;

interface Child { code: number | null; out: string; err: string; timedOut: boolean }

/** Runs an ES module snippet from the project root in a fresh node with a 60 s deadline. */
function child(script: string, env: Record<string, string> = {}): Child {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, FUSEDET_DEBUG: '0', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr, timedOut: r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' };
}

function expectClean(r: Child): void {
  assert.not.ok(r.timedOut, 'the child hung');
  assert.not.ok(r.code !== null && r.code > 128, `the child crashed: ${r.code}\n${r.err}`);
}

if (haveLibcuda) console.log('SKIP no-driver expectations: this machine has libcuda.so.1');
const noDriver = haveLibcuda ? test.skip : test;

noDriver('the addon loads and open() names libcuda.so.1 and where it was searched; nothing else runs before open', () => {
  const r = child(`
    import { createRequire } from 'node:module';
    const a = createRequire(import.meta.url)('./build/Release/fusedet_cuda.node');
    const tryIt = (f) => { try { f(); return 'ok'; } catch (e) { return e.message; } };
    console.log(JSON.stringify({
      open: tryIt(() => a.open(['/nonexistent/libcuda.so.1'], 0, 70)),
      again: tryIt(() => a.open([], 0, 70)),
      alloc: tryIt(() => a.alloc(1024)),
      nvrtc: tryIt(() => a.nvrtc([])),
      capture: tryIt(() => a.captureGraph({}, new BigInt64Array([0n]), new BigInt64Array(0))),
      replay: tryIt(() => a.runGraph({}, [], [], { timeoutMs: 1000 })),
      destroy: tryIt(() => a.destroyGraph({})),
      run: tryIt(() => a.run({}, new BigInt64Array([0n]), new BigInt64Array(0), [], [], { timeoutMs: 1000 })),
    }));`);
  expectClean(r);
  assert.is(r.code, 0, r.err);
  const m = JSON.parse(r.out) as Record<string, string>;
  assert.match(m.open, /^libcuda\.so\.1 not found \(searched: libcuda\.so\.1 \(loader path\), \/nonexistent\/libcuda\.so\.1\)/);
  assert.match(m.again, /libcuda\.so\.1 not found/);
  assert.match(m.alloc, /the CUDA device is not open/);
  assert.match(m.nvrtc, /no libnvrtc\.so\* candidates/);
  assert.match(m.capture, /the CUDA device is not open/);
  assert.match(m.replay, /the CUDA device is not open/);
  assert.match(m.run, /the CUDA device is not open/);
  assert.is(m.destroy, 'expected a graph from captureGraph()', 'a non-graph is refused, not dereferenced');
});

noDriver('probeCuda and CudaRuntime.load refuse with the driver note, as CudaUnavailable (exit code 3)', () => {
  const r = child(`
    import { probeCuda, CudaRuntime } from './dist/runtime-cuda/load.js';
    let err;
    try { await new CudaRuntime().load({ buffers: [], kernels: [], launches: [], inputs: {}, outputs: {}, params: {}, peakBytes: 0 }); } catch (e) { err = e; }
    console.log(JSON.stringify({ probe: probeCuda(), name: err?.name, code: err?.exitCode, message: err?.message }));`);
  expectClean(r);
  const m = JSON.parse(r.out) as { probe: string; name: string; code: number; message: string };
  assert.match(m.probe, /^libcuda\.so\.1 not found \(searched: .*\/usr\/lib\/x86_64-linux-gnu\/libcuda\.so\.1.*\): no NVIDIA driver is installed here$/);
  assert.is(m.name, 'CudaUnavailable');
  assert.is(m.code, 3);
  assert.match(m.message, /^the CUDA runtime is not available: libcuda\.so\.1 not found/);
});

// tools/build.mjs builds every top-level folder, runtime/ included: a stale
// dist/runtime/select.js (once left by a build that skipped it) is a
// failure, not a reason to skip the checks below.
test('dist/runtime/select.js is built and knows the CUDA runtime', () => {
  const path = join(root, 'dist/runtime/select.js');
  assert.ok(existsSync(path) && readFileSync(path, 'utf8').includes('runtime-cuda'), `${path} is missing or predates the CUDA runtime: run node tools/build.mjs`);
});

noDriver("selectRuntime('cuda') names the missing driver; auto falls back to cpu recording why", () => {
  const r = child(`
    import { selectRuntime } from './dist/runtime/select.js';
    let err;
    try { await selectRuntime('cuda'); } catch (e) { err = e; }
    const auto = await selectRuntime('auto');
    console.log(JSON.stringify({ message: err?.message, code: err?.exitCode, chosen: auto.runtime.name, cuda: auto.probes[0] }));`);
  expectClean(r);
  const m = JSON.parse(r.out) as { message: string; code: number; chosen: string; cuda: { name: string; unavailable: string } };
  assert.match(m.message, /no runtime is available:\n {2}cuda: libcuda\.so\.1 not found \(searched: /);
  assert.is(m.code, 3);
  assert.is(m.chosen, 'cpu');
  assert.is(m.cuda.name, 'cuda');
  assert.match(m.cuda.unavailable, /libcuda\.so\.1 not found/);
});

noDriver('fusedet run --runtime cuda exits 3 with the message alone (no stack)', () => {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'run', 'models/defcn.fd', '--entry', 'DeFCN', '--input', 'image=f32[1,3,32,32]',
    '--arg', 'depth=0', '--arg', 'width=4', '--arg', 'C=16', '--arg', 'K=3', '--arg', 'groups=4', '--runtime', 'cuda'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 3, r.stderr);
  assert.match(r.stderr, /cuda: libcuda\.so\.1 not found/);
  assert.not.match(r.stderr, /\n\s+at /);
});

/** A stand-in for the addon where no driver is needed: NVRTC never loads. */
function fakeNative(): NativeCuda {
  return { nvrtc: (paths: readonly string[]) => { throw new Error(`no NVRTC library loads (${paths.join(', ')}: invalid ELF header)`); } } as unknown as NativeCuda;
}

test('a FUSEDET_NVRTC_DIR without NVRTC is reported; with no nvcc either, both are named', () => {
  const empty = mkdtempSync(join(tmpdir(), 'fusedet-nvrtc-'));
  try {
    const search = findNvrtc({ FUSEDET_NVRTC_DIR: empty });
    assert.equal(search.candidates, []);
    assert.is(search.badEnv, `FUSEDET_NVRTC_DIR=${empty} holds no libnvrtc.so*`);
    assert.is(findNvrtc({ FUSEDET_NVRTC_DIR: join(empty, 'nope') }).badEnv, `FUSEDET_NVRTC_DIR=${join(empty, 'nope')} does not exist`);
    let err: Error | undefined;
    try { chooseCompiler(fakeNative(), 13000, { FUSEDET_NVRTC_DIR: empty, PATH: '', FUSEDET_NVCC: join(empty, 'nvcc') }); } catch (e) { err = e as Error; }
    assert.is(err?.name, 'CudaUnavailable');
    assert.match(err!.message, new RegExp(`no usable CUDA compiler: NVRTC: FUSEDET_NVRTC_DIR=${empty} holds no libnvrtc\\.so\\*; nvcc: not found`));
    // A file that is not a library is found, tried, and its loader error reported.
    writeFileSync(join(empty, 'libnvrtc.so.13'), 'not a library');
    try { chooseCompiler(fakeNative(), 13000, { FUSEDET_NVRTC_DIR: empty, PATH: '', FUSEDET_NVCC: join(empty, 'nvcc') }); } catch (e) { err = e as Error; }
    assert.match(err!.message, /NVRTC: no NVRTC library loads \(.*libnvrtc\.so\.13: invalid ELF header\)/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("NVRTC and nvcc from pip's NVIDIA wheels (a virtualenv's site-packages/nvidia/*/{lib,bin}) are found after the CUDA folders", () => {
  const venv = mkdtempSync(join(tmpdir(), 'fusedet-venv-'));
  try {
    const lib = join(venv, 'lib', 'python3.12', 'site-packages', 'nvidia', 'cu13', 'lib');
    mkdirSync(lib, { recursive: true });
    mkdirSync(join(venv, 'lib', 'python3.12', 'site-packages', 'nvidia', 'cublas', 'lib'), { recursive: true });
    writeFileSync(join(lib, 'libnvrtc.so.13'), '');
    writeFileSync(join(lib, 'libnvrtc-builtins.so.13.0'), '');
    const search = findNvrtc({ VIRTUAL_ENV: venv });
    assert.ok(search.searched.includes(lib), 'the wheel folder is searched');
    assert.not.ok(search.searched.some((d) => d.includes('cublas')), 'folders without NVRTC are not listed');
    assert.is(search.candidates.at(-1), join(lib, 'libnvrtc.so.13'));
    assert.equal(findNvrtc({ VIRTUAL_ENV: venv, FUSEDET_NVRTC_DIR: venv }).searched, [venv], 'FUSEDET_NVRTC_DIR alone when set');
    const bin = join(venv, 'lib', 'python3.12', 'site-packages', 'nvidia', 'cuda_nvcc', 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'nvcc'), '');
    // A CUDA installation on this machine comes first; without one, the wheel's nvcc.
    const nvcc = findNvcc({ VIRTUAL_ENV: venv, PATH: '' });
    assert.ok(nvcc === join(bin, 'nvcc') || /^\/usr\/local\/cuda[^/]*\/bin\/nvcc$/.test(nvcc ?? ''), String(nvcc));
  } finally {
    rmSync(venv, { recursive: true, force: true });
  }
});

test('the real addon reports a FUSEDET_NVRTC_DIR file that is not a library', () => {
  const native = tryNativeCuda();
  assert.ok(native, 'the CUDA addon is built');
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-nvrtc-'));
  try {
    writeFileSync(join(dir, 'libnvrtc.so.13'), 'not a library');
    assert.throws(() => native!.nvrtc(findNvrtc({ FUSEDET_NVRTC_DIR: dir }).candidates), /no NVRTC library loads \(.*libnvrtc\.so\.13: .*(file too short|invalid ELF header)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

(haveNvcc ? test : test.skip)('without NVRTC, nvcc compiles a cubin for sm_90; the second request is a disk-cache hit; a GPU newer than nvcc gets PTX, an older one a refusal; a newer nvcc than the driver is refused', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'fusedet-cuda-cache-'));
  const saved = process.env.FUSEDET_CACHE_DIR;
  process.env.FUSEDET_CACHE_DIR = cache;
  try {
    const env = { FUSEDET_NVRTC_DIR: cache, PATH: process.env.PATH ?? '' };
    const compiler = chooseCompiler(fakeNative(), 99000, env);
    assert.is(compiler.kind, 'nvcc');
    const src = 'extern "C" __global__ void __launch_bounds__(64) k0_add(const float* __restrict__ B0, float* __restrict__ B1, long long A0) {\n' +
      '  const long long i = blockIdx.x * 64LL + threadIdx.x;\n  if (i < A0) B1[i] = B0[i] + 1.0f;\n}\n';
    const first = await compileCached(src, 90, compiler);
    assert.not.ok(first.cached);
    assert.equal([...first.image.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'an ELF cubin');
    const second = await compileCached(src, 90, compiler);
    assert.ok(second.cached);
    assert.equal(second.image, first.image);
    assert.ok(compiler.archs.includes(90), `nvcc --list-gpu-code: ${compiler.archs.join(' ')}`);
    // A GPU newer than this nvcc: PTX for the newest architecture it knows, NUL-terminated for cuModuleLoadData.
    const future = await compileCached(src, 990, compiler);
    const newest = Math.max(...compiler.archs);
    assert.equal(future.target, { kind: 'ptx', arch: newest });
    assert.match(future.path, /\.ptx$/);
    const text = new TextDecoder().decode(future.image);
    assert.match(text, new RegExp(`\\.target sm_${newest}`));
    assert.is(future.image[future.image.length - 1], 0);
    // A GPU older than every architecture it builds (sm_70 for CUDA 13).
    if (!compiler.archs.includes(70)) {
      let old: Error | undefined;
      try { await compileCached(src, 70, compiler); } catch (e) { old = e as Error; }
      assert.match(old?.message ?? '', /^the CUDA runtime is not available: nvcc \d+\.\d+ \(.*\) cannot build for this GPU \(compute capability 7\.0; it builds sm_\d+ to sm_\d+\)/);
    }
    let err: Error | undefined;
    try { chooseCompiler(fakeNative(), 11080, env); } catch (e) { err = e as Error; }
    assert.match(err?.message ?? '', /nvcc \d+\.\d+ at .* is newer than the driver \(CUDA 11\.8\): update the driver/);
    // A compile error keeps the source and quotes nvcc.
    let bad: Error | undefined;
    try { await compiler.compile('extern "C" __global__ void k() { undeclared(); }', 90); } catch (e) { bad = e as Error; }
    assert.is(bad?.name, 'CudaCompileError');
    assert.match(bad!.message, /rejected generated CUDA kernels in .*failed\/[0-9a-f]{16}\.cu\n {2}\| .*undeclared/);
  } finally {
    if (saved === undefined) delete process.env.FUSEDET_CACHE_DIR; else process.env.FUSEDET_CACHE_DIR = saved;
    rmSync(cache, { recursive: true, force: true });
  }
});

test.run();
