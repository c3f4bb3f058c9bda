// Hand-written WGSL kernels under the runtime's binding convention, checked
// against plain TypeScript loops on Dawn (SwiftShader here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openOrSkip, maxAbsDiff } from './open.js';
import type { Program } from '../../runtime-webgpu/contract.js';
import { splitGrid } from '../../runtime-webgpu/executable.js';
import { tensor } from '../../compiler/tensor.js';
import { smokeProgram, smokeData, smokeReference } from '../../web/smoke-program.js';

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
  const { w } = smokeData(4, 8);
  await ex.setParams({ w });
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

gpuTest('device limits are reported for the fusion pass', () => {
  const l = rt!.limits;
  assert.ok(l.maxStorageBuffersPerShaderStage >= 8);
  assert.ok(l.maxComputeInvocationsPerWorkgroup >= 256);
  assert.ok(l.maxComputeWorkgroupStorageSize >= 16384);
  assert.ok(l.maxStorageBufferBindingSize >= 128 * 2 ** 20);
  assert.ok(l.maxComputeWorkgroupsPerDimension >= 65535);
});

test.run();
