// Layout ops: concat, stack, slice, reshape, transpose, expand, flatten.
// They move data without arithmetic, so flops() is 0.
import { Atom, Dim, DimExpr, add, dimEquals, floordiv, isConst, mul, quotientSym, showDim, showShape, sub, sym } from '../dims.js';
import { TensorType, numel } from '../types.js';
import { Tensor, stridesOf } from '../tensor.js';
import { dimAttr, dimsAttr, intAttr, intsAttr, normAxis } from './attrs.js';
import { need, requireAtLeast, requireEq } from './checks.js';
import { Op, OpDef, ShapeContext, ShapeError } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const noFlops = (): number => 0;

function requireSame(op: string, ts: readonly (TensorType | undefined)[], skipAxis: number | undefined, ctx: ShapeContext): TensorType[] {
  if (ts.length === 0) throw new ShapeError(`${op}: needs at least one tensor`);
  const all = ts.map((t, i) => need(op, t, `tensor ${i + 1}`, i));
  const first = all[0];
  all.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw new ShapeError(`${op}: tensor ${i + 1} is ${t.dtype} but tensor 1 is ${first.dtype}`, { arg: i });
    if (t.shape.length !== first.shape.length) throw new ShapeError(`${op}: tensor ${i + 1} has rank ${t.shape.length} but tensor 1 has rank ${first.shape.length}`, { arg: i });
    t.shape.forEach((d, k) => {
      if (k === skipAxis) return;
      requireEq(ctx, d, first.shape[k], `${op}: tensor ${i + 1} has shape ${showShape(t.shape)} but tensor 1 has ${showShape(first.shape)} (dim ${k} differs)`, i);
    });
  });
  return all;
}

/** Copies blocks: out is the concatenation of inputs along `axis` (stack uses axis on a reshaped view). */
function concatData(ts: readonly Tensor[], axis: number, outShape: number[]): Tensor {
  const out = alloc(ts[0].dtype, outShape, usesF64(ts));
  const outer = numel(outShape.slice(0, axis));
  const inner = numel(outShape.slice(axis + 1));
  const outRow = outShape[axis] * inner;
  let offset = 0;
  for (const t of ts) {
    const rows = (t.shape[axis] ?? 1) * inner;
    for (let o = 0; o < outer; o++) out.data.set(t.data.subarray(o * rows, (o + 1) * rows), o * outRow + offset);
    offset += rows;
  }
  return out;
}

const concat: Op<'concat'> = {
  name: 'concat', kind: 'injective', doc: 'join tensors along an existing axis',
  inputs: [{ name: 'xs', variadic: true }], attrs: [{ name: 'axis', type: 'int' }],
  shape(ins, attrs, ctx) {
    const first = need('concat', ins[0], 'tensor 1', 0);
    const axis = normAxis('concat', intAttr('concat', attrs, 'axis'), first.shape.length);
    const all = requireSame('concat', ins, axis, ctx);
    const shape = [...first.shape];
    shape[axis] = all.slice(1).reduce<Dim>((acc, t) => add(acc, t.shape[axis]), first.shape[axis]);
    return [{ dtype: first.dtype, shape }];
  },
  reference(ins, attrs) {
    const ts = ins as Tensor[];
    const axis = normAxis('concat', intAttr('concat', attrs, 'axis'), ts[0].shape.length);
    const shape = [...ts[0].shape];
    shape[axis] = ts.reduce((a, t) => a + t.shape[axis], 0);
    return [concatData(ts, axis, shape)];
  },
  flops: noFlops,
  grad(b) {
    const g = b.cotOrZero(0);
    const axis = normAxis('concat', intAttr('concat', b.attrs, 'axis'), b.type(b.inputs[0]).shape.length);
    let offset = 0;
    return b.inputs.map((v, i) => {
      const n = b.type(v).shape[axis];
      offset += n;
      return b.needs(i) ? b.op('slice', [g], { axis, start: offset - n, end: offset, step: 1 }) : undefined;
    });
  },
};

const stack: Op<'stack'> = {
  name: 'stack', kind: 'injective', doc: 'join equal-shaped tensors along a new axis',
  inputs: [{ name: 'xs', variadic: true }], attrs: [{ name: 'axis', type: 'int' }],
  shape(ins, attrs, ctx) {
    const all = requireSame('stack', ins, undefined, ctx);
    const axis = normAxis('stack', intAttr('stack', attrs, 'axis'), all[0].shape.length + 1);
    const shape = [...all[0].shape];
    shape.splice(axis, 0, all.length);
    return [{ dtype: all[0].dtype, shape }];
  },
  reference(ins, attrs) {
    const ts = ins as Tensor[];
    const axis = normAxis('stack', intAttr('stack', attrs, 'axis'), ts[0].shape.length + 1);
    const shape = [...ts[0].shape];
    shape.splice(axis, 0, ts.length);
    const views = ts.map((t) => { const s = [...t.shape]; s.splice(axis, 0, 1); return { ...t, shape: s }; });
    return [concatData(views, axis, shape)];
  },
  flops: noFlops,
  grad(b) {
    const g = b.cotOrZero(0);
    const axis = normAxis('stack', intAttr('stack', b.attrs, 'axis'), b.type(b.inputs[0]).shape.length + 1);
    return b.inputs.map((v, i) => b.needs(i)
      ? b.op('reshape', [b.op('slice', [g], { axis, start: i, end: i + 1, step: 1 })], { shape: [...b.type(v).shape] })
      : undefined);
  },
};

/** An end at or past this means "to the end", the way Python code writes x[a:]. */
export const SLICE_TO_END = 2147483647;

/**
 * Python slice bounds: negatives count from the end, then clamp to [0, n].
 * With a symbolic n the clamp cannot be decided, so the bound is assumed to
 * lie inside [0, n] and lowering re-checks that with the real size.
 */
function sliceBound(i: Dim, n: Dim, what: string, ctx?: ShapeContext): Dim {
  if (isConst(i) && i >= SLICE_TO_END) return n;
  let v = isConst(i) && i < 0 ? add(n, i) : i;
  if (isConst(n)) {
    if (isConst(v)) return Math.min(Math.max(v, 0), n);
    return v;
  }
  ctx?.requireAtLeast(v, 0, `slice: ${what} ${showDim(v)} must not be negative`);
  ctx?.requireAtLeast(sub(n, v), 0, `slice: ${what} ${showDim(v)} must not exceed the size ${showDim(n)}`);
  return v;
}

function sliceParams(attrs: Parameters<OpDef['shape']>[1], shape: readonly Dim[], ctx?: ShapeContext): { axis: number; start: Dim; len: Dim; step: number } {
  const op = 'slice';
  const axis = normAxis(op, intAttr(op, attrs, 'axis'), shape.length);
  const step = intAttr(op, attrs, 'step');
  if (step < 1) throw new ShapeError(`${op}: step must be at least 1, got ${step}`);
  const n = shape[axis];
  const start = sliceBound(dimAttr(op, attrs, 'start'), n, 'start', ctx), end = sliceBound(dimAttr(op, attrs, 'end'), n, 'end', ctx);
  let len = floordiv(add(sub(end, start), step - 1), step);
  if (isConst(len) && len < 0) len = 0;
  return { axis, start, len, step };
}

const slice: Op<'slice'> = {
  name: 'slice', kind: 'injective', doc: 'x[..., start:end:step, ...] along one axis (Python semantics, step >= 1; end = 2147483647 means to the end)',
  inputs: [{ name: 'x' }],
  attrs: [{ name: 'axis', type: 'int' }, { name: 'start', type: 'int' }, { name: 'end', type: 'int' }, { name: 'step', type: 'int', default: 1 }],
  shape([x], attrs, ctx) {
    const t = need('slice', x, 'x', 0);
    const { axis, len } = sliceParams(attrs, t.shape, ctx);
    requireAtLeast(ctx, len, 0, `slice: the slice along axis ${axis} has negative length ${showDim(len)}`, 0);
    const shape = [...t.shape];
    shape[axis] = len;
    return [{ dtype: t.dtype, shape }];
  },
  reference([x], attrs) {
    const t = x!;
    const { axis, start, len, step } = sliceParams(attrs, t.shape) as { axis: number; start: number; len: number; step: number };
    const shape = [...t.shape];
    shape[axis] = len;
    const out = alloc(t.dtype, shape, usesF64([t]));
    const outer = numel(t.shape.slice(0, axis)), inner = numel(t.shape.slice(axis + 1)), n = t.shape[axis];
    for (let o = 0; o < outer; o++) for (let i = 0; i < len; i++) {
      const src = (o * n + start + i * step) * inner;
      out.data.set(t.data.subarray(src, src + inner), (o * len + i) * inner);
    }
    return [out];
  },
  flops: noFlops,
  // The adjoint pads g with zeros back to x's shape: a strided slice first
  // interleaves step - 1 zero rows after each row (stack + reshape), then
  // zero blocks before and after are concatenated; all injective, so it fuses.
  grad(b) {
    const x = b.inputs[0], xs = b.type(x).shape, dtype = b.type(x).dtype;
    const { axis, start, len, step } = sliceParams(b.attrs, xs) as { axis: number; start: number; len: number; step: number };
    const n = xs[axis];
    const zeros = (size: number): number => { const s = [...xs]; s[axis] = size; return b.constant(0, dtype, s); };
    if (len <= 0) return [zeros(n)];
    let g = b.cotOrZero(0), span = len;
    if (step > 1) {
      const gs = b.type(g).shape;
      const z = b.constant(0, dtype, gs);
      const wide = [...gs];
      wide[axis] = len * step;
      g = b.op('reshape', [b.op('stack', [g, ...new Array<number>(step - 1).fill(z)], { axis: axis + 1 })], { shape: wide });
      span = Math.min(len * step, n - start);
      if (span < len * step) g = b.op('slice', [g], { axis, start: 0, end: span, step: 1 });
    }
    const parts = [...(start > 0 ? [zeros(start)] : []), g, ...(n - start - span > 0 ? [zeros(n - start - span)] : [])];
    return [parts.length === 1 ? g : b.op('concat', parts, { axis })];
  },
};

function product(ds: readonly Dim[]): Dim { return ds.reduce<Dim>((a, d) => mul(a, d), 1); }

/** Removes dims provably equal on both sides, so [B, C, -1] of [B, C, H, W] leaves H*W / 1. */
function cancel(a: readonly Dim[], b: readonly Dim[]): [Dim[], Dim[]] {
  const left = [...a], right: Dim[] = [];
  for (const d of b) {
    const k = left.findIndex((l) => dimEquals(l, d) === true);
    if (k >= 0) left.splice(k, 1); else right.push(d);
  }
  return [left, right];
}

function atomDim(a: Atom): Dim {
  if (a.kind === 'floordiv') return floordiv(a.num, a.den);
  return a.base !== undefined && a.divisor !== undefined ? quotientSym(a.base, a.divisor) : sym(a.name);
}

/** num / den when den is one monomial dividing every term of num (H*W*K / H = W*K); else undefined. */
function divideExact(num: Dim, den: DimExpr): Dim | undefined {
  if (den.terms.size !== 1 || isConst(num)) return undefined;
  const [d] = [...den.terms.values()];
  const key = (a: Atom): string => showDim(atomDim(a));
  let out: Dim = 0;
  for (const t of num.terms.values()) {
    if (t.coeff % d.coeff !== 0) return undefined;
    const rest = [...t.atoms];
    for (const a of d.atoms) {
      const k = rest.findIndex((b) => key(b) === key(a));
      if (k < 0) return undefined;
      rest.splice(k, 1);
    }
    out = add(out, rest.reduce<Dim>((acc, a) => mul(acc, atomDim(a)), t.coeff / d.coeff));
  }
  return out;
}

const reshape: Op<'reshape'> = {
  name: 'reshape', kind: 'injective', doc: 'same elements, new shape (one -1 is inferred)',
  inputs: [{ name: 'x' }], attrs: [{ name: 'shape', type: 'ints' }],
  shape([x], attrs, ctx) {
    const t = need('reshape', x, 'x', 0);
    const target = dimsAttr('reshape', attrs, 'shape');
    const holes = target.map((d, i) => (d === -1 ? i : -1)).filter((i) => i >= 0);
    if (holes.length > 1) throw new ShapeError(`reshape: at most one -1 is allowed in shape ${showShape(target)}`);
    const bad = target.find((d) => isConst(d) && d < 0 && d !== -1);
    if (bad !== undefined) throw new ShapeError(`reshape: invalid size ${showDim(bad)} in shape ${showShape(target)}`);
    const total = product(t.shape);
    if (holes.length === 0) {
      requireEq(ctx, product(target), total, `reshape: cannot reshape ${showShape(t.shape)} (${showDim(total)} elements) to ${showShape(target)} (${showDim(product(target))} elements)`, 0);
      return [{ dtype: t.dtype, shape: target }];
    }
    const known = target.filter((_, i) => i !== holes[0]);
    const [restX, restT] = cancel(t.shape, known);
    const den = product(restT), num = product(restX);
    const inferred = isConst(den) ? (den > 0 ? floordiv(num, den) : undefined) : divideExact(num, den);
    if (inferred === undefined) {
      throw new ShapeError(`reshape: cannot infer -1 in ${showShape(target)} from ${showShape(t.shape)}`, { hint: 'write the size explicitly' });
    }
    requireEq(ctx, mul(inferred, den), num, `reshape: cannot reshape ${showShape(t.shape)} (${showDim(total)} elements) to ${showShape(target)}: ${showDim(product(known))} does not divide it`, 0);
    const shape = [...target];
    shape[holes[0]] = inferred;
    return [{ dtype: t.dtype, shape }];
  },
  reference([x], attrs) {
    const t = x!;
    const target = intsAttr('reshape', attrs, 'shape');
    const known = target.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const shape = target.map((d) => (d === -1 ? t.data.length / known : d));
    if (numel(shape) !== t.data.length) throw new ShapeError(`reshape: cannot reshape [${t.shape.join(', ')}] to [${target.join(', ')}]`);
    return [{ dtype: t.dtype, shape, data: t.data.slice() }];
  },
  flops: noFlops,
  grad: (b) => [b.op('reshape', [b.cotOrZero(0)], { shape: [...b.type(b.inputs[0]).shape] })],
};

function permutation(attrs: Parameters<OpDef['shape']>[1], rank: number): number[] {
  const perm = intsAttr('transpose', attrs, 'perm').map((p) => normAxis('transpose', p, rank, 'perm entry'));
  if (perm.length !== rank || new Set(perm).size !== rank) {
    throw new ShapeError(`transpose: perm [${perm.join(', ')}] is not a permutation of the ${rank} axes`, { hint: `list each of 0..${rank - 1} once` });
  }
  return perm;
}

const transpose: Op<'transpose'> = {
  name: 'transpose', kind: 'injective', doc: 'permute axes: out.shape[i] = x.shape[perm[i]]',
  inputs: [{ name: 'x' }], attrs: [{ name: 'perm', type: 'ints' }],
  shape([x], attrs) {
    const t = need('transpose', x, 'x', 0);
    const perm = permutation(attrs, t.shape.length);
    return [{ dtype: t.dtype, shape: perm.map((p) => t.shape[p]) }];
  },
  reference([x], attrs) {
    const t = x!;
    const perm = permutation(attrs, t.shape.length);
    const shape = perm.map((p) => t.shape[p]);
    const out = alloc(t.dtype, shape, usesF64([t]));
    const inStrides = stridesOf(t.shape);
    const src = perm.map((p) => inStrides[p]);
    const pos = new Array<number>(shape.length).fill(0);
    let s = 0;
    for (let o = 0; o < out.data.length; o++) {
      out.data[o] = t.data[s];
      for (let d = shape.length - 1; d >= 0; d--) {
        pos[d]++; s += src[d];
        if (pos[d] < shape[d]) break;
        s -= src[d] * pos[d]; pos[d] = 0;
      }
    }
    return [out];
  },
  flops: noFlops,
  grad(b) {
    const perm = permutation(b.attrs, b.type(b.inputs[0]).shape.length);
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => { inverse[p] = i; });
    return [b.op('transpose', [b.cotOrZero(0)], { perm: inverse })];
  },
};

function expandShape(x: TensorType, target: readonly Dim[], ctx: ShapeContext): Dim[] {
  if (target.length < x.shape.length) throw new ShapeError(`expand: target ${showShape(target)} has fewer dims than the input ${showShape(x.shape)}`);
  const lead = target.length - x.shape.length;
  return target.map((d, i) => {
    const s = i < lead ? undefined : x.shape[i - lead];
    if (d === -1) {
      if (s === undefined) throw new ShapeError(`expand: -1 is not allowed for the new leading dim ${i}`);
      return s;
    }
    if (s === undefined || s === 1) return d;
    requireEq(ctx, s, d, `expand: dim ${i} of ${showShape(x.shape)} is ${showDim(s)} and cannot be expanded to ${showDim(d)}`, 0, 'only dims of size 1 expand');
    return d;
  });
}

const expand: Op<'expand'> = {
  name: 'expand', kind: 'broadcast', doc: 'broadcast size-1 dims (and new leading dims) to shape; -1 keeps a dim',
  inputs: [{ name: 'x' }], attrs: [{ name: 'shape', type: 'ints' }],
  shape([x], attrs, ctx) {
    const t = need('expand', x, 'x', 0);
    return [{ dtype: t.dtype, shape: expandShape(t, dimsAttr('expand', attrs, 'shape'), ctx) }];
  },
  reference([x], attrs) {
    const t = x!;
    const strict: ShapeContext = { requireEqual() {}, requireAtLeast() {} };
    const shape = expandShape(t, intsAttr('expand', attrs, 'shape'), strict) as number[];
    const out = alloc(t.dtype, shape, usesF64([t]));
    const lead = shape.length - t.shape.length;
    const inStrides = stridesOf(t.shape);
    const outStrides = stridesOf(shape);
    for (let o = 0; o < out.data.length; o++) {
      let s = 0;
      for (let d = lead; d < shape.length; d++) {
        if (t.shape[d - lead] !== 1) s += (Math.floor(o / outStrides[d]) % shape[d]) * inStrides[d - lead];
      }
      out.data[o] = t.data[s];
    }
    return [out];
  },
  flops: noFlops,
  grad: (b) => [b.unbroadcast(b.cotOrZero(0), b.type(b.inputs[0]).shape)],
};

function flattenShape(shape: readonly Dim[], attrs: Parameters<OpDef['shape']>[1]): Dim[] {
  const rank = shape.length;
  if (rank === 0) return [1];
  const s = normAxis('flatten', intAttr('flatten', attrs, 'start'), rank, 'start');
  const e = normAxis('flatten', intAttr('flatten', attrs, 'end'), rank, 'end');
  if (e < s) throw new ShapeError(`flatten: end ${e} comes before start ${s}`);
  return [...shape.slice(0, s), product(shape.slice(s, e + 1)), ...shape.slice(e + 1)];
}

const flatten: Op<'flatten'> = {
  name: 'flatten', kind: 'injective', doc: 'merge dims start..end (inclusive) into one',
  inputs: [{ name: 'x' }], attrs: [{ name: 'start', type: 'int', default: 0 }, { name: 'end', type: 'int', default: -1 }],
  shape([x], attrs) {
    const t = need('flatten', x, 'x', 0);
    return [{ dtype: t.dtype, shape: flattenShape(t.shape, attrs) }];
  },
  reference([x], attrs) {
    return [{ dtype: x!.dtype, shape: flattenShape(x!.shape, attrs) as number[], data: x!.data.slice() }];
  },
  flops: noFlops,
  grad: (b) => [b.op('reshape', [b.cotOrZero(0)], { shape: [...b.type(b.inputs[0]).shape] })],
};

export const LAYOUT_OPS = [concat, stack, slice, reshape, transpose, expand, flatten] as const;
