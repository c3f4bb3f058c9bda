// What a user meets when WebGPU cannot do what was asked: each a clear,
// typed error with an exit code, never a hang or a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openOrSkip, rejects } from './open.js';
import { createNodeWebGpu } from '../../runtime-webgpu/node.js';
import type { Program } from '../../runtime-webgpu/contract.js';
import { ShaderCompileError, DeviceLimitError, DeviceLostError, WebGpuError, GpuTimeoutError, guarded } from '../../runtime-webgpu/errors.js';
import { smokeProgram, smokeData } from '../../web/smoke-program.js';

const rt = await openOrSkip('test/runtime-webgpu/errors.test.ts');
const gpuTest = rt ? test : test.skip;

function oneKernel(wgsl: string, hash: string, bytes = 64, buffers = 1): Program {
  return {
    buffers: Array.from({ length: buffers }, (_, id) => ({ id, bytes, dtype: 'f32' as const, role: 'output' as const, name: `b${id}` })),
    kernels: [{ name: 'k_' + hash, hash, ir: { wgsl }, workgroupSize: 1 }],
    launches: [{ kernel: 0, buffers: Array.from({ length: buffers }, (_, i) => i), args: [], grid: 1 }],
    inputs: {}, outputs: { b0: 0 }, params: {}, peakBytes: bytes * buffers,
  };
}

const BAD_WGSL = `struct Args { grid: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> args: Args;
@compute @workgroup_size(1)
fn main() {
  y[0] = undefined_thing + 1.0;
}
`;

gpuTest('a shader the device rejects: file path, line:col, the line itself', async () => {
  try {
    await rt!.load(oneKernel(BAD_WGSL, 'test:bad-wgsl'));
    assert.unreachable('load should fail');
  } catch (e) {
    assert.instance(e, ShaderCompileError);
    const err = e as ShaderCompileError;
    assert.is(err.exitCode, 1);
    assert.match(err.message, /kernel k_test:bad-wgsl/);
    assert.match(err.message, /\.wgsl:6:\d+: error: .*undefined_thing/);
    assert.match(err.message, /y\[0\] = undefined_thing/);
    assert.ok(err.sourcePath && existsSync(err.sourcePath), 'WGSL written to a file');
    assert.is(readFileSync(err.sourcePath!, 'utf8'), BAD_WGSL);
    assert.ok(err.message.includes(err.sourcePath!));
  }
});

gpuTest('a buffer over maxStorageBufferBindingSize names the buffer and its size', async () => {
  const big = rt!.limits.maxStorageBufferBindingSize + 4;
  const p = smokeProgram(2, 2);
  p.buffers[0] = { ...p.buffers[0], bytes: big };
  try {
    await rt!.load(p);
    assert.unreachable('load should fail');
  } catch (e) {
    assert.instance(e, DeviceLimitError);
    assert.match((e as Error).message, new RegExp(`input buffer 'x' \\(#0\\) needs ${big} bytes`));
    assert.match((e as Error).message, /maxStorageBufferBindingSize|maxBufferSize/);
  }
});

gpuTest('a kernel binding more storage buffers than the stage allows', async () => {
  const n = rt!.limits.maxStorageBuffersPerShaderStage + 1;
  const decls = Array.from({ length: n }, (_, i) => `@group(0) @binding(${i}) var<storage, read_write> b${i}: array<f32>;`).join('\n');
  const wgsl = `struct Args { grid: u32 }\n${decls}\n@group(0) @binding(${n}) var<uniform> args: Args;\n@compute @workgroup_size(1) fn main() { b0[0] = 1.0; }\n`;
  await rejects(() => rt!.load(oneKernel(wgsl, 'test:too-many', 16, n)), (e: unknown) =>
    e instanceof DeviceLimitError && /binds \d+ storage buffers; \d+ are allowed per shader stage/.test(e.message));
});

gpuTest('workgroups over maxComputeInvocationsPerWorkgroup', async () => {
  const p = smokeProgram(2, 2);
  p.kernels[0] = { ...p.kernels[0], hash: 'test:wide', workgroupSize: rt!.limits.maxComputeInvocationsPerWorkgroup * 2 };
  await rejects(() => rt!.load(p), (e: unknown) => e instanceof DeviceLimitError && /workgroups of \d+ threads; this device allows \d+/.test(e.message));
});

gpuTest('kernel IR over the workgroup-memory limit is refused before compiling', async () => {
  const max = rt!.limits.maxComputeWorkgroupStorageSize;
  const p = smokeProgram(2, 2);
  const ir = { name: 'k_big', bufs: [], nargs: 0, workgroupSize: 1, regs: [], body: [], locals: [{ name: 'tile', t: 'f32', size: max / 4 }, { name: 'idx', t: 'i64', size: 8 }] };
  p.kernels[0] = { ...p.kernels[0], name: 'k_big', hash: 'test:big', ir };
  await rejects(() => rt!.load(p), (e: unknown) => e instanceof DeviceLimitError &&
    e.message === `kernel k_big uses ${max + 32} bytes of workgroup memory (tile[${max / 4}], idx[8]); this device allows ${max}`);
});

gpuTest('the adapter says whether it is software, and auto can refuse it', async () => {
  const { webGpuUnavailableReason } = await import('../../runtime-webgpu/node.js');
  assert.is(await webGpuUnavailableReason(), undefined);
  const hw = await webGpuUnavailableReason({ hardwareOnly: true });
  if (rt!.gpu.software) assert.match(hw ?? '', /only a software adapter .*--runtime webgpu/);
  else assert.is(hw, undefined);
});

gpuTest('wrong inputs: missing, unknown, wrong size', async () => {
  const ex = await rt!.load(smokeProgram(2, 3));
  const { x, w } = smokeData(2, 3);
  await rejects(() => ex.run({}), /input 'x' is missing \(f32, 6 elements\)/);
  await rejects(() => ex.run({ x, z: x }), /the program has no input named 'z'; its inputs: x/);
  await rejects(() => ex.run({ x: w }), /input 'x' has 3 elements .*, the program expects 6/);
  await rejects(() => ex.setParams({ q: w }), /no param named 'q'/);
  await ex.setParams({ w });
  const ok = await ex.run({ x });
  assert.is(ok.y.data.length, 6, 'the executable still works after rejected calls');
  ex.dispose();
  await rejects(() => ex.run({ x }), /disposed/);
});

test('guarded: a GPU promise that never settles times out', async () => {
  await rejects(() => guarded(new Promise<never>(() => undefined), 'mapAsync', 20), (e: unknown) =>
    e instanceof GpuTimeoutError && e.exitCode === 1 && /mapAsync did not finish within 20 ms/.test(e.message));
});

gpuTest('device lost: a clear error at once, no hang', async () => {
  // A device of its own (this one is destroyed); rt opened, so this one must too.
  const own = await createNodeWebGpu();
  const ex = await own.load(smokeProgram(2, 3));
  const { x, w } = smokeData(2, 3);
  await ex.setParams({ w });
  await ex.run({ x });
  own.destroy();
  await new Promise((r) => setTimeout(r, 50));
  await rejects(() => ex.run({ x }), (e: unknown) => e instanceof DeviceLostError && /device was lost: it was destroyed/.test(e.message));
  await rejects(() => own.load(smokeProgram(2, 3)), (e: unknown) => e instanceof WebGpuError);
});

gpuTest('device lost while a run is in flight: that run rejects, no hang', async () => {
  const own = await createNodeWebGpu();
  const ex = await own.load(smokeProgram(32, 128));
  const { x, w } = smokeData(32, 128);
  await ex.setParams({ w });
  const pending = ex.run({ x });
  own.destroy();
  await rejects(() => pending, (e: unknown) => e instanceof DeviceLostError);
});

test('no Vulkan driver: the reason names VK_ICD_FILENAMES and the apt package', () => {
  const node = fileURLToPath(new URL('../../runtime-webgpu/node.js', import.meta.url));
  const script = `import { createNodeWebGpu } from ${JSON.stringify(node)};
try { await createNodeWebGpu(); console.log('OPENED'); } catch (e) { console.log(e.name + ' ' + e.exitCode + ' ' + e.message); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' }, encoding: 'utf8', timeout: 30_000,
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^WebGpuUnavailable 1 WebGPU is not available: no WebGPU adapter was found; VK_ICD_FILENAMES=\/nonexistent\/icd.json names a file that does not exist \(apt-get install chromium/);
});

test.run();
