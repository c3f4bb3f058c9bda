// Reductions over a set of axes (sum, mean, max, min) and argmax.
import { Dim } from '../dims.js';
import { DType, numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { boolAttr, intAttr, intsAttr, normAxis } from './attrs.js';
import { need, requireDtype } from './checks.js';
import { Attrs, GradBuilder, Op, ShapeError } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const NUMERIC: readonly DType[] = ['f32', 'f16', 'i32'];

/** Sorted distinct axes; an empty list means every axis. */
function reduceAxes(op: string, attrs: Attrs, rank: number): number[] {
  const raw = intsAttr(op, attrs, 'axes');
  const axes = raw.length === 0 ? [...Array(rank).keys()] : raw.map((a) => normAxis(op, a, rank));
  if (new Set(axes).size !== axes.length) throw new ShapeError(`${op}: axes [${raw.join(', ')}] repeat an axis`);
  return axes.sort((a, b) => a - b);
}

function reducedShape<D extends Dim>(shape: readonly D[], axes: readonly number[], keepdims: boolean): (D | 1)[] {
  const out: (D | 1)[] = [];
  shape.forEach((d, i) => { if (!axes.includes(i)) out.push(d); else if (keepdims) out.push(1); });
  return out;
}

/**
 * Visits x grouped by output element: calls each(outIndex, value) for every
 * input element, in row-major order within a group.
 */
function forEachReduced(x: Tensor, axes: readonly number[], each: (o: number, v: number, r: number) => void): number {
  const rank = x.shape.length;
  const keep = x.shape.map((_, i) => !axes.includes(i));
  // Output strides over the kept dims; reduced position over the reduced dims.
  const outStride = new Array<number>(rank).fill(0), redStride = new Array<number>(rank).fill(0);
  let acc = 1, racc = 1;
  for (let i = rank - 1; i >= 0; i--) {
    if (keep[i]) { outStride[i] = acc; acc *= x.shape[i]; } else { redStride[i] = racc; racc *= x.shape[i]; }
  }
  const pos = new Array<number>(rank).fill(0);
  let o = 0, r = 0;
  for (let i = 0; i < x.data.length; i++) {
    each(o, x.data[i], r);
    for (let d = rank - 1; d >= 0; d--) {
      pos[d]++; o += outStride[d]; r += redStride[d];
      if (pos[d] < x.shape[d]) break;
      o -= outStride[d] * pos[d]; r -= redStride[d] * pos[d]; pos[d] = 0;
    }
  }
  return racc;
}

type Kind = 'sum' | 'mean' | 'max' | 'min';

/**
 * The output cotangent spread back over the reduced axes. max/min route it to
 * the elements equal to the result; ties split it evenly (torch.amax's rule).
 */
function reduceGrad(name: Kind, b: GradBuilder): number {
  const x = b.inputs[0], xt = b.type(x);
  const axes = reduceAxes(name, b.attrs, xt.shape.length);
  const kept = reducedShape(xt.shape as number[], axes, true) as number[];
  const spread = (v: number): number => b.op('expand', [b.op('reshape', [v], { shape: kept })], { shape: [...xt.shape] });
  const g = spread(b.cotOrZero(0));
  if (name === 'sum') return g;
  if (name === 'mean') return b.op('mul', [g, b.constant(numel(kept) / numel(xt.shape), xt.dtype)]);
  const hit = b.op('eq', [x, spread(b.outputs[0])]);
  const ones = b.op('where', [hit, b.constant(1, xt.dtype), b.constant(0, xt.dtype)]);
  const count = spread(b.op('sum', [ones], { axes, keepdims: true }));
  return b.op('where', [hit, b.op('div', [g, count]), b.constant(0, xt.dtype)]);
}

function reduceOp<N extends Kind>(name: N, doc: string): Op<N> {
  const accepts: readonly DType[] = name === 'mean' ? ['f32', 'f16'] : NUMERIC;
  return {
    name, kind: 'reduce', doc,
    inputs: [{ name: 'x', dtypes: accepts }],
    attrs: [{ name: 'axes', type: 'ints', doc: 'empty: every axis' }, { name: 'keepdims', type: 'bool', default: false }],
    shape([x], attrs) {
      const t = need(name, x, 'x', 0);
      requireDtype(name, t, accepts, 'x', 0);
      const axes = reduceAxes(name, attrs, t.shape.length);
      return [{ dtype: t.dtype, shape: reducedShape(t.shape, axes, boolAttr(name, attrs, 'keepdims')) }];
    },
    reference([x], attrs) {
      const t = x!;
      const axes = reduceAxes(name, attrs, t.shape.length);
      const shape = reducedShape(t.shape, axes, boolAttr(name, attrs, 'keepdims'));
      const n = numel(shape);
      // Accumulate in f64 whatever the storage, then round once on store.
      const acc = new Float64Array(n).fill(name === 'max' ? -Infinity : name === 'min' ? Infinity : 0);
      const count = forEachReduced(t, axes, name === 'max'
        ? (o, v) => { if (v > acc[o] || Number.isNaN(v)) acc[o] = v; }
        : name === 'min'
          ? (o, v) => { if (v < acc[o] || Number.isNaN(v)) acc[o] = v; }
          : (o, v) => { acc[o] += v; });
      const out = alloc(t.dtype, shape, usesF64([t]));
      for (let i = 0; i < n; i++) out.data[i] = name === 'mean' ? acc[i] / count : acc[i];
      return [out];
    },
    flops: (ins) => numel(ins[0]!.shape),
    grad: (b) => [reduceGrad(name, b)],
  };
}

const argmax: Op<'argmax'> = {
  name: 'argmax', kind: 'reduce', doc: 'index of the largest value along an axis (first on ties) as i32',
  inputs: [{ name: 'x', dtypes: NUMERIC }],
  attrs: [{ name: 'axis', type: 'int' }, { name: 'keepdims', type: 'bool', default: false }],
  shape([x], attrs) {
    const t = need('argmax', x, 'x', 0);
    requireDtype('argmax', t, NUMERIC, 'x', 0);
    const axis = normAxis('argmax', intAttr('argmax', attrs, 'axis'), t.shape.length);
    return [{ dtype: 'i32', shape: reducedShape(t.shape, [axis], boolAttr('argmax', attrs, 'keepdims')) }];
  },
  reference([x], attrs) {
    const t = x!;
    const axis = normAxis('argmax', intAttr('argmax', attrs, 'axis'), t.shape.length);
    const shape = reducedShape(t.shape, [axis], boolAttr('argmax', attrs, 'keepdims'));
    const best = new Float64Array(numel(shape)).fill(-Infinity);
    const out = alloc('i32', shape, false);
    const seen = new Uint8Array(best.length);
    forEachReduced(t, [axis], (o, v, r) => {
      // NaN wins, as in torch.argmax; otherwise strictly greater replaces (first index on ties).
      if (!seen[o] || (v > best[o] && !Number.isNaN(best[o])) || (Number.isNaN(v) && !Number.isNaN(best[o]))) { best[o] = v; out.data[o] = r; seen[o] = 1; }
    });
    return [out];
  },
  flops: (ins) => numel(ins[0]!.shape),
  grad: 'none',
};

export const REDUCE_OPS = [
  reduceOp('sum', 'sum over axes'),
  reduceOp('mean', 'mean over axes'),
  reduceOp('max', 'maximum over axes'),
  reduceOp('min', 'minimum over axes'),
  argmax,
] as const;
