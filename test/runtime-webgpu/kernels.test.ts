// Hand-written WGSL kernels under the runtime's binding convention, checked
// against plain TypeScript loops on Dawn (SwiftShader here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openOrSkip, maxAbsDiff } from './open.js';
import { testUnless } from '../helpers/skip.js';
import { createNodeWebGpu } from '../../runtime-webgpu/node.js';
import type { Program } from '../../runtime-webgpu/contract.js';
import { splitGrid } from '../../runtime-webgpu/executable.js';
import { tensor } from '../../compiler/tensor.js';
import { smokeProgram, smokeData, smokeReference, ROW_SUM_WGSL as SMOKE_ROW_SUM } from '../../web/smoke-program.js';

const rt = await openOrSkip('test/runtime-webgpu/kernels.test.ts');
const gpuTest = rt ? test : test.skip;

test('splitGrid covers the grid within the per-dimension limit', () => {
  assert.equal(splitGrid(1000, 65535), [1000, 1]);
  assert.equal(splitGrid(0, 65535), [1, 1]);
  for (const g of [65536, 70001, 200000, 65535 * 3 + 1]) {
    const [x, y] = splitGrid(g, 65535);
    assert.ok(x <= 65535 && y <= 65535 && x * y >= g && (x - 1) * y < g, `grid ${g} → ${x}×${y}`);
  }
  assert.throws(() => splitGrid(65535 * 65535 + 1, 65535), /2-D dispatch limit/);
});

// One workgroup of one thread per element, so the grid passes 65535 at a
// small size; the counter shows exactly `grid` workgroups got past the guard.
const ADD_WGSL = `
struct Args { grid: u32, bias: i32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> count: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> args: Args;

@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wg = wid.x + wid.y * nwg.x;
  if (wg >= args.grid) { return; }
  atomicAdd(&count[0], 1u);
  out[wg] = a[wg] + b[wg] + f32(args.bias);
}
`;

function addProgram(n: number, bias: number): Program {
  const f = (id: number, role: 'input' | 'output', name: string) => ({ id, bytes: 4 * n, dtype: 'f32' as const, role, name, shape: [n] });
  return {
    buffers: [f(0, 'input', 'a'), f(1, 'input', 'b'), f(2, 'output', 'out'), { id: 3, bytes: 4, dtype: 'i32', role: 'output', name: 'count', shape: [1] }],
    kernels: [{ name: 'add_split', hash: 'test:add_split', ir: { wgsl: ADD_WGSL }, workgroupSize: 1 }],
    launches: [{ kernel: 0, buffers: [0, 1, 2, 3], args: [bias], grid: n }],
    inputs: { a: 0, b: 1 }, outputs: { out: 2, count: 3 }, params: {}, peakBytes: 12 * n + 4,
  };
}

gpuTest('elementwise add over a 2-D split grid of 70001 workgroups', async () => {
  const n = 70001;
  const ex = await rt!.load(addProgram(n, 3));
  const a = tensor('f32', [n], Array.from({ length: n }, (_, i) => (i % 97) * 0.5));
  const b = tensor('f32', [n], Array.from({ length: n }, (_, i) => -(i % 13)));
  const out = await ex.run({ a, b });
  const want = Array.from({ length: n }, (_, i) => a.data[i] + b.data[i] + 3);
  assert.equal(maxAbsDiff(out.out.data, want), 0);
  assert.equal(out.out.shape, [n]);
  assert.is(out.count.data[0], n, 'exactly grid workgroups pass the guard');
  ex.dispose();
});

gpuTest('row sum with workgroup memory and barriers, then a fused scale-add', async () => {
  for (const [rows, cols] of [[3, 5], [17, 64], [9, 301]]) {
    const ex = await rt!.load(smokeProgram(rows, cols));
    const { x, w } = smokeData(rows, cols, rows * cols);
    await ex.setParams({ w });
    const out = await ex.run({ x });
    const ref = smokeReference(x, w);
    assert.equal(out.rowsum.shape, [rows]);
    assert.equal(out.y.shape, [rows, cols]);
    assert.ok(maxAbsDiff(out.rowsum.data, ref.rowsum) < 1e-4 * Math.sqrt(cols), `rowsum ${rows}×${cols}`);
    assert.ok(maxAbsDiff(out.y.data, ref.y) < 1e-4 * Math.sqrt(cols), `y ${rows}×${cols}`);
    ex.dispose();
  }
});

gpuTest('params stay resident across runs; pipelines are cached by hash', async () => {
  const before = rt!.compiles;
  const ex = await rt!.load(smokeProgram(4, 8));
  const ex2 = await rt!.load(smokeProgram(6, 10));
  assert.is(rt!.compiles, before, 'same kernel hashes, no new compile');
  assert.equal([ex2.stats.compiled, ex2.stats.cached, ex2.stats.kernels], [0, 2, 2]);
  assert.equal(ex.lastTimes(), [], 'no timing unless asked');
  const { w } = smokeData(4, 8);
  await ex.setParams(new Map([['w', w]]));
  assert.equal(Array.from((await ex.getParam('w')).data), Array.from(w.data));
  assert.equal((await ex.getParam('w')).shape, [8]);
  for (const seed of [1, 2]) {
    const { x } = smokeData(4, 8, seed);
    const out = await ex.run({ x });
    assert.ok(maxAbsDiff(out.y.data, smokeReference(x, w).y) < 1e-5);
  }
  ex.dispose();
  ex2.dispose();
});

gpuTest('concurrent runs of one executable are serialised', async () => {
  const ex = await rt!.load(smokeProgram(5, 7));
  const { w } = smokeData(5, 7);
  await ex.setParams({ w });
  const xs = [11, 12, 13].map((s) => smokeData(5, 7, s).x);
  const outs = await Promise.all(xs.map((x) => ex.run({ x })));
  outs.forEach((o, i) => assert.ok(maxAbsDiff(o.rowsum.data, smokeReference(xs[i], w).rowsum) < 1e-5));
  ex.dispose();
});

// bool buffers are u32 words on the device; i32 stays i32.
const MASK_WGSL = `
struct Args { grid: u32, n: i32 }
@group(0) @binding(0) var<storage, read> x: array<i32>;
@group(0) @binding(1) var<storage, read> keep: array<u32>;
@group(0) @binding(2) var<storage, read_write> pos: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<i32>;
@group(0) @binding(4) var<uniform> args: Args;
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  if (wg >= args.grid) { return; }
  let i = wg * 32u + lid;
  if (i >= u32(args.n)) { return; }
  pos[i] = select(0u, 1u, x[i] > 0);
  y[i] = select(0, x[i] * 2, keep[i] != 0u);
}
`;

gpuTest('i32 and bool buffers (bool as u32 words on the device)', async () => {
  const n = 45;
  const buf = (id: number, dtype: 'i32' | 'bool', role: 'input' | 'output', name: string) => ({ id, bytes: n * (dtype === 'bool' ? 1 : 4), dtype, role, name, shape: [n] });
  const ex = await rt!.load({
    buffers: [buf(0, 'i32', 'input', 'x'), buf(1, 'bool', 'input', 'keep'), buf(2, 'bool', 'output', 'pos'), buf(3, 'i32', 'output', 'y')],
    kernels: [{ name: 'mask', hash: 'test:mask', ir: { wgsl: MASK_WGSL }, workgroupSize: 32 }],
    launches: [{ kernel: 0, buffers: [0, 1, 2, 3], args: [n], grid: 2 }],
    inputs: { x: 0, keep: 1 }, outputs: { pos: 2, y: 3 }, params: {}, peakBytes: 10 * n,
  });
  const x = tensor('i32', [n], Array.from({ length: n }, (_, i) => (i * 7919) % 23 - 11));
  const keep = tensor('bool', [n], Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)));
  const out = await ex.run({ x, keep });
  assert.instance(out.pos.data, Uint8Array);
  assert.equal(Array.from(out.pos.data), Array.from(x.data, (v) => (v > 0 ? 1 : 0)));
  assert.equal(Array.from(out.y.data), Array.from(x.data, (v, i) => (keep.data[i] ? v * 2 : 0)));
  ex.dispose();
});

// Decided here, not inside the test: an adapter without timestamp queries skips it, counted.
const timestamps = rt && !rt.gpu.adapter.features.has('timestamp-query') ? 'the adapter lacks timestamp-query' : undefined;
(rt ? testUnless(timestamps) : gpuTest)('FUSEDET_DEBUG=2: per-launch times from timestamp queries', async () => {
  const lines: string[] = [];
  const rt2 = await createNodeWebGpu({ debug: 2, log: (l) => lines.push(l) });
  assert.ok(rt2.gpu.features.has('timestamp-query'), 'the adapter has timestamp-query, so FUSEDET_DEBUG=2 must ask for it');
  const ex = await rt2.load(smokeProgram(8, 16));
  const { x, w } = smokeData(8, 16);
  await ex.setParams({ w });
  await ex.run({ x });
  assert.equal(ex.lastTimes().map((t) => [t.kernel, t.grid]), [['row_sum', 8], ['scale_add', 2]]);
  assert.ok(ex.lastTimes().every((t) => t.seconds >= 0 && t.seconds < 10));
  assert.ok(lines.some((l) => /^\[webgpu\] launch 0 row_sum grid 8: [\d.]+ ms, [\d.]+ GB\/s$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^\[webgpu\] loaded 2 kernels/.test(l)));
  rt2.destroy();
});

gpuTest('FUSEDET_DEBUG=4: each kernel\'s WGSL is written once and its path logged', async () => {
  const lines: string[] = [];
  const dumps: string[] = [];
  const rt4 = await createNodeWebGpu({ debug: 4, log: (l) => lines.push(l), dumpSource: (name, _hash, src) => { dumps.push(src); return `/dump/${name}.wgsl`; } });
  const p = smokeProgram(3, 4);
  p.launches.push({ ...p.launches[0] });
  const ex = await rt4.load(p);
  assert.equal(lines.filter((l) => l.startsWith('[webgpu] row_sum: ')), ['[webgpu] row_sum: /dump/row_sum.wgsl'], 'rendered once for two launches');
  assert.ok(dumps.includes(SMOKE_ROW_SUM));
  ex.dispose();
  rt4.destroy();
});

gpuTest('an int argument over 32 bits is refused with the launch named', async () => {
  const p = smokeProgram(2, 2);
  p.launches[0] = { ...p.launches[0], args: [2 ** 33] };
  let msg = '';
  try { await rt!.load(p); } catch (e) { msg = (e as Error).message; }
  assert.is(msg, 'launch 0 (row_sum) has argument 8589934592, which does not fit the 32-bit integers WGSL kernels take');
});

gpuTest('device limits are reported for the fusion pass', () => {
  const l = rt!.limits;
  assert.ok(l.maxStorageBuffersPerShaderStage >= 8);
  assert.ok(l.maxComputeInvocationsPerWorkgroup >= 256);
  assert.ok(l.maxComputeWorkgroupStorageSize >= 16384);
  assert.ok(l.maxStorageBufferBindingSize >= 128 * 2 ** 20);
  assert.ok(l.maxComputeWorkgroupsPerDimension >= 65535);
});

test.run();
