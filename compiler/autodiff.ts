// Reverse-mode autodiff on the graph IR. Each op's rule lives in its op file
// (OpDef.grad) and emits ordinary graph ops, so the backward pass is fused,
// scheduled and interpreted like the forward one.
//
// Only float values that depend on a differentiated parameter are "active";
// only active inputs of nodes the loss depends on get cotangents; backward
// nodes no gradient needs are removed at the end. Ops declaring grad 'none'
// (comparisons, indices, matching, NMS, constructors) stop the gradient.
//
// Subgradients, as each op file documents: relu and abs pass 0 at 0;
// maximum/minimum and max/min reductions split ties evenly; max_pool2d and
// max3d give a window's whole gradient to its first maximum in the forward's
// scan order; clamp passes at its (inclusive) bounds; aligned IoU/GIoU give
// min/max ties to the first box. Not differentiated: scatter's src, the
// focal loss's targets, frozen_bn's mean and var (an error if trainable), and
// the backward ops themselves (no second derivatives).
import { FusedetError } from '../io/errors.js';
import { GNode, Graph, GValue } from './graph.js';
import { OPS } from './ops/index.js';
import { withDefaults } from './ops/attrs.js';
import { Attrs, GradBuilder, ShapeContext, ShapeError } from './ops/op.js';
import { dimEquals, showDim } from './dims.js';
import { printGraph } from './print.js';
import { ConcreteType, DType, Span, isFloat, numel, showType } from './types.js';

export interface DifferentiateOptions {
  /** Differentiate w.r.t. these params only (default: every non-frozen float param). */
  wrt?: string[];
  /** The loss's cotangent seed (default 1). */
  seed?: number;
  /**
   * FUSEDET_DEBUG as the edge read it (runtime/compile-options.ts): 5 and up
   * print the graph after the pass to stderr. Autodiff never reads the environment.
   */
  debug?: number;
}

export interface GradResult {
  graph: Graph;
  /** param name → value id of its gradient in graph (also a graph output named "grad/<param name>"). */
  grads: Map<string, number>;
}

/** A caller's mistake: unknown loss or parameter, a loss that is not a float scalar. */
export class AutodiffError extends FusedetError {
  constructor(message: string) { super(message, { exitCode: 1 }); }
}

/** Concrete shapes decide every check; an unequal pair is a bug in a gradient rule. */
const concreteContext: ShapeContext = {
  requireEqual(a, b, what) { if (dimEquals(a, b) !== true) throw new ShapeError(`${what} (${showDim(a)} vs ${showDim(b)})`); },
  requireAtLeast(a, lo, what) { if (typeof a !== 'number' || a < lo) throw new ShapeError(`${what} (${showDim(a)} < ${lo})`); },
};

/** Appends nodes to a graph copy; types come from the ops' shape rules. */
class Appender {
  constructor(readonly graph: Graph) {}

  node(op: string, inputs: readonly number[], attrs: Attrs, types: readonly ConcreteType[], span: Span, scope: string): number[] {
    const id = this.graph.nodes.length;
    const outputs = types.map((type, index) => {
      const v: GValue = { id: this.graph.values.length, type, node: id, index };
      this.graph.values.push(v);
      return v.id;
    });
    this.graph.nodes.push({ id, op, inputs: [...inputs], attrs, outputs, span, scope });
    return outputs;
  }

  /** A constant of the given type (a cotangent seed, or zeros). */
  constant(value: number, dtype: DType, shape: readonly number[], span: Span, scope: string): number {
    return this.node('const', [], { value }, [{ dtype, shape: [...shape] }], span, scope)[0];
  }

  opNode(op: string, inputs: readonly number[], attrs: Attrs, span: Span, scope: string): number[] {
    const def = OPS[op];
    if (!def) throw new Error(`autodiff: gradient rule emits unknown op '${op}'`);
    const full = withDefaults(def, attrs);
    const types = def.shape(inputs.map((v) => (v < 0 ? undefined : this.graph.values[v].type)), full, concreteContext);
    const concrete = types.map((t) => {
      if (!t.shape.every((d) => typeof d === 'number')) throw new Error(`autodiff: ${op} gave a symbolic shape ${showType(t)}`);
      return { dtype: t.dtype, shape: t.shape as number[] };
    });
    // Nodes carry every attr, defaults filled in, as lowering writes them.
    return this.node(op, inputs, full, concrete, span, scope);
  }
}

function resolveLoss(g: Graph, loss: string | number): number {
  let v: number;
  if (typeof loss === 'number') {
    if (!Number.isInteger(loss) || loss < 0 || loss >= g.values.length) throw new AutodiffError(`loss value id ${loss} is not in the graph (it has ${g.values.length} values)`);
    v = loss;
  } else {
    const o = g.outputs.find((x) => x.name === loss);
    if (!o) throw new AutodiffError(`loss '${loss}' is not a graph output; the outputs are ${g.outputs.map((x) => `'${x.name}'`).join(', ') || 'none'}`);
    v = o.value;
  }
  const t = g.values[v].type;
  if (!isFloat(t.dtype) || numel(t.shape) !== 1) throw new AutodiffError(`loss must be a float scalar (one element), got ${showType(t)}`, );
  return v;
}

function chooseParams(g: Graph, wrt: readonly string[] | undefined): Graph['params'] {
  if (wrt === undefined) return g.params.filter((p) => !p.frozen && isFloat(g.values[p.value].type.dtype));
  return wrt.map((name) => {
    const p = g.params.find((q) => q.name === name);
    if (!p) throw new AutodiffError(`cannot differentiate with respect to '${name}': no such parameter`);
    if (p.frozen) throw new AutodiffError(`cannot differentiate with respect to '${name}': the parameter is frozen`);
    if (!isFloat(g.values[p.value].type.dtype)) throw new AutodiffError(`cannot differentiate with respect to '${name}': it is ${g.values[p.value].type.dtype}, not float`);
    return p;
  });
}

/** Float values that depend on one of `sources` through differentiable ops. */
function activeValues(g: Graph, sources: readonly number[]): Uint8Array {
  const active = new Uint8Array(g.values.length);
  for (const v of sources) active[v] = 1;
  for (const n of g.nodes) {
    const def = OPS[n.op];
    if (!def || def.grad === 'none') continue;
    if (!n.inputs.some((v) => v >= 0 && active[v])) continue;
    for (const o of n.outputs) if (isFloat(g.values[o].type.dtype)) active[o] = 1;
  }
  return active;
}

/** Removes appended nodes (index >= firstNew) that no graph output reads; renumbers ids. */
function prune(g: Graph, firstNew: number): Graph {
  const live = new Uint8Array(g.nodes.length);
  const stack = g.outputs.map((o) => g.values[o.value].node);
  while (stack.length) {
    const n = stack.pop()!;
    if (live[n]) continue;
    live[n] = 1;
    for (const v of g.nodes[n].inputs) if (v >= 0) stack.push(g.values[v].node);
  }
  const valueMap = new Int32Array(g.values.length).fill(-1);
  const out: Graph = { nodes: [], values: [], inputs: g.inputs, params: g.params, outputs: [] };
  for (const n of g.nodes) {
    if (n.id >= firstNew && !live[n.id]) continue;
    const id = out.nodes.length;
    const outputs = n.outputs.map((v) => {
      const nv: GValue = { id: out.values.length, type: g.values[v].type, node: id, index: g.values[v].index };
      out.values.push(nv);
      valueMap[v] = nv.id;
      return nv.id;
    });
    const node: GNode = { ...n, id, inputs: n.inputs.map((v) => (v < 0 ? -1 : valueMap[v])), outputs };
    out.nodes.push(node);
  }
  for (const o of g.outputs) out.outputs.push({ name: o.name, value: valueMap[o.value] });
  // Forward nodes are all kept, so input and param ids are unchanged.
  return out;
}

/**
 * Appends the backward pass of the scalar `loss` (a graph output name or value
 * id) w.r.t. every non-frozen param (or `wrt`) to a copy of the graph.
 * Gradient nodes carry the span of the forward node they differentiate, scope
 * "grad/<scope>". Each gradient is also a graph output "grad/<param name>"; a
 * param the loss does not depend on gets a zeros constant.
 */
export function differentiate(graph: Graph, loss: string | number, opts: DifferentiateOptions = {}): GradResult {
  const g: Graph = { nodes: [...graph.nodes], values: [...graph.values], inputs: [...graph.inputs], params: [...graph.params], outputs: [...graph.outputs] };
  const lossValue = resolveLoss(g, loss);
  const params = chooseParams(g, opts.wrt);
  const firstNew = g.nodes.length;
  const app = new Appender(g);
  const active = activeValues(g, params.map((p) => p.value));
  const cot = new Map<number, number>();
  const lossNode = g.nodes[g.values[lossValue].node];
  const lossType = g.values[lossValue].type;
  cot.set(lossValue, app.constant(opts.seed ?? 1, lossType.dtype, lossType.shape, lossNode.span, `grad/${lossNode.scope}`));

  for (let at = lossNode.id; at >= 0; at--) {
    const node = g.nodes[at];
    const def = OPS[node.op];
    if (!def || def.grad === 'none') continue; // sources, and ops that stop the gradient
    if (!node.outputs.some((o) => cot.has(o))) continue;
    if (!node.inputs.some((v) => v >= 0 && active[v])) continue;
    const scope = `grad/${node.scope}`;
    for (const [v, c] of nodeCotangents(app, node, active, cot)) {
      const prev = cot.get(v);
      cot.set(v, prev === undefined ? c : app.opNode('add', [prev, c], {}, node.span, scope)[0]);
    }
  }

  for (const p of params) {
    const node = g.nodes[g.values[p.value].node];
    const t = g.values[p.value].type;
    g.outputs.push({ name: `grad/${p.name}`, value: cot.get(p.value) ?? app.constant(0, t.dtype, t.shape, node.span, `grad/${node.scope}`) });
  }
  const pruned = prune(g, firstNew);
  // FUSEDET_DEBUG=5 (STYLE.md): the graph after each named pass.
  if ((opts.debug ?? 0) >= 5) process.stderr.write(`--- pass autodiff: ${pruned.nodes.length - firstNew} backward nodes\n${printGraph(pruned)}`);
  const grads = new Map(params.map((p) => [p.name, pruned.outputs.find((o) => o.name === `grad/${p.name}`)!.value]));
  return { graph: pruned, grads };
}

/**
 * The node's gradient rule (its op's OpDef.grad) applied to its outputs'
 * cotangents so far: a cotangent for each active input the rule gives one,
 * as (input value, cotangent) pairs for the caller to accumulate. The rule's
 * nodes are appended with the node's span and scope "grad/<scope>".
 */
function nodeCotangents(app: Appender, node: GNode, active: Uint8Array, cot: ReadonlyMap<number, number>): [number, number][] {
  const g = app.graph;
  const def = OPS[node.op];
  if (def.grad === 'none') return [];
  const scope = `grad/${node.scope}`;
  const emit = (op: string, inputs: readonly number[], attrs: Attrs = {}): number[] => app.opNode(op, inputs, attrs, node.span, scope);
  const constant = (value: number, dtype: DType, shape: readonly number[]): number => app.constant(value, dtype, shape, node.span, scope);
  const b: GradBuilder = {
    inputs: node.inputs, outputs: node.outputs, attrs: withDefaults(def, node.attrs),
    type: (v) => g.values[v].type,
    needs: (i) => node.inputs[i] !== undefined && node.inputs[i] >= 0 && active[node.inputs[i]] === 1,
    cot: (i) => cot.get(node.outputs[i]),
    cotOrZero: (i) => {
      const c = cot.get(node.outputs[i]);
      if (c !== undefined) return c;
      const t = g.values[node.outputs[i]].type;
      return constant(0, t.dtype, t.shape);
    },
    emit,
    op: (op, inputs, attrs) => emit(op, inputs, attrs)[0],
    constant: (value, dtype, shape = []) => constant(value, dtype, shape),
    unbroadcast: (c, shape) => unbroadcast(c, shape, emit, g),
  };
  const ins = def.grad(b);
  const out: [number, number][] = [];
  node.inputs.forEach((v, i) => {
    if (!b.needs(i)) return;
    const c = ins[i];
    if (c === undefined) return;
    const want = g.values[v].type, got = g.values[c].type;
    if (want.dtype !== got.dtype || want.shape.length !== got.shape.length || want.shape.some((d, k) => d !== got.shape[k])) {
      throw new Error(`autodiff: the ${node.op} rule gave input ${i} a cotangent ${showType(got)} for a value ${showType(want)}`);
    }
    out.push([v, c]);
  });
  return out;
}

/** Sums g over the axes a broadcast to g's shape stretched (leading and size-1 dims), then reshapes to `shape`. */
function unbroadcast(c: number, shape: readonly number[], emit: (op: string, inputs: readonly number[], attrs?: Attrs) => number[], g: Graph): number {
  const cs = g.values[c].type.shape;
  if (cs.length === shape.length && cs.every((d, i) => d === shape[i])) return c;
  const lead = cs.length - shape.length;
  const axes: number[] = [];
  cs.forEach((d, i) => { if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i); });
  const summed = axes.length ? emit('sum', [c], { axes, keepdims: false })[0] : c;
  const ss = g.values[summed].type.shape;
  if (ss.length === shape.length && ss.every((d, i) => d === shape[i])) return summed;
  return emit('reshape', [summed], { shape: [...shape] })[0];
}
