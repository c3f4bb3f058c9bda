// Every op in the registry: well-formed spec, and a shape rule that answers
// any input (however wrong) with types or a ShapeError, never a crash: the
// checker's fuzzer relies on this.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Dim, DimExpr, sym } from '../../../compiler/dims.js';
import { OPS } from '../../../compiler/ops/index.js';
import { showAttr, withDefaults } from '../../../compiler/ops/attrs.js';
import { AttrSpec, AttrValue, ShapeError } from '../../../compiler/ops/op.js';
import { Tensor, rng, zeros } from '../../../compiler/tensor.js';
import { DTYPES, TensorType } from '../../../compiler/types.js';
import { RecordingContext } from '../../helpers/op-check.js';

const EXPECTED = [
  'neg', 'abs', 'relu', 'sigmoid', 'tanh', 'exp', 'log', 'sqrt', 'rsqrt', 'square', 'floor', 'ceil', 'softplus', 'logical_not',
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'logical_and', 'logical_or', 'lt', 'le', 'gt', 'ge', 'eq', 'ne',
  'where', 'clamp', 'cast', 'conv2d', 'matmul', 'group_norm', 'frozen_bn', 'max_pool2d', 'resize', 'resize_as',
  'concat', 'slice', 'reshape', 'transpose', 'expand', 'flatten', 'stack', 'sum', 'mean', 'max', 'min', 'argmax',
  'topk', 'sort', 'gather', 'index_select', 'arange', 'full', 'locations', 'box_decode', 'box_iou', 'box_iou_aligned',
  'inside_box', 'center_prior', 'max3d', 'match', 'nms',
  'box_giou_aligned', 'scatter', 'sigmoid_focal_loss', 'bce_with_logits', 'bce',
];

test('the registry holds every op of the brief, each well-formed', () => {
  for (const name of EXPECTED) assert.ok(OPS[name], `missing op ${name}`);
  for (const [key, def] of Object.entries(OPS)) {
    assert.is(def.name, key);
    assert.ok(def.doc.length > 0, `${key}: doc`);
    def.inputs.forEach((inp, i) => { if (inp.variadic) assert.is(i, def.inputs.length - 1, `${key}: variadic input must be last`); });
    for (const a of def.attrs) {
      if (a.choices && a.default !== undefined) assert.ok(a.choices.includes(a.default as string), `${key}.${a.name}: default not in choices`);
    }
  }
});

function randomDim(next: () => number): Dim {
  const r = next();
  return r < 0.2 ? sym(['H', 'W', 'N'][Math.floor(next() * 3)]) : r < 0.25 ? 0 : 1 + Math.floor(next() * 6);
}

function randomType(next: () => number): TensorType | undefined {
  if (next() < 0.05) return undefined;
  const rank = Math.floor(next() * 5);
  return { dtype: DTYPES[Math.floor(next() * DTYPES.length)], shape: Array.from({ length: rank }, () => randomDim(next)) };
}

function randomAttr(spec: AttrSpec, next: () => number): AttrValue | undefined {
  const r = next();
  if (r < 0.4 && spec.default !== undefined) return spec.default;
  if (r < 0.45) return undefined;
  if (r < 0.5) return ['x', true, 1.5, [], [1, 2, 3], [0.5], NaN, -Infinity, [sym('K'), 'y'], sym('K')][Math.floor(next() * 10)] as AttrValue;
  switch (spec.type) {
    case 'int': return next() < 0.1 ? sym('K') : next() < 0.05 ? 2.5 : Math.floor(next() * 7) - 2;
    case 'float': return next() * 2 - 0.5;
    case 'bool': return next() < 0.5;
    case 'string': return spec.choices ? spec.choices[Math.floor(next() * spec.choices.length)] : 'f32';
    case 'ints': return Array.from({ length: Math.floor(next() * 4) }, () => (next() < 0.1 ? sym('K') : Math.floor(next() * 7) - 2));
    case 'floats': return [next()];
  }
}

test('shape rules never crash: 500 random calls per op end in types or a ShapeError', () => {
  // FUSEDET_OPS_FUZZ_SEED picks another deterministic run when hunting for crashes.
  const next = rng(Number(process.env.FUSEDET_OPS_FUZZ_SEED ?? 99));
  for (const def of Object.values(OPS)) {
    for (let trial = 0; trial < 500; trial++) {
      const nIn = def.inputs.some((i) => i.variadic) ? Math.floor(next() * 4) : def.inputs.length;
      const ins = Array.from({ length: nIn }, () => randomType(next));
      const attrs: Record<string, AttrValue> = {};
      for (const a of def.attrs) { const v = randomAttr(a, next); if (v !== undefined) attrs[a.name] = v; }
      try {
        const outs = def.shape(ins, withDefaults(def, attrs), new RecordingContext());
        assert.ok(Array.isArray(outs) && outs.length > 0, `${def.name}: outputs`);
      } catch (e) {
        if (!(e instanceof ShapeError)) {
          assert.unreachable(`${def.name} crashed on inputs ${JSON.stringify(ins.map((t) => t && { dtype: t.dtype, shape: t.shape.map(String) }))} attrs ${Object.entries(attrs).map(([k, v]) => `${k}=${showAttr(v)}`).join(' ')}: ${(e as Error).stack}`);
        }
      }
    }
  }
});

test('wherever the concrete shape rule accepts random inputs, the reference produces exactly those types', () => {
  const next = rng(Number(process.env.FUSEDET_OPS_FUZZ_SEED ?? 7));
  let checked = 0;
  for (const def of Object.values(OPS)) {
    for (let trial = 0; trial < 300; trial++) {
      const nIn = def.inputs.some((i) => i.variadic) ? 1 + Math.floor(next() * 3) : def.inputs.length;
      // Small concrete shapes; a shared pool of dims makes agreeing shapes likely.
      const pool = [1, 2, 3, 4].map(() => 1 + Math.floor(next() * 4));
      const types = Array.from({ length: nIn }, (_, i): TensorType | undefined => {
        if (def.inputs[Math.min(i, def.inputs.length - 1)]?.optional && next() < 0.5) return undefined;
        const allowed = def.inputs[Math.min(i, def.inputs.length - 1)]?.dtypes ?? DTYPES;
        const rank = Math.floor(next() * 5);
        return { dtype: allowed[Math.floor(next() * allowed.length)], shape: Array.from({ length: rank }, () => (next() < 0.8 ? pool[Math.floor(next() * 4)] : 4)) };
      });
      const attrs: Record<string, AttrValue> = {};
      for (const a of def.attrs) { const v = randomAttr(a, next); if (v !== undefined && !(v instanceof DimExpr) && !(Array.isArray(v) && v.some((x) => x instanceof DimExpr))) attrs[a.name] = v; }
      const full = withDefaults(def, attrs);
      let outTypes: TensorType[];
      try { outTypes = def.shape(types, full, new RecordingContext()); } catch (e) { if (e instanceof ShapeError) continue; throw e; }
      const inputs = types.map((t, k) => t && randomTensorOf(t, next, k));
      let outs: Tensor[];
      try { outs = def.reference(inputs, full); } catch (e) { if (e instanceof RangeError) continue; throw new Error(`${def.name} reference crashed: ${(e as Error).stack}`); }
      checked++;
      // flops() must cope with a node's attrs as written (defaults not filled in).
      const flops = def.flops(types.map((t) => t && { dtype: t.dtype, shape: t.shape as number[] }), outs.map((o) => ({ dtype: o.dtype, shape: o.shape })), attrs);
      assert.ok(Number.isFinite(flops) && flops >= 0, `${def.name}: flops ${flops}`);
      assert.is(outs.length, outTypes.length, def.name);
      outs.forEach((o, i) => {
        assert.is(o.dtype, outTypes[i].dtype, `${def.name} output ${i} dtype`);
        assert.equal([...o.shape], outTypes[i].shape, `${def.name} output ${i} shape`);
        assert.is(o.data.length, o.shape.reduce((a, b) => a * b, 1), `${def.name} output ${i} size`);
      });
    }
  }
  assert.ok(checked > 1500, `only ${checked} random calls were valid`);
});

/** Random data of a type: small non-negative ints for i32 (so index ops often succeed), 0/1 for bool. */
function randomTensorOf(t: TensorType, next: () => number, _k: number): Tensor {
  const x = zeros(t.dtype, t.shape as number[]);
  for (let i = 0; i < x.data.length; i++) {
    x.data[i] = t.dtype === 'i32' ? Math.floor(next() * 3) : t.dtype === 'bool' ? (next() < 0.5 ? 1 : 0) : next() * 10 - 3;
  }
  return x;
}

test.run();
