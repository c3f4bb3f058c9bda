// Normalisations over NC... activations: GroupNorm (trained) and frozen
// BatchNorm (inference statistics, as detector backbones use).
import { floordiv, isConst, mul, showDim, sub } from '../dims.js';
import { TensorType, numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { dimAttr, floatAttr, intAttr } from './attrs.js';
import { need, requireDtype, requireEq, requireMinRank, requireRank, requireSameDtype } from './checks.js';
import { GradBuilder, Op, ShapeContext, ShapeError } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const FLOAT = ['f32', 'f16'] as const;

/** Each per-channel vector must be f[C] with x's dtype. */
function channelVector(op: string, x: TensorType, v: TensorType | undefined, name: string, arg: number, ctx: ShapeContext): void {
  const t = need(op, v, name, arg);
  requireRank(op, t, 1, name, arg, 'one value per channel');
  requireSameDtype(op, x, t, arg);
  requireEq(ctx, t.shape[0], x.shape[1], `${op}: ${name} has ${showDim(t.shape[0])} values but the input has ${showDim(x.shape[1])} channels`, arg);
}

const groupNorm: Op<'group_norm'> = {
  name: 'group_norm', kind: 'opaque',
  doc: 'GroupNorm over x: [N, C, ...]: normalise each group of C/groups channels per sample, then a per-channel affine',
  inputs: [{ name: 'x', dtypes: FLOAT }, { name: 'weight', dtypes: FLOAT }, { name: 'bias', dtypes: FLOAT }],
  attrs: [{ name: 'groups', type: 'int' }, { name: 'eps', type: 'float', default: 1e-5 }],
  shape([x, w, b], attrs, ctx) {
    const op = 'group_norm';
    const tx = need(op, x, 'x', 0);
    requireMinRank(op, tx, 2, 'input', 0);
    requireDtype(op, tx, FLOAT, 'input', 0);
    // groups may stay symbolic (a constructor parameter): divisibility is then left to lowering.
    const g = dimAttr(op, attrs, 'groups');
    if (isConst(g) && g < 1) throw new ShapeError(`${op}: groups must be at least 1, got ${g}`);
    const c = tx.shape[1];
    if (isConst(g)) {
      requireEq(ctx, sub(c, mul(floordiv(c, g), g)), 0, `${op}: ${showDim(c)} channels are not divisible by groups = ${g}`, 0,
        'choose groups dividing the channel count (32 for 256 channels)');
    }
    channelVector(op, tx, w, 'weight', 1, ctx);
    channelVector(op, tx, b, 'bias', 2, ctx);
    floatAttr(op, attrs, 'eps');
    return [{ dtype: tx.dtype, shape: tx.shape }];
  },
  reference([x, w, b], attrs) {
    const g = intAttr('group_norm', attrs, 'groups'), eps = floatAttr('group_norm', attrs, 'eps');
    const X = x!, [N, C] = X.shape;
    const S = numel(X.shape.slice(2));
    const cg = C / g, len = cg * S;
    const out = alloc(X.dtype, X.shape, usesF64([x, w, b]));
    for (let n = 0; n < N; n++) for (let gi = 0; gi < g; gi++) {
      const base = (n * C + gi * cg) * S;
      let mean = 0;
      for (let i = 0; i < len; i++) mean += X.data[base + i];
      mean /= len;
      let v = 0;
      for (let i = 0; i < len; i++) { const d = X.data[base + i] - mean; v += d * d; }
      const inv = 1 / Math.sqrt(v / len + eps);
      for (let ci = 0; ci < cg; ci++) {
        const c = gi * cg + ci;
        const scale = inv * w!.data[c], shift = b!.data[c];
        for (let s = 0; s < S; s++) { const i = base + ci * S + s; out.data[i] = (X.data[i] - mean) * scale + shift; }
      }
    }
    return [out];
  },
  // Mean, variance (2 per element), normalise and affine (2 multiply-adds).
  flops: (ins) => 8 * numel(ins[0]!.shape),
  grad: groupNormGrad,
};

/** A per-channel vector [C] shaped to broadcast against x: [1, C, 1, ...]. */
function perChannel(b: GradBuilder, v: number, rank: number): number {
  const c = b.type(v).shape[0];
  return b.op('reshape', [v], { shape: [1, c, ...new Array<number>(rank - 2).fill(1)] });
}

/** Sums over every axis but the channel axis: [N, C, ...] -> [C]. */
function channelSum(b: GradBuilder, v: number): number {
  const rank = b.type(v).shape.length;
  return b.op('sum', [v], { axes: [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)], keepdims: false });
}

/**
 * Recomputes the group statistics from x (nothing is saved by the forward),
 * then dx = inv * (gh - mean(gh) - xhat * mean(gh * xhat)) over each group,
 * with gh = g * weight; dweight = sum(g * xhat), dbias = sum(g).
 * Cheap values used several times (the grouped view, xhat, gh) are emitted
 * once per use: fusion then recomputes them inside each consumer's kernel
 * instead of storing them (a value with two consumers is materialised).
 */
function groupNormGrad(b: GradBuilder): (number | undefined)[] {
  const [x, w] = b.inputs, xt = b.type(x), g = b.cotOrZero(0);
  const groups = intAttr('group_norm', b.attrs, 'groups'), eps = floatAttr('group_norm', b.attrs, 'eps');
  const [N] = xt.shape, rank = xt.shape.length;
  const len = numel(xt.shape) / N / groups;
  const grouped = (v: number): number => b.op('reshape', [v], { shape: [N, groups, len] });
  const groupMean = (v: number): number => b.op('mean', [v], { axes: [2], keepdims: true });
  const groupMeanOf = (pair: number): number => b.op('mean', [pair], { axes: [3], keepdims: true });
  const mu = groupMean(grouped(x));
  const centred = (): number => b.op('sub', [grouped(x), mu]);
  const inv = b.op('rsqrt', [b.op('add', [groupMean(b.op('square', [centred()])), b.constant(eps, xt.dtype)])]);
  const xhat = (): number => b.op('mul', [centred(), inv]);
  const gh = (): number => grouped(b.op('mul', [g, perChannel(b, w, rank)]));
  let dx: number | undefined;
  if (b.needs(0)) {
    // Both group means in one reduction over a stacked pair; each half is
    // read once, by the dx kernel, which slices it inline.
    const both = groupMeanOf(b.op('stack', [gh(), b.op('mul', [gh(), xhat()])], { axis: 0 }));
    const half = (i: number): number => b.op('reshape', [b.op('slice', [both], { axis: 0, start: i, end: i + 1, step: 1 })], { shape: [N, groups, 1] });
    const m1 = half(0), m2 = half(1);
    const inner = b.op('sub', [b.op('sub', [gh(), m1]), b.op('mul', [xhat(), m2])]);
    dx = b.op('reshape', [b.op('mul', [inv, inner])], { shape: [...xt.shape] });
  }
  return [
    dx,
    b.needs(1) ? channelSum(b, b.op('mul', [g, b.op('reshape', [xhat()], { shape: [...xt.shape] })])) : undefined,
    b.needs(2) ? channelSum(b, g) : undefined,
  ];
}

const frozenBn: Op<'frozen_bn'> = {
  name: 'frozen_bn', kind: 'broadcast',
  doc: 'BatchNorm with frozen statistics: (x - mean) / sqrt(var + eps) * weight + bias, per channel of x: [N, C, ...]',
  inputs: ['x', 'weight', 'bias', 'mean', 'var'].map((name) => ({ name, dtypes: FLOAT })),
  attrs: [{ name: 'eps', type: 'float', default: 1e-5 }],
  shape(ins, attrs, ctx) {
    const op = 'frozen_bn';
    const tx = need(op, ins[0], 'x', 0);
    requireMinRank(op, tx, 2, 'input', 0);
    requireDtype(op, tx, FLOAT, 'input', 0);
    ['weight', 'bias', 'mean', 'var'].forEach((name, i) => channelVector(op, tx, ins[i + 1], name, i + 1, ctx));
    floatAttr(op, attrs, 'eps');
    return [{ dtype: tx.dtype, shape: tx.shape }];
  },
  reference(ins, attrs) {
    const eps = floatAttr('frozen_bn', attrs, 'eps');
    const [x, w, b, m, v] = ins as Tensor[];
    const C = x.shape[1], S = numel(x.shape.slice(2)), N = x.shape[0];
    const out = alloc(x.dtype, x.shape, usesF64(ins));
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
      const inv = 1 / Math.sqrt(v.data[c] + eps);
      const base = (n * C + c) * S;
      for (let s = 0; s < S; s++) out.data[base + s] = (x.data[base + s] - m.data[c]) * inv * w.data[c] + b.data[c];
    }
    return [out];
  },
  // Folded into one multiply-add per element.
  flops: (ins) => 2 * numel(ins[0]!.shape),
  // The statistics are constants by definition: a trainable mean or var is
  // the user's mistake, said plainly. weight and bias are usually frozen too
  // but get their (cheap) gradients when they are not.
  grad(b) {
    const [x, w, , m, v] = b.inputs, rank = b.type(x).shape.length, g = b.cotOrZero(0);
    const eps = floatAttr('frozen_bn', b.attrs, 'eps');
    if (b.needs(3) || b.needs(4)) throw new ShapeError('frozen_bn: the running mean and var are frozen statistics and cannot be trained; declare them frozen');
    const inv = b.op('rsqrt', [b.op('add', [v, b.constant(eps, b.type(x).dtype)])]);
    return [
      b.needs(0) ? b.op('mul', [g, perChannel(b, b.op('mul', [w, inv]), rank)]) : undefined,
      b.needs(1) ? channelSum(b, b.op('mul', [g, b.op('mul', [b.op('sub', [x, perChannel(b, m, rank)]), perChannel(b, inv, rank)])])) : undefined,
      b.needs(2) ? channelSum(b, g) : undefined,
      undefined, undefined,
    ];
  },
};

export const NORM_OPS = [groupNorm, frozenBn] as const;
