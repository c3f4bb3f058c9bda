// A small hand-written WGSL program following the runtime's binding
// convention (see runtime-webgpu/executable.ts): a row-wise sum with
// workgroup memory and barriers, then a scaled elementwise add that reads
// it. The browser page and the Node tests run it and compare; it stands in
// for the compiled tiny DeFCN forward until the WGSL renderer lands.
import type { Program } from '../runtime-webgpu/contract.js';
import type { Tensor } from '../compiler/tensor.js';
import { randomTensor } from '../compiler/tensor.js';

export const ROW_SUM_WGSL = `
struct Args { grid: u32, cols: i32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> args: Args;
var<workgroup> part: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  if (wg >= args.grid) { return; }
  let cols = u32(args.cols);
  var acc = 0.0;
  for (var c = lid; c < cols; c += 64u) { acc += x[wg * cols + c]; }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { y[wg] = part[0]; }
}
`;

/** out[r, c] = x[r, c] * w[c] + rowsum[r]; one thread per element. */
export const SCALE_ADD_WGSL = `
struct Args { grid: u32, cols: i32, total: i32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> rowsum: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> args: Args;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  if (wg >= args.grid) { return; }
  let i = wg * 64u + lid;
  if (i >= u32(args.total)) { return; }
  let c = i % u32(args.cols);
  out[i] = x[i] * w[c] + rowsum[i / u32(args.cols)];
}
`;

export function smokeProgram(rows: number, cols: number): Program {
  const f = (id: number, n: number, role: 'input' | 'param' | 'output' | 'temp', name: string, shape: number[]) =>
    ({ id, bytes: 4 * n, dtype: 'f32' as const, role, name, shape });
  return {
    buffers: [f(0, rows * cols, 'input', 'x', [rows, cols]), f(1, cols, 'param', 'w', [cols]), f(2, rows, 'output', 'rowsum', [rows]), f(3, rows * cols, 'output', 'y', [rows, cols])],
    kernels: [
      { name: 'row_sum', hash: 'hand:row_sum:v1', ir: { wgsl: ROW_SUM_WGSL }, workgroupSize: 64 },
      { name: 'scale_add', hash: 'hand:scale_add:v1', ir: { wgsl: SCALE_ADD_WGSL }, workgroupSize: 64 },
    ],
    launches: [
      { kernel: 0, buffers: [0, 2], args: [cols], grid: rows },
      { kernel: 1, buffers: [0, 1, 2, 3], args: [cols, rows * cols], grid: Math.ceil((rows * cols) / 64) },
    ],
    inputs: { x: 0 }, outputs: { rowsum: 2, y: 3 }, params: { w: 1 },
    peakBytes: 4 * (2 * rows * cols + rows + cols),
  };
}

export function smokeData(rows: number, cols: number, seed = 7): { x: Tensor; w: Tensor } {
  return { x: randomTensor([rows, cols], seed), w: randomTensor([cols], seed + 1) };
}

/** The same computation in plain TypeScript (f64 accumulation). */
export function smokeReference(x: Tensor, w: Tensor): { rowsum: Float64Array; y: Float64Array } {
  const [rows, cols] = x.shape;
  const rowsum = new Float64Array(rows);
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) rowsum[r] += x.data[r * cols + c];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[r * cols + c] = x.data[r * cols + c] * w.data[c] + rowsum[r];
  return { rowsum, y };
}

/** The size the demo page and its test run (small: SwiftShader is slow). */
export const SMOKE_ROWS = 16;
export const SMOKE_COLS = 100;
