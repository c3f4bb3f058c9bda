// Selection along an axis: topk, sort, gather, index_select.
import { Dim, showDim, sub } from '../dims.js';
import { DType, numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { boolAttr, dimAttr, intAttr, normAxis } from './attrs.js';
import { need, requireAtLeast, requireDtype, requireEq, requireRank } from './checks.js';
import { GradBuilder, Op, ShapeError } from './op.js';
import { alloc, store, usesF64 } from './tensors.js';

const NUMERIC: readonly DType[] = ['f32', 'f16', 'i32'];

/** Calls fn for each 1-D line along `axis`: its element offsets are base + i * inner. */
function forEachLine(shape: readonly number[], axis: number, fn: (base: number, inner: number, outer: number, j: number) => void): void {
  const outer = numel(shape.slice(0, axis)), inner = numel(shape.slice(axis + 1)), n = shape[axis];
  for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) fn(o * n * inner + j, inner, o, j);
}

/**
 * Indices of a line ordered by value (descending or ascending), ties by lower
 * index; NaN counts as the largest value, as in PyTorch.
 */
function order(data: ArrayLike<number>, base: number, inner: number, n: number, descending: boolean): number[] {
  const idx = [...Array(n).keys()];
  const key = (i: number): number => { const v = data[base + i * inner]; return Number.isNaN(v) ? Infinity : v; };
  const nan = (i: number): number => (Number.isNaN(data[base + i * inner]) ? 1 : 0);
  idx.sort((a, b) => {
    const ka = key(a), kb = key(b);
    let c = ka < kb ? -1 : ka > kb ? 1 : nan(a) - nan(b);
    if (descending) c = -c;
    return c !== 0 ? c : a - b;
  });
  return idx;
}

function selectOutputs(x: Tensor, axis: number, k: number, descending: boolean): Tensor[] {
  const shape = [...x.shape];
  shape[axis] = k;
  const values = alloc(x.dtype, shape, usesF64([x]));
  const indices = alloc('i32', shape, false);
  const n = x.shape[axis];
  forEachLine(x.shape, axis, (base, inner, o, j) => {
    const idx = order(x.data, base, inner, n, descending);
    const obase = o * k * inner + j;
    for (let i = 0; i < k; i++) { values.data[obase + i * inner] = x.data[base + idx[i] * inner]; indices.data[obase + i * inner] = idx[i]; }
  });
  return [values, indices];
}

const topk: Op<'topk'> = {
  name: 'topk', kind: 'opaque', doc: 'k largest (or smallest) values along an axis and their i32 indices; ties keep the lower index first',
  inputs: [{ name: 'x', dtypes: NUMERIC }],
  attrs: [{ name: 'k', type: 'int' }, { name: 'axis', type: 'int', default: -1 }, { name: 'largest', type: 'bool', default: true }],
  shape([x], attrs, ctx) {
    const t = need('topk', x, 'x', 0);
    requireDtype('topk', t, NUMERIC, 'x', 0);
    const axis = normAxis('topk', intAttr('topk', attrs, 'axis'), t.shape.length);
    const k = dimAttr('topk', attrs, 'k');
    boolAttr('topk', attrs, 'largest');
    requireAtLeast(ctx, k, 1, `topk: k = ${showDim(k)} must be at least 1`, 0);
    requireAtLeast(ctx, sub(t.shape[axis], k), 0, `topk: k = ${showDim(k)} is larger than the ${showDim(t.shape[axis])} elements along axis ${axis}`, 0,
      'take min(k, size) when the size can be small');
    const shape: Dim[] = [...t.shape];
    shape[axis] = k;
    return [{ dtype: t.dtype, shape }, { dtype: 'i32', shape }];
  },
  reference([x], attrs) {
    const axis = normAxis('topk', intAttr('topk', attrs, 'axis'), x!.shape.length);
    const k = intAttr('topk', attrs, 'k');
    if (k > x!.shape[axis]) throw new ShapeError(`topk: k = ${k} is larger than the ${x!.shape[axis]} elements along axis ${axis}`);
    return selectOutputs(x!, axis, k, boolAttr('topk', attrs, 'largest'));
  },
  flops: (ins) => { const n = numel(ins[0]!.shape); return n * Math.max(1, Math.ceil(Math.log2(Math.max(2, n)))); },
  grad: (b) => [selectedGrad('topk', b)],
};

const sort: Op<'sort'> = {
  name: 'sort', kind: 'opaque', doc: 'stable sort along an axis: (values, i32 indices)',
  inputs: [{ name: 'x', dtypes: NUMERIC }],
  attrs: [{ name: 'axis', type: 'int', default: -1 }, { name: 'descending', type: 'bool', default: false }],
  shape([x], attrs) {
    const t = need('sort', x, 'x', 0);
    requireDtype('sort', t, NUMERIC, 'x', 0);
    normAxis('sort', intAttr('sort', attrs, 'axis'), t.shape.length);
    boolAttr('sort', attrs, 'descending');
    return [{ dtype: t.dtype, shape: t.shape }, { dtype: 'i32', shape: t.shape }];
  },
  reference([x], attrs) {
    const axis = normAxis('sort', intAttr('sort', attrs, 'axis'), x!.shape.length);
    return selectOutputs(x!, axis, x!.shape[axis], boolAttr('sort', attrs, 'descending'));
  },
  flops: (ins) => { const n = numel(ins[0]!.shape); return n * Math.max(1, Math.ceil(Math.log2(Math.max(2, n)))); },
  grad: (b) => [selectedGrad('sort', b)],
};

/** Values picked by topk/sort send their cotangent back to where they came from (output 1 holds the indices). */
function selectedGrad(op: string, b: GradBuilder): number {
  const x = b.inputs[0], xt = b.type(x);
  const axis = normAxis(op, intAttr(op, b.attrs, 'axis'), xt.shape.length);
  return b.op('scatter_add', [b.constant(0, xt.dtype, xt.shape), b.outputs[1], b.cotOrZero(0)], { axis });
}

function checkIndex(op: string, i: number, n: number, at: number): number {
  // Negative indices are errors, as in torch.gather / index_select (no Python-style wrap).
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`${op}: index ${i} at position ${at} is out of range for a dim of size ${n}`);
  return i;
}

const gather: Op<'gather'> = {
  name: 'gather', kind: 'injective', doc: 'torch.gather: out[..., i, ...] = x[..., index[..., i, ...], ...] along axis; index has x\'s rank',
  inputs: [{ name: 'x' }, { name: 'index', dtypes: ['i32'] }],
  attrs: [{ name: 'axis', type: 'int' }],
  shape([x, index], attrs, ctx) {
    const t = need('gather', x, 'x', 0), ix = need('gather', index, 'index', 1);
    requireDtype('gather', ix, ['i32'], 'index', 1);
    requireRank('gather', ix, t.shape.length, 'index', 1, "the same rank as x");
    const axis = normAxis('gather', intAttr('gather', attrs, 'axis'), t.shape.length);
    ix.shape.forEach((d, i) => {
      if (i !== axis) requireAtLeast(ctx, sub(t.shape[i], d), 0, `gather: index dim ${i} is ${showDim(d)} but x has only ${showDim(t.shape[i])}`, 1);
    });
    return [{ dtype: t.dtype, shape: ix.shape }];
  },
  reference([x, index], attrs) {
    const t = x!, ix = index!;
    const axis = normAxis('gather', intAttr('gather', attrs, 'axis'), t.shape.length);
    const out = alloc(t.dtype, ix.shape, usesF64([t]));
    const rank = t.shape.length;
    const pos = new Array<number>(rank).fill(0);
    const xStrides = t.shape.map((_, i) => numel(t.shape.slice(i + 1)));
    for (let o = 0; o < ix.data.length; o++) {
      let s = 0;
      for (let d = 0; d < rank; d++) s += (d === axis ? checkIndex('gather', ix.data[o], t.shape[axis], o) : pos[d]) * xStrides[d];
      out.data[o] = t.data[s];
      for (let d = rank - 1; d >= 0; d--) { if (++pos[d] < ix.shape[d]) break; pos[d] = 0; }
    }
    return [out];
  },
  flops: () => 0,
  grad(b) {
    const [x, index] = b.inputs, xt = b.type(x);
    return [b.op('scatter_add', [b.constant(0, xt.dtype, xt.shape), index, b.cotOrZero(0)], { axis: b.attrs.axis }), undefined];
  },
};

const indexSelect: Op<'index_select'> = {
  name: 'index_select', kind: 'injective', doc: 'pick slices along axis by a 1-D i32 index',
  inputs: [{ name: 'x' }, { name: 'index', dtypes: ['i32'] }],
  attrs: [{ name: 'axis', type: 'int' }],
  shape([x, index], attrs) {
    const t = need('index_select', x, 'x', 0), ix = need('index_select', index, 'index', 1);
    requireDtype('index_select', ix, ['i32'], 'index', 1);
    requireRank('index_select', ix, 1, 'index', 1);
    const axis = normAxis('index_select', intAttr('index_select', attrs, 'axis'), t.shape.length);
    const shape = [...t.shape];
    shape[axis] = ix.shape[0];
    return [{ dtype: t.dtype, shape }];
  },
  reference([x, index], attrs) {
    const t = x!, ix = index!;
    const axis = normAxis('index_select', intAttr('index_select', attrs, 'axis'), t.shape.length);
    const shape = [...t.shape];
    const m = ix.shape[0], n = t.shape[axis];
    shape[axis] = m;
    const out = alloc(t.dtype, shape, usesF64([t]));
    const outer = numel(t.shape.slice(0, axis)), inner = numel(t.shape.slice(axis + 1));
    for (let o = 0; o < outer; o++) for (let i = 0; i < m; i++) {
      const src = (o * n + checkIndex('index_select', ix.data[i], n, i)) * inner;
      out.data.set(t.data.subarray(src, src + inner), (o * m + i) * inner);
    }
    return [out];
  },
  flops: () => 0,
  // The 1-D index is broadcast to g's shape so one scatter_add covers every slice.
  grad(b) {
    const [x, index] = b.inputs, xt = b.type(x), g = b.cotOrZero(0), gs = b.type(g).shape;
    const axis = normAxis('index_select', intAttr('index_select', b.attrs, 'axis'), xt.shape.length);
    const lined = gs.map((d, i) => (i === axis ? d : 1));
    const full = b.op('expand', [b.op('reshape', [index], { shape: lined })], { shape: [...gs] });
    return [b.op('scatter_add', [b.constant(0, xt.dtype, xt.shape), full, g], { axis }), undefined];
  },
};

/**
 * The walk scatter and scatter_add share: for every position o of index (in
 * row-major order, which makes scatter_add's sums deterministic) with a
 * non-negative entry, visit o and the flat element of x it addresses.
 */
function forEachScatter(op: string, t: Tensor, ix: Tensor, axis: number, visit: (dst: number, o: number) => void): void {
  const rank = t.shape.length;
  const pos = new Array<number>(rank).fill(0);
  const xStrides = t.shape.map((_, i) => numel(t.shape.slice(i + 1)));
  for (let o = 0; o < ix.data.length; o++) {
    const k = ix.data[o];
    if (k >= 0) {
      if (k >= t.shape[axis]) throw new RangeError(`${op}: index ${k} at position ${o} is out of range for a dim of size ${t.shape[axis]}`);
      let d0 = 0;
      for (let d = 0; d < rank; d++) d0 += (d === axis ? k : pos[d]) * xStrides[d];
      visit(d0, o);
    }
    for (let d = rank - 1; d >= 0; d--) { if (++pos[d] < ix.shape[d]) break; pos[d] = 0; }
  }
}

const scatter: Op<'scatter'> = {
  name: 'scatter', kind: 'opaque',
  doc: 'torch.scatter: a copy of x with out[..., index[..., i, ...], ...] = src[..., i, ...] along axis; negative indices (padding) are skipped; on duplicates the last in row-major order wins',
  inputs: [{ name: 'x' }, { name: 'index', dtypes: ['i32'] }, { name: 'src' }],
  attrs: [{ name: 'axis', type: 'int' }],
  shape([x, index, src], attrs, ctx) {
    const op = 'scatter';
    const t = need(op, x, 'x', 0), ix = need(op, index, 'index', 1), s = need(op, src, 'src', 2);
    requireDtype(op, ix, ['i32'], 'index', 1);
    if (s.dtype !== t.dtype) throw new ShapeError(`${op}: src is ${s.dtype} but x is ${t.dtype}`, { arg: 2 });
    requireRank(op, ix, t.shape.length, 'index', 1, 'the same rank as x');
    requireRank(op, s, t.shape.length, 'src', 2, 'the shape of index');
    const axis = normAxis(op, intAttr(op, attrs, 'axis'), t.shape.length);
    ix.shape.forEach((d, i) => {
      requireEq(ctx, s.shape[i], d, `${op}: src dim ${i} is ${showDim(s.shape[i])} but index dim ${i} is ${showDim(d)}`, 2);
      if (i !== axis) requireAtLeast(ctx, sub(t.shape[i], d), 0, `${op}: index dim ${i} is ${showDim(d)} but x has only ${showDim(t.shape[i])}`, 1);
    });
    return [{ dtype: t.dtype, shape: t.shape }];
  },
  reference([x, index, src], attrs) {
    const t = x!, ix = index!, s = src!;
    const axis = normAxis('scatter', intAttr('scatter', attrs, 'axis'), t.shape.length);
    const out = alloc(t.dtype, t.shape, usesF64([t, s]));
    out.data.set(t.data);
    forEachScatter('scatter', t, ix, axis, (dst, o) => { out.data[dst] = s.data[o]; });
    return [out];
  },
  flops: () => 0,
  // x's overwritten elements get no gradient. src is not differentiated:
  // with duplicate indices only the last writer would get it, and padding
  // indices (< 0) have no place to read from; the models scatter constants.
  grad(b) {
    const [, index, src] = b.inputs, st = b.type(src);
    return [b.op('scatter', [b.cotOrZero(0), index, b.constant(0, st.dtype, st.shape)], { axis: b.attrs.axis }), undefined, undefined];
  },
};

const scatterAdd: Op<'scatter_add'> = {
  name: 'scatter_add', kind: 'opaque',
  doc: 'torch.scatter_add: a copy of x with src[..., i, ...] added at out[..., index[..., i, ...], ...] along axis; negative indices are skipped; sums in row-major order of src (deterministic)',
  inputs: [{ name: 'x' }, { name: 'index', dtypes: ['i32'] }, { name: 'src' }],
  attrs: [{ name: 'axis', type: 'int' }],
  shape(ins, attrs, ctx) { return scatter.shape(ins, attrs, ctx); },
  reference([x, index, src], attrs) {
    const t = x!, ix = index!, s = src!;
    const axis = normAxis('scatter_add', intAttr('scatter_add', attrs, 'axis'), t.shape.length);
    const acc = Float64Array.from(t.data);
    forEachScatter('scatter_add', t, ix, axis, (dst, o) => { acc[dst] += s.data[o]; });
    const out = alloc(t.dtype, t.shape, usesF64([t, s]));
    for (let i = 0; i < acc.length; i++) store(t.dtype, out.data, i, acc[i]);
    return [out];
  },
  flops: (ins) => numel(ins[1]!.shape),
  grad: 'none',
};

export const SELECT_OPS = [topk, sort, gather, indexSelect, scatter, scatterAdd] as const;
