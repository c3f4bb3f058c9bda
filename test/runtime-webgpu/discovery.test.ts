// WebGPU discovery: only a missing adapter means "WebGPU is not available"
// (a skip in tests, a fallback for auto); an adapter that refuses the device
// fusedet asks for is a fusedet error and must fail. FUSEDET_REQUIRE_WEBGPU=1
// (set by .ci/run) and FUSEDET_REQUIRE_CUDA=1 turn an absence into an error.
// Dawn on SwiftShader gets a valid XDG_RUNTIME_DIR, so libwayland-client has
// nothing to print on a headless machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute } from 'node:path';
import { openDevice } from '../../runtime-webgpu/device.js';
import { WebGpuError, WebGpuUnavailable } from '../../runtime-webgpu/errors.js';
import { runtimeDirForDawn } from '../../runtime-webgpu/node.js';
import { RequiredRuntimeMissing, isRequired, requireRuntime } from '../../runtime/select.js';

/** A GPU object whose one adapter answers requestDevice with `device`. */
function fakeGpu(adapter: 'none' | (() => Promise<unknown>)): GPU {
  const limits = new Proxy({}, { get: () => 1 });
  return {
    requestAdapter: async () => (adapter === 'none' ? null : { info: { vendor: 'fake', description: 'test adapter' }, limits, features: new Set(), requestDevice: adapter }),
  } as unknown as GPU;
}
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try { await p; } catch (e) { return e; }
  throw new Error('expected a rejection');
}

test('no adapter: WebGpuUnavailable (a skip, a fallback) with the hint', async () => {
  const e = await rejection(openDevice(fakeGpu('none'), {}, 'install chromium'));
  assert.instance(e, WebGpuUnavailable);
  assert.is((e as WebGpuUnavailable).reason, 'no WebGPU adapter was found; install chromium');
});

test('an adapter refusing the device fusedet asked for: a WebGpuError that is not "unavailable"', async () => {
  // Before: WebGpuUnavailable, which made every WebGPU test file skip and auto fall back.
  const e = await rejection(openDevice(fakeGpu(() => Promise.reject(new TypeError('requiredLimits.maxBufferSize exceeds the adapter limit'))), {}));
  assert.instance(e, WebGpuError);
  assert.not.instance(e, WebGpuUnavailable);
  assert.is((e as WebGpuError).exitCode, 1);
  assert.match((e as Error).message, /^the adapter \(fake \/ test adapter\) refused a device with its own limits: requiredLimits\.maxBufferSize exceeds the adapter limit$/);
});

test('FUSEDET_REQUIRE_<RUNTIME>=1: an absence is an error naming the variable and the reason', () => {
  assert.ok(isRequired('webgpu', { FUSEDET_REQUIRE_WEBGPU: '1' }));
  assert.not.ok(isRequired('webgpu', { FUSEDET_REQUIRE_WEBGPU: '0' }));
  assert.not.ok(isRequired('webgpu', { FUSEDET_REQUIRE_CUDA: '1' }));
  requireRuntime('webgpu', undefined, { FUSEDET_REQUIRE_WEBGPU: '1' });
  requireRuntime('webgpu', 'no adapter', {});
  assert.throws(() => requireRuntime('webgpu', 'no WebGPU adapter was found', { FUSEDET_REQUIRE_WEBGPU: '1' }),
    (e: Error) => e instanceof RequiredRuntimeMissing && e.message === 'FUSEDET_REQUIRE_WEBGPU=1 but webgpu is unavailable: no WebGPU adapter was found');
  assert.throws(() => requireRuntime('cuda', 'libcuda.so.1 not found', { FUSEDET_REQUIRE_CUDA: '1' }), /^FUSEDET_REQUIRE_CUDA=1 but cuda is unavailable: libcuda\.so\.1 not found$/);
});

const main = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const skipHelper = fileURLToPath(new URL('../helpers/skip.js', import.meta.url));
const tiny = ['run', 'models/defcn.fd', '--entry', 'DeFCN', '--input', 'image=f32[1,3,32,32]', '--arg', 'depth=0', '--arg', 'width=4', '--arg', 'C=8', '--arg', 'K=3', '--arg', 'groups=4'];
// No adapter, and not required (CI sets FUSEDET_REQUIRE_WEBGPU=1 for the suite; these set it themselves).
const noAdapter: NodeJS.ProcessEnv = { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' };
delete noAdapter.FUSEDET_REQUIRE_WEBGPU;

test('--runtime webgpu under FUSEDET_REQUIRE_WEBGPU=1 with no adapter: exit 3, the message alone', () => {
  const r = spawnSync(process.execPath, [main, ...tiny, '--runtime', 'webgpu'], { encoding: 'utf8', env: { ...noAdapter, FUSEDET_REQUIRE_WEBGPU: '1' }, timeout: 60_000 });
  assert.is(r.status, 3, r.stderr);
  // Dawn's own Vulkan warnings come first (the adapter search); our message is the last line.
  assert.match(r.stderr.trim().split('\n').at(-1)!, /^FUSEDET_REQUIRE_WEBGPU=1 but webgpu is unavailable: no WebGPU adapter was found; VK_ICD_FILENAMES=\/nonexistent\/icd\.json/);
  assert.not.match(r.stderr, /\n\s+at .*\.js:\d+/);
});

test("the tests' skip helper: a skip without the variable, a failure with it", () => {
  const script = `const { webGpuOrSkip } = await import(${JSON.stringify(skipHelper)});
try { const g = await webGpuOrSkip(); console.log(g.runtime ? 'OPENED' : 'SKIPPED ' + g.reason); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const run = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env, timeout: 60_000 }).stdout.trim();
  assert.match(run(noAdapter), /^SKIPPED no WebGPU adapter was found/);
  assert.match(run({ ...noAdapter, FUSEDET_REQUIRE_WEBGPU: '1' }), /^RequiredRuntimeMissing: FUSEDET_REQUIRE_WEBGPU=1 but webgpu is unavailable: no WebGPU adapter was found/);
});

test('runtimeDirForDawn: unset, relative or missing XDG_RUNTIME_DIR becomes a private folder; a valid one is kept', () => {
  for (const given of [undefined, 'relative/dir', '/nonexistent/run']) {
    const env: NodeJS.ProcessEnv = given === undefined ? {} : { XDG_RUNTIME_DIR: given };
    const dir = runtimeDirForDawn(env);
    assert.ok(dir && env.XDG_RUNTIME_DIR === dir && isAbsolute(dir), `${given} -> ${dir}`);
    const st = statSync(dir!);
    assert.ok(st.isDirectory() && (st.mode & 0o077) === 0, `${dir} is a folder only its owner can read`);
  }
  const env = { XDG_RUNTIME_DIR: '/tmp' };
  assert.is(runtimeDirForDawn(env), undefined);
  assert.is(env.XDG_RUNTIME_DIR, '/tmp');
});

test('--runtime auto without XDG_RUNTIME_DIR (it opens the WebGPU adapter to probe it): no "error:" line on stderr', () => {
  const env = { ...process.env };
  delete env.XDG_RUNTIME_DIR;
  const r = spawnSync(process.execPath, [main, ...tiny, '--runtime', 'auto'], { encoding: 'utf8', env, timeout: 300_000 });
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stderr, /XDG_RUNTIME_DIR|^error:/m);
});

test.run();
