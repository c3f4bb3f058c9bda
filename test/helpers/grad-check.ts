// One helper for gradient tests: an op's autodiff gradient against central
// finite differences of its reference, everything in f64.
//
// The op becomes a one-node graph whose checked inputs are trainable params;
// the loss is sum_i sum(w_i * output_i) with random weights w_i (inputs), so
// every output element is weighted differently. differentiate() builds the
// backward graph, the reference interpreter runs it, and each gradient entry
// is compared with (L(x + h) - L(x - h)) / 2h computed by the op's reference.
//
// Tolerance: |ad - fd| <= atol + rtol * |fd|, defaults rtol 1e-5, atol 1e-7,
// h = 1e-5. In f64 central differences are off by O(h^2 f''') ~ 1e-10 plus
// rounding ~ 1e-16 |L| / h ~ 1e-11 |L|: both well inside for |L| < 1000.
import * as assert from 'uvu/assert';
import { differentiate } from '../../compiler/autodiff.js';
import { Graph, GraphBuilder } from '../../compiler/graph.js';
import { interpret } from '../../compiler/interpret.js';
import { withDefaults } from '../../compiler/ops/attrs.js';
import { OPS } from '../../compiler/ops/index.js';
import { Tensor, rng, tensor } from '../../compiler/tensor.js';
import { ConcreteType, Span, isFloat, numel } from '../../compiler/types.js';
import { AttrsIn, RecordingContext } from './op-check.js';

export const GRAD_SPAN: Span = { file: 'grad.fd', line: 7, col: 3, endLine: 7, endCol: 12 };

export interface GradCheckOptions {
  /** Input positions to differentiate; default every float input. */
  wrt?: readonly number[];
  rtol?: number;
  atol?: number;
  h?: number;
  /** At most this many entries per input are compared with finite differences (random picks). */
  samples?: number;
  seed?: number;
}

/** An f64 tensor of shape with values uniform in [lo, hi). */
export function rand64(shape: readonly number[], seed: number, lo = -1, hi = 1): Tensor {
  const next = rng(seed);
  return tensor('f32', shape, Array.from({ length: numel(shape) }, () => lo + (hi - lo) * next()), true);
}

function typeOf(t: Tensor): ConcreteType { return { dtype: t.dtype, shape: [...t.shape] }; }

/** Every value typed with concrete dims, ids consistent, inputs defined before use; appended nodes carry a real span and a grad/ scope. */
export function validateBackward(g: Graph, forwardNodes: number): void {
  g.values.forEach((v, i) => {
    assert.is(v.id, i, 'value ids are positions');
    assert.ok(v.type && v.type.shape.every((d) => Number.isInteger(d) && d >= 0), `value ${i} typed`);
    assert.ok(g.nodes[v.node].outputs[v.index] === i, `value ${i} belongs to its node`);
  });
  g.nodes.forEach((n, i) => {
    assert.is(n.id, i, 'node ids are positions');
    for (const v of n.inputs) if (v >= 0) assert.ok(g.values[v].node < i, `node ${i} (${n.op}) reads value ${v} defined later`);
    if (i >= forwardNodes) {
      assert.ok(n.span.line > 0, `backward node ${i} (${n.op}) has a span`);
      assert.ok(n.scope.startsWith('grad/'), `backward node ${i} (${n.op}) scope '${n.scope}'`);
      if (n.op !== 'const') assert.ok(OPS[n.op], `backward node ${i} uses a registered op (${n.op})`);
    }
  });
}

/** A one-op graph: checked inputs are trainable params x<i>, the rest inputs in<i>; loss = sum_i sum(w_i * output_i) with inputs w<i>. */
export interface OpLossGraph { graph: Graph; forwardNodes: number; feeds: Record<string, Tensor>; params: Map<string, Tensor>; weights: Tensor[] }

export function opLossGraph(op: string, ins: readonly (Tensor | undefined)[], attrs: AttrsIn, wrt: readonly number[], seed: number): OpLossGraph {
  const def = OPS[op];
  if (!def) throw new Error(`no op '${op}'`);
  const f64 = ins.some((t) => t?.data instanceof Float64Array);
  const outTypes = def.shape(ins.map((t) => t && typeOf(t)), withDefaults(def, attrs), new RecordingContext()) as ConcreteType[];
  const weights = outTypes.map((t, i) => { const w = rand64(t.shape, seed * 31 + i); return f64 ? w : tensor(t.dtype, t.shape, w.data); });
  const gb = new GraphBuilder();
  const params = new Map<string, Tensor>();
  const feeds: Record<string, Tensor> = {};
  const ids = ins.map((t, i) => {
    if (!t) return -1;
    if (wrt.includes(i)) { params.set(`x${i}`, t); return gb.param(`x${i}`, typeOf(t), { kind: 'zeros' }, false, GRAD_SPAN, 'op'); }
    feeds[`in${i}`] = t;
    return gb.input(`in${i}`, typeOf(t), GRAD_SPAN);
  });
  const outs = gb.node(op, ids, withDefaults(def, attrs), outTypes, GRAD_SPAN, 'op');
  let loss = -1;
  outs.forEach((o, i) => {
    if (!isFloat(outTypes[i].dtype)) return;
    feeds[`w${i}`] = weights[i];
    const w = gb.input(`w${i}`, outTypes[i], GRAD_SPAN);
    const [m] = gb.node('mul', [o, w], {}, [outTypes[i]], GRAD_SPAN, 'loss');
    const [s] = gb.node('sum', [m], { axes: [], keepdims: false }, [{ dtype: outTypes[i].dtype, shape: [] }], GRAD_SPAN, 'loss');
    loss = loss < 0 ? s : gb.node('add', [loss, s], {}, [{ dtype: outTypes[i].dtype, shape: [] }], GRAD_SPAN, 'loss')[0];
  });
  gb.output('loss', loss);
  return { graph: gb.graph, forwardNodes: gb.graph.nodes.length, feeds, params, weights };
}

/**
 * Checks an op's gradient w.r.t. `opts.wrt` inputs. Inputs are given as
 * tensors (float ones are converted to f64); undefined = omitted optional.
 * Returns the number of entries compared.
 */
export function gradCheck(op: string, inputs: readonly (Tensor | undefined)[], attrs: AttrsIn = {}, opts: GradCheckOptions = {}): number {
  const def = OPS[op];
  if (!def) throw new Error(`no op '${op}'`);
  assert.ok(def.grad !== 'none', `${op} declares no gradient`);
  const full = withDefaults(def, attrs);
  const ins = inputs.map((t) => (t && isFloat(t.dtype) && !(t.data instanceof Float64Array) ? tensor(t.dtype, t.shape, t.data, true) : t));
  const wrt = opts.wrt ?? ins.flatMap((t, i) => (t && isFloat(t.dtype) ? [i] : []));
  const seed = opts.seed ?? 11;
  const built = opLossGraph(op, ins, attrs, wrt, seed);
  const { weights } = built;
  const { graph, grads } = differentiate(built.graph, 'loss');
  validateBackward(graph, built.forwardNodes);
  const result = interpret(graph, built.feeds, built.params);

  const lossAt = (xs: readonly (Tensor | undefined)[]): number => {
    const ys = def.reference(xs, full);
    let total = 0;
    ys.forEach((y, i) => { if (isFloat(y.dtype)) for (let j = 0; j < y.data.length; j++) total += y.data[j] * weights[i].data[j]; });
    return total;
  };
  const h = opts.h ?? 1e-5, rtol = opts.rtol ?? 1e-5, atol = opts.atol ?? 1e-7;
  const pick = rng(seed + 5);
  let compared = 0;
  for (const i of wrt) {
    const x = ins[i]!;
    const ad = result[`grad/x${i}`];
    assert.ok(ad && grads.get(`x${i}`) !== undefined, `${op}: gradient of input ${i}`);
    assert.equal([...ad.shape], [...x.shape], `${op}: gradient ${i} shape`);
    const n = x.data.length, budget = opts.samples ?? 40;
    const entries = n <= budget ? [...Array(n).keys()] : Array.from({ length: budget }, () => Math.floor(pick() * n));
    for (const j of entries) {
      const plus = tensor(x.dtype, x.shape, x.data, true), minus = tensor(x.dtype, x.shape, x.data, true);
      plus.data[j] += h; minus.data[j] -= h;
      const fd = (lossAt(ins.map((t, k) => (k === i ? plus : t))) - lossAt(ins.map((t, k) => (k === i ? minus : t)))) / (2 * h);
      const got = ad.data[j];
      if (!(Math.abs(got - fd) <= atol + rtol * Math.abs(fd))) {
        assert.unreachable(`${op}: d loss / d input ${i}[${j}] = ${got} by autodiff, ${fd} by finite differences (attrs ${JSON.stringify(attrs)}, shapes ${ins.map((t) => (t ? `[${t.shape.join(',')}]` : '-')).join(' ')})`);
      }
      compared++;
    }
  }
  return compared;
}
