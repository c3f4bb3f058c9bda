// Committed renderings of the hand-scheduled kernels the example models'
// snapshots (render-snapshot.test.ts) do not reach: `match` as scheduled for
// each target (one thread on the CPU, the one-thread GPU solve on a software
// adapter, the workgroup solve of match-parallel.ts on WebGPU and CUDA) and
// the CUDA tensor-core GEMM (schedule/gemm-mma.ts: TF32 and BF16, both tiles,
// float4 and scalar packing, a conv with a taps table, the conv adjoints), and
// the bitmask `nms` (ops/nms.kernel.ts: sort, mask, scan, output) per target.
// A refactor of those schedules shows here as a diff in generated code.
// FUSEDET_UPDATE_SNAPSHOTS=1 rewrites them. They live in test/snapshots/ops/
// so the nvcc resource report (render-snapshot-cuda.test.ts, top-level *.cu
// only) keeps its table.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileGraph, renderC, renderCuda } from '../../compiler/program.js';
import type { Graph } from '../../compiler/graph.js';
import { renderWgsl } from '../../compiler/render/wgsl.js';
import { CPU, Target, cudaTarget, webgpuTarget } from '../../compiler/target.js';
import { NO_SPAN } from '../../compiler/types.js';
import { TestGraph } from './kernel/graphs.js';
import { matchGraph } from './ops/match-instances.js';

const dir = fileURLToPath(new URL('../../../test/snapshots/ops/', import.meta.url));
const update = process.env.FUSEDET_UPDATE_SNAPSHOTS === '1';

/** conv2d + bias (a taps table), a 1×1 conv with K and N multiples of 4 (float4 packing), a small-M matmul (32 × 128 tile), and the conv adjoints. */
function gemms(): Graph {
  const t = new TestGraph();
  const x = t.input('x', [2, 5, 9, 11]);
  t.output('conv', t.op('conv2d', [x, t.param('w', [7, 5, 3, 3]), t.param('b', [7])], { stride: [2], padding: [1] }));
  t.output('pw', t.op('relu', [t.op('conv2d', [t.input('x4', [2, 8, 6, 6]), t.param('w4', [72, 8, 1, 1]), -1], {})]));
  t.output('mm', t.op('add', [t.op('matmul', [t.input('a', [2, 17, 33]), t.input('bm', [33, 67])]), t.input('c', [67])]));
  const conv = { stride: [2], padding: [1], dilation: [1], groups: 1 };
  const g = t.input('g', [2, 5, 4, 5]);
  t.output('dx', t.op('conv2d_grad_input', [g, t.param('wg', [5, 3, 3, 3])], { ...conv, size: [8, 9] }));
  t.output('dw', t.op('conv2d_grad_weight', [t.input('xg', [2, 3, 8, 9]), g], { ...conv, kernel: [3, 3] }));
  return t.graph;
}

/** nms over 2 images of 300 boxes (10 mask words; a merge sort of up to 300 rows), a score threshold and max_out 100. */
function nmsGraph(): Graph {
  const t = new TestGraph();
  const [keep, count] = t.ops('nms', [
    t.b.input('boxes', { dtype: 'f32', shape: [2, 300, 4] }, NO_SPAN), t.b.input('scores', { dtype: 'f32', shape: [2, 300] }, NO_SPAN),
    t.b.input('classes', { dtype: 'i32', shape: [2, 300] }, NO_SPAN),
  ], { iou_threshold: 0.6, score_threshold: 0.05, max_out: 100 });
  t.output('keep', keep); t.output('count', count);
  return t.graph;
}

/** Each kernel's WGSL module, in kernel order. */
const wgsl = (graph: Graph, target: Target): string =>
  compileGraph(graph, target, { fuse: true }).kernels.map((k) => `// ${k.name}\n${renderWgsl(k.ir)}`).join('\n');

const SNAPSHOTS: [string, () => string][] = [
  // G = 5, N = 700: the CPU's compact lists hold every row; WebGPU's (512) do not, so the dense scan is rendered too.
  ['match-cpu.c', () => renderC(compileGraph(matchGraph(2, 5, 700), CPU))],
  ['match-cuda.cu', () => renderCuda(compileGraph(matchGraph(2, 5, 700), cudaTarget()))],
  ['match-webgpu.wgsl', () => wgsl(matchGraph(2, 5, 700), webgpuTarget())],
  ['match-webgpu-software.wgsl', () => wgsl(matchGraph(2, 5, 700), webgpuTarget({ software: true }))],
  ['gemm-mma-tf32.cu', () => renderCuda(compileGraph(gemms(), cudaTarget({ cudaMath: 'tf32' }), { fuse: true }))],
  ['gemm-mma-bf16.cu', () => renderCuda(compileGraph(gemms(), cudaTarget({ cudaMath: 'bf16' }), { fuse: true }))],
  ['nms-cpu.c', () => renderC(compileGraph(nmsGraph(), CPU))],
  ['nms-cuda.cu', () => renderCuda(compileGraph(nmsGraph(), cudaTarget()))],
  ['nms-webgpu.wgsl', () => wgsl(nmsGraph(), webgpuTarget())],
];

function writeAtomic(path: string, text: string): void {
  writeFileSync(path + '.tmp', text);
  renameSync(path + '.tmp', path);
}

test('the snapshots hold what they claim: a tensor-core mma in every GEMM rendering, both match solves', () => {
  const texts = Object.fromEntries(SNAPSHOTS.map(([f, render]) => [f, render()]));
  for (const f of ['gemm-mma-tf32.cu', 'gemm-mma-bf16.cu']) assert.is((texts[f].match(/fd_mma_m16n8k(8_tf32|16_bf16)\w*\(/g) ?? []).length > 0, true, f);
  // The workgroup solve steers through the `ctl` workgroup array; the one-thread solve has none.
  assert.match(texts['match-webgpu.wgsl'], /ctl/);
  assert.match(texts['match-cuda.cu'], /ctl/);
  assert.not.match(texts['match-webgpu-software.wgsl'], /ctl/);
  assert.not.match(texts['match-cpu.c'], /ctl/);
  // nms: the removed-set and kept-set in workgroup memory, one launch per call.
  for (const f of ['nms-cpu.c', 'nms-cuda.cu', 'nms-webgpu.wgsl']) { assert.match(texts[f], /\brm\b/, f); assert.match(texts[f], /\bkept\b/, f); }
});

test('rendered match, tensor-core GEMM and nms kernels match the committed snapshots', () => {
  if (update) mkdirSync(dir, { recursive: true });
  const stale: string[] = [];
  for (const [file, render] of SNAPSHOTS) {
    const text = render();
    const path = dir + file;
    if (update) { writeAtomic(path, text); continue; }
    if (!existsSync(path)) { stale.push(`${file} (missing)`); continue; }
    if (readFileSync(path, 'utf8') !== text) stale.push(file);
  }
  assert.equal(stale, [], `renderings changed: ${stale.join(', ')}; review with git diff after FUSEDET_UPDATE_SNAPSHOTS=1`);
});

test.run();
