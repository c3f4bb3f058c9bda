// One helper for op tests: runs an op's reference and checks its shape rule
// agrees, on concrete dims, with what the reference produced.
import * as assert from 'uvu/assert';
import { Dim, dimEquals, evaluate, showDim, showShape, sym } from '../../compiler/dims.js';
import { OPS } from '../../compiler/ops/index.js';
import { withDefaults } from '../../compiler/ops/attrs.js';
import { AttrValue, OpDef, ShapeContext, ShapeError } from '../../compiler/ops/op.js';
import { Tensor, tensor } from '../../compiler/tensor.js';
import { DType, TensorType, showType } from '../../compiler/types.js';
import { sameNonFinite } from './compare.js';

export type AttrsIn = Record<string, AttrValue>;

/** A ShapeContext that throws on provable differences and records what depends on symbols. */
export class RecordingContext implements ShapeContext {
  readonly assumptions: string[] = [];
  requireEqual(a: Dim, b: Dim, what: string): void {
    const eq = dimEquals(a, b);
    if (eq === false) throw new ShapeError(`${what} (${showDim(a)} vs ${showDim(b)})`);
    if (eq === undefined) this.assumptions.push(`${showDim(a)} == ${showDim(b)}: ${what}`);
  }
  requireAtLeast(a: Dim, lo: number, what: string): void {
    if (typeof a === 'number') { if (a < lo) throw new ShapeError(`${what} (${a} < ${lo})`); return; }
    this.assumptions.push(`${showDim(a)} >= ${lo}: ${what}`);
  }
}

export function def(name: string): OpDef {
  const d = OPS[name];
  if (!d) throw new Error(`no op '${name}'`);
  return d;
}

export function typeOf(t: Tensor | undefined): TensorType | undefined {
  return t === undefined ? undefined : { dtype: t.dtype, shape: t.shape };
}

/** The shape rule's answer (defaults filled in). */
export function shapeOf(name: string, types: readonly (TensorType | undefined)[], attrs: AttrsIn = {}, ctx: ShapeContext = new RecordingContext()): TensorType[] {
  const d = def(name);
  return d.shape(types, withDefaults(d, attrs), ctx);
}

/**
 * Runs the reference and checks: the concrete shape rule gives the reference's
 * output shapes and dtypes, and flops() is a finite non-negative number.
 */
export function run(name: string, inputs: readonly (Tensor | undefined)[], attrs: AttrsIn = {}): Tensor[] {
  const d = def(name);
  const full = withDefaults(d, attrs);
  const types = d.shape(inputs.map(typeOf), full, new RecordingContext());
  const outs = d.reference(inputs, full);
  assert.is(outs.length, types.length, `${name}: number of outputs`);
  outs.forEach((t, i) => {
    assert.is(t.dtype, types[i].dtype, `${name}: output ${i} dtype`);
    assert.equal([...t.shape], types[i].shape.map(Number), `${name}: output ${i} shape ${showShape(types[i].shape)}`);
    assert.is(t.data.length, t.shape.reduce((a, b) => a * b, 1), `${name}: output ${i} data length`);
  });
  const flops = d.flops(inputs.map((t) => (t ? { dtype: t.dtype, shape: t.shape } : undefined)), outs.map((t) => ({ dtype: t.dtype, shape: t.shape })), full);
  assert.ok(Number.isFinite(flops) && flops >= 0, `${name}: flops ${flops}`);
  return outs;
}

/**
 * The symbolic shape rule agrees with the reference: dims of the inputs named
 * in `names` (one list per input, null = keep the number) become symbols; the
 * rule's symbolic outputs, evaluated at the concrete values they replaced,
 * must equal the reference's output shapes. Returns the symbolic outputs.
 */
export function symbolicAgrees(name: string, inputs: readonly (Tensor | undefined)[], attrs: AttrsIn, names: readonly (readonly (string | null)[] | null)[]): TensorType[] {
  const env: Record<string, number> = {};
  const types = inputs.map((t, i) => {
    if (t === undefined) return undefined;
    const shape = t.shape.map((d, k): Dim => {
      const n = names[i]?.[k];
      if (n === null || n === undefined) return d;
      if (env[n] !== undefined && env[n] !== d) throw new Error(`test setup: symbol ${n} bound to ${env[n]} and ${d}`);
      env[n] = d;
      return sym(n);
    });
    return { dtype: t.dtype, shape };
  });
  const symbolic = shapeOf(name, types, attrs);
  const outs = run(name, inputs, attrs);
  symbolic.forEach((t, i) => {
    assert.equal(t.shape.map((d) => evaluate(d, env)), [...outs[i].shape], `${name}: output ${i} ${showShape(t.shape)} at ${JSON.stringify(env)}`);
  });
  return symbolic;
}

export function run1(name: string, inputs: readonly (Tensor | undefined)[], attrs: AttrsIn = {}): Tensor { return run(name, inputs, attrs)[0]; }

/** The shape rule must throw a ShapeError whose message contains (or matches) `expected`. */
export function shapeError(name: string, types: readonly (TensorType | undefined)[], attrs: AttrsIn, expected: string | RegExp): ShapeError {
  try {
    shapeOf(name, types, attrs);
  } catch (e) {
    assert.instance(e, ShapeError, `${name}: expected a ShapeError, got ${String(e)}`);
    const msg = (e as Error).message;
    if (typeof expected === 'string') assert.ok(msg.includes(expected), `${name}: message "${msg}" lacks "${expected}"`);
    else assert.match(msg, expected);
    return e as ShapeError;
  }
  assert.unreachable(`${name}: expected a ShapeError matching ${String(expected)}`);
  throw new Error('unreachable');
}

/** Symbolic shapes rendered, for comparing with strings like '(H + 1)//2'. */
export function shown(t: TensorType): string { return showType(t); }

export function ty(dtype: DType, shape: readonly Dim[]): TensorType { return { dtype, shape }; }

export const f32 = (shape: readonly number[], values: ArrayLike<number>): Tensor => tensor('f32', shape, values);
export const f64 = (shape: readonly number[], values: ArrayLike<number>): Tensor => tensor('f32', shape, values, true);
export const i32 = (shape: readonly number[], values: ArrayLike<number>): Tensor => tensor('i32', shape, values);
export const bool = (shape: readonly number[], values: ArrayLike<number>): Tensor => tensor('bool', shape, values);

/** Within tol (relative, floor 1); a non-finite value must match exactly (NaN with NaN, each infinity with itself). */
export function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = 'values'): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    // |0 - Inf| <= tol * Inf is true: infinities must not reach the tolerance test.
    const ok = Number.isFinite(a) && Number.isFinite(e) ? Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)) : sameNonFinite(a, e);
    if (!ok) assert.unreachable(`${what}[${i}]: got ${a}, expected ${e} (tol ${tol})`);
  }
}

export function list(t: Tensor): number[] { return Array.from(t.data); }
