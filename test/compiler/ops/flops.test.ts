// FLOPs per op against hand counts (one test per op family), and the R50-FPN
// FCOS at 800×1216 against an independent count: PyTorch forward hooks on
// torchvision's fcos_resnet50_fpn (tools/fixtures/flops_fixture.py wrote
// test/fixtures/flops/fcos_r50_800x1216.json). Convention (compiler/ops/):
// a multiply-add is 2 FLOPs, a bias add 1; elementwise ops 1 per output
// element unless the op file says otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withDefaults } from '../../../compiler/ops/attrs.js';
import { checkFiles } from '../../../dsl/index.js';
import { lower } from '../../../compiler/lower.js';
import { summarize } from '../../../compiler/summary.js';
import { numel, type ConcreteType } from '../../../compiler/types.js';
import { AttrsIn, def, shapeOf, ty } from '../../helpers/op-check.js';

/** The op's FLOPs on these input types (outputs from its shape rule, attrs with defaults). */
function flopsOf(name: string, ins: readonly (ConcreteType | undefined)[], attrs: AttrsIn = {}): number {
  const d = def(name);
  const outs = shapeOf(name, ins, attrs) as ConcreteType[];
  return d.flops(ins, outs, withDefaults(d, attrs));
}
const f = (...shape: number[]): ConcreteType => ty('f32', shape) as ConcreteType;

test('conv2d and its two adjoints: 2 per multiply-add, plus 1 per output for the bias', () => {
  // x [2, 8, 10, 12], w [6, 4, 3, 3], groups 2, padding 1: 2·6·10·12 = 1440 outputs, each 4·3·3 = 36 multiply-adds.
  assert.is(flopsOf('conv2d', [f(2, 8, 10, 12), f(6, 4, 3, 3), f(6)], { groups: 2, padding: [1] }), 2 * 1440 * 36 + 1440);
  assert.is(flopsOf('conv2d', [f(2, 8, 10, 12), f(6, 4, 3, 3)], { groups: 2, padding: [1] }), 2 * 1440 * 36);
  // Stride 2: 2·6·5·6 = 360 outputs.
  assert.is(flopsOf('conv2d', [f(2, 8, 10, 12), f(6, 4, 3, 3), f(6)], { groups: 2, padding: [1], stride: [2] }), 2 * 360 * 36 + 360);
  // A 1×1 conv is a matmul: 1·16·7·7 outputs × 32 inputs each.
  assert.is(flopsOf('conv2d', [f(1, 32, 7, 7), f(16, 32, 1, 1)]), 2 * 16 * 49 * 32);
  // The adjoints do the forward's multiply-adds (no bias).
  assert.is(flopsOf('conv2d_grad_input', [f(2, 6, 10, 12), f(6, 4, 3, 3)], { groups: 2, padding: [1], size: [10, 12] }), 2 * 1440 * 36);
  assert.is(flopsOf('conv2d_grad_weight', [f(2, 8, 10, 12), f(2, 6, 10, 12)], { groups: 2, padding: [1], kernel: [3, 3] }), 2 * 1440 * 36);
});

test('matmul: 2·M·N·K per batch', () => {
  assert.is(flopsOf('matmul', [f(3, 4, 5), f(3, 5, 6)]), 2 * 3 * 4 * 6 * 5);
  assert.is(flopsOf('matmul', [f(4, 5), f(3, 5, 6)]), 2 * 3 * 4 * 6 * 5, 'a broadcast batch counts once per output batch');
});

test('elementwise, reductions, norms: per element', () => {
  assert.is(flopsOf('exp', [f(5)]), 5);
  assert.is(flopsOf('add', [f(2, 3), f(3)]), 6, 'per output element of the broadcast');
  assert.is(flopsOf('sum', [f(4, 5)], { axes: [1] }), 20, 'one add per input element');
  assert.is(flopsOf('group_norm', [f(2, 8, 4, 4), f(8), f(8)], { groups: 4 }), 8 * 256);
  assert.is(flopsOf('frozen_bn', [f(2, 8, 4, 4), f(8), f(8), f(8), f(8)]), 2 * 256);
  assert.is(flopsOf('sigmoid_focal_loss', [f(2, 3), f(2, 3)]), 14 * 6);
  assert.is(flopsOf('reshape', [f(2, 3)], { shape: [6] }), 0, 'layout ops move data only');
});

test('pooling and resizing: per output element, by window or taps', () => {
  // 3×3 window, stride 2, padding 1: [1, 2, 4, 4] outputs × 9 compares.
  assert.is(flopsOf('max_pool2d', [f(1, 2, 8, 8)], { kernel: [3], stride: [2], padding: [1] }), 32 * 9);
  assert.is(flopsOf('resize', [f(1, 2, 4, 4)], { size: [8, 8], mode: 'bilinear' }), 128 * 6, '4 taps, 3 lerps of 2 FLOPs');
  assert.is(flopsOf('resize', [f(1, 2, 4, 4)], { size: [8, 8] }), 128);
});

test('max3d: per element, φ² compares per frame and 6 per resampled neighbour', () => {
  // Levels 8×8, 4×4, 2×2 with τ = 2: frames 2, 3, 2 (the level and its neighbours).
  const want = 64 * (2 * 9 + 6 * 1) + 16 * (3 * 9 + 6 * 2) + 4 * (2 * 9 + 6 * 1);
  assert.is(flopsOf('max3d', [f(1, 1, 8, 8), f(1, 1, 4, 4), f(1, 1, 2, 2)], { tau: 2, phi: 3 }), want);
});

test('boxes and selection', () => {
  assert.is(flopsOf('box_iou', [f(1, 3, 4), f(1, 5, 4)]), 12 * 15);
  assert.is(flopsOf('topk', [f(16)], { k: 3 }), 16 * 4, 'n log2 n compares');
});

interface Fixture { source: string; input: number[]; conv_layers: number; modules: number; macs: number; bias_adds: number; weights: number; per_layer: [number[], number[], number, number][] }
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../../../../test/fixtures/flops/fcos_r50_800x1216.json', import.meta.url)), 'utf8')) as Fixture;

test('R50-FPN FCOS at 800×1216: conv FLOPs equal PyTorch forward hooks on torchvision fcos_resnet50_fpn, layer by layer', () => {
  const { program, diagnostics } = checkFiles(['models/fcos.fd']);
  assert.ok(program, diagnostics.map((d) => d.message).join('\n'));
  const g = lower(program!, { entry: 'FCOS', inputs: { image: { dtype: 'f32', shape: fixture.input } }, args: { K: 80 } });
  const convs = g.nodes.filter((n) => n.op === 'conv2d');
  const type = (v: number) => g.values[v].type as ConcreteType;
  const ours = convs.map((n) => {
    const w = type(n.inputs[1]), out = type(n.outputs[0]);
    const macs = numel(out.shape) * numel(w.shape.slice(1));
    return { layer: JSON.stringify([w.shape, out.shape, macs, n.inputs[2] !== undefined && n.inputs[2] >= 0 ? numel(out.shape) : 0]), flops: flopsOf('conv2d', n.inputs.map((v) => (v < 0 ? undefined : type(v))), n.attrs as AttrsIn) };
  });
  // Layer by layer: the same weight shapes, output shapes, multiply-adds and bias adds.
  assert.equal(ours.map((o) => o.layer).sort(), fixture.per_layer.map((l) => JSON.stringify(l)).sort());
  assert.is(convs.length, fixture.conv_layers);
  // Total conv FLOPs under the convention, from fusedet's flops() against PyTorch's counts.
  const total = ours.reduce((a, o) => a + o.flops, 0);
  assert.is(total, 2 * fixture.macs + fixture.bias_adds, `fusedet ${total} vs 2 × ${fixture.macs} + ${fixture.bias_adds} (${fixture.source})`);
  // Each conv weight once (the head is shared over the levels): PyTorch's parameter count.
  const weights = new Set(convs.map((n) => n.inputs[1]));
  assert.is(weights.size, fixture.modules);
  assert.is([...weights].reduce((a, v) => a + numel(type(v).shape), 0), fixture.weights);
  // The whole graph (norms, activations, the rest) adds under 1%: the convs dominate, as they should.
  const all = summarize(g).flops;
  assert.ok(all > total && all < 1.01 * total, `graph ${all} vs convs ${total}`);
  console.log(`R50 FCOS 800×1216: conv ${(total / 1e9).toFixed(2)} GFLOPs = 2 × ${fixture.macs} multiply-adds + ${fixture.bias_adds} bias adds (PyTorch hooks); whole graph ${(all / 1e9).toFixed(2)} G`);
});

test.run();
