// Tensors made from attrs alone (arange, full) or from a feature map's shape (locations).
import { isConst, mul, showDim } from '../dims.js';
import { DType, numel } from '../types.js';
import { dimAttr, dimsAttr, floatAttr, intAttr, intsAttr, stringAttr } from './attrs.js';
import { need, requireAtLeast, requireRank } from './checks.js';
import { Op, ShapeError } from './op.js';
import { alloc, store, usesF64 } from './tensors.js';

const ARANGE_DTYPES: readonly DType[] = ['i32', 'f32', 'f16'];
const ALL_DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'bool'];

const arange: Op<'arange'> = {
  name: 'arange', kind: 'injective', doc: '0, 1, ..., n - 1',
  inputs: [],
  attrs: [{ name: 'n', type: 'int' }, { name: 'dtype', type: 'string', default: 'i32', choices: ARANGE_DTYPES }],
  shape(_ins, attrs, ctx) {
    const n = dimAttr('arange', attrs, 'n');
    requireAtLeast(ctx, n, 0, `arange: n = ${showDim(n)} must not be negative`);
    return [{ dtype: stringAttr('arange', attrs, 'dtype', ARANGE_DTYPES) as DType, shape: [n] }];
  },
  reference(_ins, attrs) {
    const n = intAttr('arange', attrs, 'n');
    const out = alloc(stringAttr('arange', attrs, 'dtype', ARANGE_DTYPES) as DType, [n], false);
    for (let i = 0; i < n; i++) out.data[i] = i;
    return [out];
  },
  flops: () => 0,
  grad: 'none',
};

const full: Op<'full'> = {
  name: 'full', kind: 'injective', doc: 'a tensor of the given shape filled with value',
  inputs: [],
  attrs: [{ name: 'shape', type: 'ints' }, { name: 'value', type: 'float' }, { name: 'dtype', type: 'string', default: 'f32', choices: ALL_DTYPES }],
  shape(_ins, attrs, ctx) {
    const shape = dimsAttr('full', attrs, 'shape');
    shape.forEach((d, i) => requireAtLeast(ctx, d, 0, `full: size ${showDim(d)} at position ${i} must not be negative`));
    floatAttr('full', attrs, 'value');
    return [{ dtype: stringAttr('full', attrs, 'dtype', ALL_DTYPES) as DType, shape }];
  },
  reference(_ins, attrs) {
    const dtype = stringAttr('full', attrs, 'dtype', ALL_DTYPES) as DType;
    const shape = intsAttr('full', attrs, 'shape');
    const out = alloc(dtype, shape, false);
    const v = floatAttr('full', attrs, 'value');
    for (let i = 0; i < out.data.length; i++) store(dtype, out.data, i, v);
    return [out];
  },
  flops: () => 0,
  grad: 'none',
};

const locations: Op<'locations'> = {
  name: 'locations', kind: 'injective',
  doc: 'centres ((j + 0.5) * stride, (i + 0.5) * stride) of the cells of x: [B, C, H, W], row-major: f32[H*W, 2]',
  inputs: [{ name: 'x' }],
  attrs: [{ name: 'stride', type: 'int' }],
  shape([x], attrs) {
    const t = need('locations', x, 'x', 0);
    requireRank('locations', t, 4, 'feature map', 0, 'B, C, H, W');
    // The stride scales values only, so it may stay symbolic here.
    const s = dimAttr('locations', attrs, 'stride');
    if (isConst(s) && s < 1) throw new ShapeError(`locations: stride must be at least 1, got ${s}`);
    return [{ dtype: 'f32', shape: [mul(t.shape[2], t.shape[3]), 2] }];
  },
  reference([x], attrs) {
    const s = intAttr('locations', attrs, 'stride');
    const [, , H, W] = x!.shape;
    const out = alloc('f32', [H * W, 2], usesF64([x]));
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) {
      out.data[(i * W + j) * 2] = (j + 0.5) * s;
      out.data[(i * W + j) * 2 + 1] = (i + 0.5) * s;
    }
    return [out];
  },
  flops: (_i, outs) => numel(outs[0].shape),
  grad: 'none',
};

export const CREATE_OPS = [arange, full, locations] as const;
