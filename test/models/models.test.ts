// The model sources: each checks clean, FCOS-R50 has the standard parameter
// count, and the tiny DeFCN runs on the reference interpreter.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkFiles, formatDiagnostics } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { Graph } from '../../compiler/graph.js';
import { interpret } from '../../compiler/interpret.js';
import { initParams } from '../../compiler/init.js';
import { numel } from '../../compiler/types.js';
import { randomTensor } from '../../compiler/tensor.js';
import type { Program } from '../../dsl/program.js';

const FILES = ['layers', 'resnet', 'fpn', 'fcos', 'defcn'].map((m) => `models/${m}.fd`);

function load(file: string): Program {
  const { program, diagnostics } = checkFiles([file]);
  assert.ok(program, `${file} could not be read`);
  assert.is(diagnostics.length, 0, formatDiagnostics(diagnostics, (f) => program?.sources.get(f)));
  return program!;
}

for (const f of FILES) test(`${f} checks clean`, () => { load(f); });

interface Counts { conv: number; bn: number; scales: number; trainable: number; frozen: number }

/** Parameter elements by kind: frozen BN tensors and per-level scales apart from conv/GroupNorm weights. */
function count(g: Graph): Counts {
  const c: Counts = { conv: 0, bn: 0, scales: 0, trainable: 0, frozen: 0 };
  for (const p of g.params) {
    const n = numel(g.values[p.value].type.shape);
    if (/\.bn\.(weight|bias|mean|var)$/.test(p.name)) c.bn += n;
    else if (p.name.endsWith('.scales')) c.scales += n;
    else c.conv += n;
    if (p.frozen) c.frozen += n; else c.trainable += n;
  }
  return c;
}

// FCOS, ResNet-50-FPN, K classes, centerness on, counted by hand:
//   ResNet-50 conv weights (no fc, no BN): stem 9,408; res2 212,992;
//   res3 1,212,416; res4 7,077,888; res5 14,942,208 -> 23,454,912
//   (+ BN affine 53,120 + fc 2,049,000 = torchvision's 25,557,032).
//   FPN: laterals 1x1 (512, 1024, 2048 -> 256, with bias) 918,272;
//   outputs 3x3 3 x 590,080; P6, P7 2 x 590,080 -> 3,868,672.
//   Head: 2 towers x 4 x (590,080 conv + 512 GN) = 4,724,736; box 9,220;
//   centerness 2,305; cls 2,304*K + K.
//   K = 80: 32,244,245. K = 91: 32,269,600 = torchvision's
//   fcos_resnet50_fpn num_params (its COCO weights use 91 classes; it keeps
//   FrozenBatchNorm tensors as buffers and has no per-level scales).
// fusedet also holds the frozen BN weight, bias, mean and var (4 x 26,560)
// and the 5 scales as parameters.
test('FCOS ResNet-50-FPN at 1x3x800x1216 has the standard parameter count', () => {
  const program = load('models/fcos.fd');
  const image = { dtype: 'f32' as const, shape: [1, 3, 800, 1216] };
  for (const [K, expected] of [[80, 32_244_245], [91, 32_269_600]]) {
    const g = lower(program, { entry: 'FCOS', inputs: { image }, args: { K } });
    const c = count(g);
    assert.is(c.conv, expected, `K = ${K}`);
    assert.is(c.bn, 4 * 26_560);
    assert.is(c.scales, 5);
    // Frozen: the stem and res2 convs and every BN tensor.
    assert.is(c.frozen, 9_408 + 212_992 + 4 * 26_560);
    assert.is(c.trainable + c.frozen, expected + 4 * 26_560 + 5);
    if (K === 80) {
      assert.equal(g.outputs.map((o) => o.name), ['cls', 'box', 'ctr'].flatMap((k) => [0, 1, 2, 3, 4].map((l) => `${k}.${l}`)));
      assert.equal(g.outputs.map((o) => g.values[o.value].type.shape[2]), [0, 1, 2].flatMap(() => [100, 50, 25, 13, 7]));
      assert.ok(g.params.some((p) => p.name === 'backbone.res4.5.conv3.conv.weight'));
      assert.ok(g.params.some((p) => p.name === 'head.cls_tower.3.norm.weight'));
      const param = (name: string) => g.params.find((p) => p.name === name)!;
      assert.equal(param('head.cls.bias').init, { kind: 'prior_logit', prob: 0.01 });
      assert.equal(param('head.box_tower.0.conv.weight').init, { kind: 'normal', mean: 0, std: 0.01 });
      assert.equal(param('head.box_tower.0.norm.weight').init, { kind: 'ones' });
      assert.equal(param('backbone.res3.0.conv2.conv.weight').init, { kind: 'kaiming', mode: 'fan_out', gain: Math.SQRT2 });
      assert.is(param('backbone.stem.conv.conv.weight').frozen, true);
      assert.is(param('backbone.res2.2.conv3.conv.weight').frozen, true);
      assert.is(param('backbone.res3.0.conv1.conv.weight').frozen, false);
      assert.is(param('backbone.res3.0.conv1.bn.mean').frozen, true);
    }
  }
});

test('FCOS without centerness drops the centerness branch', () => {
  const program = load('models/fcos.fd');
  const g = lower(program, { entry: 'FCOS', inputs: { image: { dtype: 'f32', shape: [1, 3, 64, 64] } }, args: { depth: 0, K: 3, C: 8, groups: 4, width: 4, centerness: false } });
  assert.is(g.outputs.length, 10);
  assert.not.ok(g.params.some((p) => p.name.startsWith('head.ctr')));
});

test('ResNet-18/34/50/101 backbones equal torchvision\'s resnets without the fc layer', () => {
  const program = load('models/resnet.fd');
  // torchvision num_params minus the classifier (512*1000 + 1000 or 2048*1000 + 1000); BN affine counted once.
  const expected: Record<number, number> = { 18: 11_689_512 - 513_000, 34: 21_797_672 - 513_000, 50: 25_557_032 - 2_049_000, 101: 44_549_160 - 2_049_000 };
  for (const depth of [18, 34, 50, 101]) {
    const c = count(lower(program, { entry: 'ResNet', inputs: { x: { dtype: 'f32', shape: [1, 3, 64, 64] } }, args: { depth } }));
    assert.is(c.conv + c.bn / 2, expected[depth], `ResNet-${depth}`);
  }
});

test('ResNet-18 and DeFCN-R50 lower with the expected backbone sizes', () => {
  const program = load('models/defcn.fd');
  const image = { dtype: 'f32' as const, shape: [1, 3, 256, 256] };
  const r18 = count(lower(program, { entry: 'DeFCN', inputs: { image }, args: { depth: 18 } }));
  const r50 = count(lower(program, { entry: 'DeFCN', inputs: { image }, args: { depth: 50 } }));
  // ResNet-18 convs without fc: 11,689,512 - 9,600 BN - 513,000 fc = 11,166,912.
  // FPN over 128/256/512 channels and the DeFCN head are the same for both but for the laterals.
  const head = r50.conv - 23_454_912 - 3_868_672;
  const fpn18 = 3 * 256 + 256 * (128 + 256 + 512) + 5 * 590_080;
  assert.is(r18.conv, 11_166_912 + fpn18 + head);
  // DeFCN head: towers 4,724,736 + cls 184,400 + box 9,220 + 3DMF conv 590,080 + GN 512 + filter 2,305.
  assert.is(head, 4_724_736 + 184_400 + 9_220 + 590_080 + 512 + 2_305);
});

test('tiny backbone + FPN + DeFCN head runs at 1x3x64x64 on the reference interpreter', () => {
  const program = load('models/defcn.fd');
  const g = lower(program, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [1, 3, 64, 64] } }, args: { depth: 0, K: 3, C: 8, groups: 4, width: 4 } });
  const c = count(g);
  assert.ok(c.trainable + c.frozen < 60_000, `tiny model has ${c.trainable + c.frozen} parameters`);
  const out = interpret(g, { image: randomTensor([1, 3, 64, 64], 1) }, initParams(g, 1));
  const sizes = [8, 4, 2, 1, 1];
  g.outputs.forEach((o, i) => {
    const t = out[o.name];
    const kind = Math.floor(i / 5), l = i % 5;
    assert.is(o.name, `${['cls', 'box', 'filter'][kind]}.${l}`);
    assert.equal(t.shape, [1, [3, 4, 1][kind], sizes[l], sizes[l]], o.name);
    for (const v of t.data) assert.ok(Number.isFinite(v), `${o.name} has a non-finite value`);
    if (kind === 1) for (const v of t.data) assert.ok(v >= 0, 'box distances are relu(...) * stride >= 0');
  });
});

test('tiny FCOS with centerness runs on the reference interpreter', () => {
  const program = load('models/fcos.fd');
  const g = lower(program, { entry: 'FCOS', inputs: { image: { dtype: 'f32', shape: [2, 3, 64, 96] } }, args: { depth: 0, K: 2, C: 8, groups: 4, width: 4 } });
  const out = interpret(g, { image: randomTensor([2, 3, 64, 96], 2) }, initParams(g, 2));
  assert.equal(Object.keys(out).sort(), g.outputs.map((o) => o.name).sort());
  assert.equal(out['ctr.0'].shape, [2, 1, 8, 12]);
  assert.equal(out['cls.4'].shape, [2, 2, 1, 1]);
  // The cls bias starts at the prior logit, so with tiny weights the logits sit near -4.6.
  const cls = out['cls.0'].data;
  let sum = 0;
  for (const v of cls) sum += v;
  const mean = sum / cls.length;
  assert.ok(Math.abs(mean + Math.log(99)) < 0.5, `mean cls logit ${mean}`);
});

test.run();
