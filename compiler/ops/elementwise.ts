// Unary, binary and ternary elementwise ops, generated from small tables:
// one row per op (name, scalar function, dtype rule).
import { DType, TensorType, isFloat, numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { floatAttr, dtypeAttr } from './attrs.js';
import { broadcastIndex, broadcastShapes, sameShape } from './broadcast.js';
import { need, requireDtype, requireSameDtype } from './checks.js';
import { GradBuilder, GradRule, Op, OpDef, ShapeError } from './op.js';
import { alloc, store, usesF64 } from './tensors.js';

const FLOAT: readonly DType[] = ['f32', 'f16'];
const NUMERIC: readonly DType[] = ['f32', 'f16', 'i32'];
const BOOL: readonly DType[] = ['bool'];
const ANY: readonly DType[] = ['f32', 'f16', 'i32', 'bool'];

/** What an op accepts and what it returns: the input dtype, or bool. */
interface DtypeRule { readonly accepts: readonly DType[]; readonly returnsBool: boolean }
const sameFloat: DtypeRule = { accepts: FLOAT, returnsBool: false };
const sameNumeric: DtypeRule = { accepts: NUMERIC, returnsBool: false };
const logical: DtypeRule = { accepts: BOOL, returnsBool: true };
const compareNumeric: DtypeRule = { accepts: NUMERIC, returnsBool: true };
const compareAny: DtypeRule = { accepts: ANY, returnsBool: true };

const elementFlops = (_i: unknown, outs: readonly { shape: readonly number[] }[]): number => numel(outs[0].shape);

function softplus(x: number): number { return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))); }

/** x, y (the output), the output cotangent g, and a scalar constant in x's dtype. */
interface Unary { x: number; y: number; g: number; k(v: number): number; op(name: string, ...ins: number[]): number }
function unaryGrad(rule: (u: Unary) => number): GradRule {
  return (b: GradBuilder) => {
    const x = b.inputs[0], dtype = b.type(x).dtype;
    return [rule({ x, y: b.outputs[0], g: b.cotOrZero(0), k: (v) => b.constant(v, dtype), op: (name, ...ins) => b.op(name, ins) })];
  };
}

/** Gradient rules by op name; ops absent here stop the gradient (rounding, logic, comparisons). */
const UNARY_GRADS: Readonly<Record<string, GradRule>> = {
  neg: unaryGrad(({ g, op }) => op('neg', g)),
  // Subgradient 0 at x = 0, as torch.
  abs: unaryGrad(({ x, g, k, op }) => op('where', op('gt', x, k(0)), g, op('where', op('lt', x, k(0)), op('neg', g), k(0)))),
  // Reads the output (y > 0 exactly where x > 0): the output is stored for the
  // next layer anyway, while reading x would force a fused conv/norm chain to store it too.
  relu: unaryGrad(({ y, g, k, op }) => op('where', op('gt', y, k(0)), g, k(0))),
  sigmoid: unaryGrad(({ y, g, k, op }) => op('mul', g, op('mul', y, op('sub', k(1), y)))),
  tanh: unaryGrad(({ y, g, k, op }) => op('mul', g, op('sub', k(1), op('square', y)))),
  exp: unaryGrad(({ y, g, op }) => op('mul', g, y)),
  log: unaryGrad(({ x, g, op }) => op('div', g, x)),
  sqrt: unaryGrad(({ y, g, k, op }) => op('div', op('mul', g, k(0.5)), y)),
  // d/dx x^-1/2 = -y / (2x).
  rsqrt: unaryGrad(({ x, y, g, k, op }) => op('mul', op('mul', g, k(-0.5)), op('div', y, x))),
  square: unaryGrad(({ x, g, k, op }) => op('mul', g, op('mul', x, k(2)))),
  softplus: unaryGrad(({ x, g, op }) => op('mul', g, op('sigmoid', x))),
  floor: 'none', ceil: 'none', logical_not: 'none',
};

/** a, b, output y, cotangent g; returns [da, db] before unbroadcasting (undefined: not needed). */
type BinaryRule = (b: GradBuilder, a: number, bb: number, y: number, g: number, k: (v: number) => number) => [number | undefined, number | undefined];
function binaryGrad(rule: BinaryRule): GradRule {
  return (b) => {
    const [a, bb] = b.inputs, dtype = b.type(a).dtype;
    const [da, db] = rule(b, a, bb, b.outputs[0], b.cotOrZero(0), (v) => b.constant(v, dtype));
    return [da === undefined ? undefined : b.unbroadcast(da, b.type(a).shape), db === undefined ? undefined : b.unbroadcast(db, b.type(bb).shape)];
  };
}

/** Share of the gradient a max/min gives its first operand: 1 where it wins, 1/2 on ties (as torch), else 0. */
function winnerShare(b: GradBuilder, cmp: 'gt' | 'lt', a: number, bb: number, k: (v: number) => number): number {
  return b.op('where', [b.op(cmp, [a, bb]), k(1), b.op('where', [b.op('eq', [a, bb]), k(0.5), k(0)])]);
}

const BINARY_GRADS: Readonly<Record<string, GradRule>> = {
  add: binaryGrad((b, _a, _b, _y, g) => [b.needs(0) ? g : undefined, b.needs(1) ? g : undefined]),
  sub: binaryGrad((b, _a, _b, _y, g) => [b.needs(0) ? g : undefined, b.needs(1) ? b.op('neg', [g]) : undefined]),
  mul: binaryGrad((b, a, bb, _y, g) => [b.needs(0) ? b.op('mul', [g, bb]) : undefined, b.needs(1) ? b.op('mul', [g, a]) : undefined]),
  div: binaryGrad((b, _a, bb, y, g) => [
    b.needs(0) ? b.op('div', [g, bb]) : undefined,
    b.needs(1) ? b.op('neg', [b.op('div', [b.op('mul', [g, y]), bb])]) : undefined,
  ]),
  pow: binaryGrad((b, a, bb, y, g, k) => [
    b.needs(0) ? b.op('mul', [g, b.op('mul', [bb, b.op('pow', [a, b.op('sub', [bb, k(1)])])])]) : undefined,
    b.needs(1) ? b.op('mul', [g, b.op('mul', [y, b.op('log', [a])])]) : undefined,
  ]),
  maximum: binaryGrad((b, a, bb, _y, g, k) => [
    b.needs(0) ? b.op('mul', [g, winnerShare(b, 'gt', a, bb, k)]) : undefined,
    b.needs(1) ? b.op('mul', [g, winnerShare(b, 'gt', bb, a, k)]) : undefined,
  ]),
  minimum: binaryGrad((b, a, bb, _y, g, k) => [
    b.needs(0) ? b.op('mul', [g, winnerShare(b, 'lt', a, bb, k)]) : undefined,
    b.needs(1) ? b.op('mul', [g, winnerShare(b, 'lt', bb, a, k)]) : undefined,
  ]),
};

/** Rows: name, scalar function, dtype rule, doc. */
type UnaryRow = readonly [string, (x: number) => number, DtypeRule, string];
const UNARY = [
  ['neg', (x) => -x, sameNumeric, '-x'],
  ['abs', Math.abs, sameNumeric, '|x|'],
  ['relu', (x) => (x > 0 ? x : Number.isNaN(x) ? x : 0), sameNumeric, 'max(x, 0)'],
  ['sigmoid', (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))), sameFloat, '1 / (1 + exp(-x))'],
  ['tanh', Math.tanh, sameFloat, 'hyperbolic tangent'],
  ['exp', Math.exp, sameFloat, 'e^x'],
  ['log', Math.log, sameFloat, 'natural logarithm'],
  ['sqrt', Math.sqrt, sameFloat, 'square root'],
  ['rsqrt', (x) => 1 / Math.sqrt(x), sameFloat, '1 / sqrt(x)'],
  ['square', (x) => x * x, sameNumeric, 'x * x'],
  ['floor', Math.floor, sameNumeric, 'round down'],
  ['ceil', Math.ceil, sameNumeric, 'round up'],
  ['softplus', softplus, sameFloat, 'log(1 + exp(x)), computed stably'],
  ['logical_not', (x) => (x ? 0 : 1), logical, 'not x'],
] as const satisfies readonly UnaryRow[];

type BinaryRow = readonly [string, (a: number, b: number) => number, DtypeRule, string];
const BINARY = [
  ['add', (a, b) => a + b, sameNumeric, 'a + b'],
  ['sub', (a, b) => a - b, sameNumeric, 'a - b'],
  ['mul', (a, b) => a * b, sameNumeric, 'a * b'],
  ['div', (a, b) => a / b, sameFloat, 'a / b'],
  ['pow', Math.pow, sameFloat, 'a ^ b'],
  ['maximum', (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)), sameNumeric, 'elementwise max'],
  ['minimum', (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)), sameNumeric, 'elementwise min'],
  ['logical_and', (a, b) => (a && b ? 1 : 0), logical, 'a and b'],
  ['logical_or', (a, b) => (a || b ? 1 : 0), logical, 'a or b'],
  ['lt', (a, b) => (a < b ? 1 : 0), compareNumeric, 'a < b'],
  ['le', (a, b) => (a <= b ? 1 : 0), compareNumeric, 'a <= b'],
  ['gt', (a, b) => (a > b ? 1 : 0), compareNumeric, 'a > b'],
  ['ge', (a, b) => (a >= b ? 1 : 0), compareNumeric, 'a >= b'],
  ['eq', (a, b) => (a === b ? 1 : 0), compareAny, 'a == b'],
  ['ne', (a, b) => (a !== b ? 1 : 0), compareAny, 'a != b'],
] as const satisfies readonly BinaryRow[];

/** A table row without a rule is a bug in this file: fail on first use, loudly. */
function missingGrad(name: string): GradRule {
  throw new Error(`elementwise op '${name}' has no gradient rule: add one to its table or mark it 'none'`);
}

function outDtype(rule: DtypeRule, input: DType): DType { return rule.returnsBool ? 'bool' : input; }

function unaryOp<N extends string>(name: N, fn: (x: number) => number, rule: DtypeRule, doc: string): Op<N> {
  return {
    name, kind: 'elementwise', doc, attrs: [],
    inputs: [{ name: 'x', dtypes: rule.accepts }],
    shape([x]) {
      const t = need(name, x, 'x', 0);
      requireDtype(name, t, rule.accepts, 'x', 0);
      return [{ dtype: outDtype(rule, t.dtype), shape: t.shape }];
    },
    reference([x]) {
      const t = x!;
      const out = alloc(outDtype(rule, t.dtype), t.shape, usesF64([t]));
      for (let i = 0; i < t.data.length; i++) store(out.dtype, out.data, i, fn(t.data[i]));
      return [out];
    },
    flops: elementFlops,
    grad: UNARY_GRADS[name] ?? missingGrad(name),
  };
}

function binaryShape(name: string, rule: DtypeRule, a: TensorType | undefined, b: TensorType | undefined, ctx: Parameters<OpDef['shape']>[2]): TensorType {
  const ta = need(name, a, 'a', 0), tb = need(name, b, 'b', 1);
  requireDtype(name, ta, rule.accepts, 'a', 0);
  requireSameDtype(name, ta, tb, 1);
  return { dtype: outDtype(rule, ta.dtype), shape: broadcastShapes(name, [ta.shape, tb.shape], ctx) };
}

/** Output shape of broadcasting concrete tensors (the reference trusts the checker but not the caller). */
function concreteBroadcast(name: string, ts: readonly Tensor[]): number[] {
  const rank = Math.max(...ts.map((t) => t.shape.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const t of ts) {
      const s = t.shape[t.shape.length - rank + i];
      if (s === undefined || s === 1) continue;
      if (d !== 1 && d !== s) throw new ShapeError(`${name}: shapes ${ts.map((x) => `[${x.shape.join(', ')}]`).join(' and ')} do not broadcast`);
      d = s;
    }
    out.push(d);
  }
  return out;
}

function gatherer(outShape: number[], t: Tensor): (i: number) => number {
  if (sameShape(outShape, t.shape)) return (i) => t.data[i];
  const idx = broadcastIndex(outShape, t.shape);
  return (i) => t.data[idx[i]];
}

function binaryOp<N extends string>(name: N, fn: (a: number, b: number) => number, rule: DtypeRule, doc: string): Op<N> {
  return {
    name, kind: 'broadcast', doc, attrs: [],
    inputs: [{ name: 'a', dtypes: rule.accepts }, { name: 'b', dtypes: rule.accepts }],
    shape([a, b], _attrs, ctx) { return [binaryShape(name, rule, a, b, ctx)]; },
    reference([a, b]) {
      const shape = concreteBroadcast(name, [a!, b!]);
      const out = alloc(outDtype(rule, a!.dtype), shape, usesF64([a, b]));
      const ga = gatherer(shape, a!), gb = gatherer(shape, b!);
      for (let i = 0; i < out.data.length; i++) store(out.dtype, out.data, i, fn(ga(i), gb(i)));
      return [out];
    },
    flops: elementFlops,
    // Logic and comparisons return bool: nothing to differentiate.
    grad: rule.returnsBool ? 'none' : BINARY_GRADS[name] ?? missingGrad(name),
  };
}

const where: Op<'where'> = {
  name: 'where', kind: 'broadcast', doc: 'cond ? a : b, broadcasting all three', attrs: [],
  inputs: [{ name: 'cond', dtypes: BOOL }, { name: 'a' }, { name: 'b' }],
  shape([c, a, b], _attrs, ctx) {
    const tc = need('where', c, 'cond', 0), ta = need('where', a, 'a', 1), tb = need('where', b, 'b', 2);
    requireDtype('where', tc, BOOL, 'cond', 0);
    requireSameDtype('where', ta, tb, 2);
    return [{ dtype: ta.dtype, shape: broadcastShapes('where', [tc.shape, ta.shape, tb.shape], ctx) }];
  },
  reference([c, a, b]) {
    const shape = concreteBroadcast('where', [c!, a!, b!]);
    const out = alloc(a!.dtype, shape, usesF64([a, b]));
    const gc = gatherer(shape, c!), ga = gatherer(shape, a!), gb = gatherer(shape, b!);
    for (let i = 0; i < out.data.length; i++) out.data[i] = gc(i) ? ga(i) : gb(i);
    return [out];
  },
  flops: elementFlops,
  grad(b) {
    const [c, a, bb] = b.inputs, g = b.cotOrZero(0), zero = b.constant(0, b.type(a).dtype);
    return [undefined,
      b.needs(1) ? b.unbroadcast(b.op('where', [c, g, zero]), b.type(a).shape) : undefined,
      b.needs(2) ? b.unbroadcast(b.op('where', [c, zero, g]), b.type(bb).shape) : undefined];
  },
};

const clamp: Op<'clamp'> = {
  name: 'clamp', kind: 'elementwise', doc: 'min(max(x, lo), hi); either bound may be omitted',
  inputs: [{ name: 'x', dtypes: NUMERIC }],
  attrs: [{ name: 'lo', type: 'float', default: -Infinity }, { name: 'hi', type: 'float', default: Infinity }],
  shape([x], attrs) {
    const t = need('clamp', x, 'x', 0);
    requireDtype('clamp', t, NUMERIC, 'x', 0);
    floatAttr('clamp', attrs, 'lo'); floatAttr('clamp', attrs, 'hi');
    return [{ dtype: t.dtype, shape: t.shape }];
  },
  reference([x], attrs) {
    const lo = floatAttr('clamp', attrs, 'lo'), hi = floatAttr('clamp', attrs, 'hi');
    const out = alloc(x!.dtype, x!.shape, usesF64([x]));
    // torch.clamp: when lo > hi every element becomes hi.
    for (let i = 0; i < out.data.length; i++) { const v = x!.data[i]; out.data[i] = Number.isNaN(v) ? v : Math.min(Math.max(v, lo), hi); }
    return [out];
  },
  flops: elementFlops,
  // Passes where lo <= x <= hi (bounds inclusive, as torch.clamp's backward).
  grad(b) {
    const x = b.inputs[0], dtype = b.type(x).dtype;
    const lo = floatAttr('clamp', b.attrs, 'lo'), hi = floatAttr('clamp', b.attrs, 'hi');
    // Infinite bounds never clip: no comparison (and no infinite constant) for them.
    const tests = [
      ...(Number.isFinite(lo) ? [b.op('ge', [x, b.constant(lo, dtype)])] : []),
      ...(Number.isFinite(hi) ? [b.op('le', [x, b.constant(hi, dtype)])] : []),
    ];
    const g = b.cotOrZero(0);
    if (tests.length === 0) return [g];
    const inside = tests.length === 1 ? tests[0] : b.op('logical_and', tests);
    return [b.op('where', [inside, g, b.constant(0, dtype)])];
  },
};

const cast: Op<'cast'> = {
  name: 'cast', kind: 'elementwise', doc: 'convert dtype: float to i32 truncates toward zero, to bool is x != 0',
  inputs: [{ name: 'x' }],
  attrs: [{ name: 'dtype', type: 'string', choices: ANY }],
  shape([x], attrs) {
    const t = need('cast', x, 'x', 0);
    return [{ dtype: dtypeAttr('cast', attrs, 'dtype'), shape: t.shape }];
  },
  reference([x], attrs) {
    const dtype = dtypeAttr('cast', attrs, 'dtype');
    const out = alloc(dtype, x!.shape, usesF64([x]));
    for (let i = 0; i < out.data.length; i++) store(dtype, out.data, i, x!.data[i]);
    return [out];
  },
  flops: elementFlops,
  // Float to float passes the gradient back in the input's dtype; casts to or from int/bool stop it.
  grad(b) {
    const from = b.type(b.inputs[0]).dtype, to = b.type(b.outputs[0]).dtype;
    if (!isFloat(from) || !isFloat(to)) return [undefined];
    const g = b.cotOrZero(0);
    return [from === to ? g : b.op('cast', [g], { dtype: from })];
  },
};

export const ELEMENTWISE_OPS = [
  ...UNARY.map(([n, f, r, d]) => unaryOp(n, f, r, d)),
  ...BINARY.map(([n, f, r, d]) => binaryOp(n, f, r, d)),
  where, clamp, cast,
] as const;
