// The optimizer as graph ops, appended to a graph that already computes the
// gradients: SGD with momentum (torch's form: buf = m·buf + g + wd·w,
// w = w − lr·buf), per-parameter weight decay, optional clipping by global
// norm and loss-scale unscaling. The learning rate and the loss scale are
// scalar graph inputs the host sets each step (the schedule lives on the
// host). The updated weights and momentum buffers are in-place updates
// (Graph.updates): the compiler writes each straight into its param's buffer,
// so nothing big crosses to the host. With a guard (the step's "finite" flag)
// every update is `guard ? new : old`, so a non-finite step leaves the state
// as it was without the host touching it.
//
// Launches: per param, one elementwise update kernel (ops/sgd.ts
// sgd_update) storing both the momentum buffer and the weight, each read
// only at the index it writes, with the unscaled, clipped and decayed
// gradient computed inline; the norm is one launch per large gradient plus
// one for the rest.
//
// Momentum buffers are graph params "opt.momentum.<param>", frozen (autodiff
// never differentiates them), zeros at the start.
import { Graph, GValue } from './graph.js';
import { OPS } from './ops/index.js';
import { withDefaults } from './ops/attrs.js';
import { Attrs, ShapeContext, ShapeError } from './ops/op.js';
import { dimEquals, showDim } from './dims.js';
import { ConcreteType, NO_SPAN, Span, numel } from './types.js';

export const MOMENTUM_PREFIX = 'opt.momentum.';
export const NEW_PREFIX = 'new/';
export const momentumName = (param: string): string => `${MOMENTUM_PREFIX}${param}`;

export interface SgdOptions {
  momentum: number;
  /** Decay on conv weights, biases and scales (DEFCN.md: 1e-4). */
  weightDecay: number;
  /** Decay on GroupNorm weight and bias (DEFCN.md: 0). */
  weightDecayNorm: number;
  /** Clip gradients to this global L2 norm; 0 = no clipping. */
  clipNorm: number;
}

/** Gradients of at most this many elements go straight into the norm's final reduction (a kernel each would cost more than their elements). */
export const SHARED_NORM_MAX = 16384;

export const DEFAULT_SGD: SgdOptions = { momentum: 0.9, weightDecay: 1e-4, weightDecayNorm: 0, clipNorm: 0 };

const concrete: ShapeContext = {
  requireEqual(a, b, what) { if (dimEquals(a, b) !== true) throw new ShapeError(`${what} (${showDim(a)} vs ${showDim(b)})`); },
  requireAtLeast(a, lo, what) { if (typeof a !== 'number' || a < lo) throw new ShapeError(`${what} (${showDim(a)} < ${lo})`); },
};

/** Appends typed nodes to a graph (in place). */
export class GraphAppender {
  constructor(readonly graph: Graph, readonly span: Span = NO_SPAN, readonly scope = 'optimizer') {}

  private push(op: string, inputs: readonly number[], attrs: Attrs, types: readonly ConcreteType[]): number[] {
    const id = this.graph.nodes.length;
    const outputs = types.map((type, index) => {
      const v: GValue = { id: this.graph.values.length, type, node: id, index };
      this.graph.values.push(v);
      return v.id;
    });
    this.graph.nodes.push({ id, op, inputs: [...inputs], attrs, outputs, span: this.span, scope: this.scope });
    return outputs;
  }

  op(op: string, inputs: readonly number[], attrs: Attrs = {}): number {
    return this.ops(op, inputs, attrs)[0];
  }

  /** An op node with several outputs: their value ids, in order. */
  ops(op: string, inputs: readonly number[], attrs: Attrs = {}): number[] {
    const def = OPS[op];
    if (!def) throw new Error(`optimizer: unknown op '${op}'`);
    const types = def.shape(inputs.map((v) => this.graph.values[v].type), withDefaults(def, attrs), concrete);
    return this.push(op, inputs, attrs, types.map((t) => ({ dtype: t.dtype, shape: t.shape as number[] })));
  }

  constant(value: number, type: ConcreteType = { dtype: 'f32', shape: [] }): number {
    return this.push('const', [], { value }, [type])[0];
  }

  input(name: string, type: ConcreteType): number {
    const v = this.push('input', [], { name }, [type])[0];
    this.graph.inputs.push({ name, value: v });
    return v;
  }

  param(name: string, type: ConcreteType): number {
    const v = this.push('param', [], { name }, [type])[0];
    this.graph.params.push({ value: v, name, init: { kind: 'zeros' }, frozen: true });
    return v;
  }
}

/** Params that feed a group_norm's weight or bias: no decay by default. */
export function normParams(graph: Graph): Set<string> {
  const byValue = new Map(graph.params.map((p) => [p.value, p.name]));
  const out = new Set<string>();
  for (const n of graph.nodes) {
    if (n.op !== 'group_norm') continue;
    n.inputs.slice(1).forEach((v) => { const name = byValue.get(v); if (name) out.add(name); });
  }
  return out;
}

export interface SgdInputs {
  lr: number;
  lossScale: number;
  /** Given the squared gradient norm, a bool scalar: commit the updates only where it is true. */
  guard?: (gradNormSq: number) => number;
}

export interface SgdResult {
  /** The value ids of the squared global gradient norm (after unscaling, before clipping). */
  gradNormSq: number;
  /** Momentum buffer param names, in the order of `grads`. */
  momentum: string[];
  /**
   * Trained param name → its momentum buffer's update before the guard. With
   * finite weights, the param's update is non-finite exactly when this is
   * (diagnostics: which update went non-finite), and it is one value per param.
   */
  proposed: Map<string, number>;
}

/**
 * The graph without in-place updates, its update values (or `values`) plain
 * outputs "<prefix><param>" instead: for the reference interpreter, and for
 * running a step the copy-back way (outputs read, then uploaded).
 */
export function withUpdateOutputs(g: Graph, values: ReadonlyMap<string, number> = new Map((g.updates ?? []).map((u) => [u.param, u.value])), prefix = NEW_PREFIX): Graph {
  const { updates: _, ...rest } = g;
  return { ...rest, outputs: [...g.outputs, ...[...values].map(([param, value]) => ({ name: `${prefix}${param}`, value }))] };
}

/**
 * Inputs of one concat node: with its output, 8 storage buffers, what WebGPU
 * allows a kernel per shader stage by default (fusion cuts groups at that
 * limit, but cannot cut one node).
 */
const CONCAT_FAN_IN = 7;

/**
 * One concat of many 1-D values as a two-level tree of about √n each: the
 * inlined concat is a chain of nested source tests, so this keeps both the
 * tests per element and the nesting depth (WGSL allows 127) near 2√n. Past
 * CONCAT_FAN_IN² values the tree grows a level instead of a node growing
 * past CONCAT_FAN_IN inputs.
 */
function concatTree(a: GraphAppender, values: readonly number[]): number {
  if (values.length === 1) return values[0];
  if (values.length <= CONCAT_FAN_IN) return a.op('concat', [...values], { axis: 0 });
  const size = Math.max(Math.ceil(Math.sqrt(values.length)), Math.ceil(values.length / CONCAT_FAN_IN));
  const chunks: number[] = [];
  for (let i = 0; i < values.length; i += size) chunks.push(concatTree(a, values.slice(i, i + size)));
  return a.op('concat', chunks, { axis: 0 });
}

/**
 * Appends the SGD update for every gradient (param name → value id) to g,
 * reading the scalar values `lr` and `lossScale` (graph inputs the caller
 * made). Adds the output `grad_norm` (global L2 norm) and, per param, the
 * in-place updates of <param> and opt.momentum.<param> (g.updates).
 */
export function appendSgd(g: Graph, grads: Map<string, number>, opts: SgdOptions, inputs: SgdInputs): SgdResult {
  const a = new GraphAppender(g);
  const { lr, lossScale } = inputs;
  const inv = a.op('div', [a.constant(1), lossScale]);
  const norms = normParams(g);
  const paramValue = new Map(g.params.map((p) => [p.name, p.value]));

  // The squared global norm in two stages, so no thread walks a whole
  // gradient: a large gradient (conv weight [O, ...]) is summed per output
  // channel, in parallel (one launch each); then one launch sums those
  // partial sums and the squares of every small gradient (biases, norm
  // scales), read through an inlined concat, largest first so the kernel's
  // chain of source tests settles early for most elements.
  const parts: { value: number; n: number }[] = [];
  for (const [, grad] of grads) {
    // Unscaled once per consumer (the norm here, the momentum update below), so
    // each multiply is computed inline where it is read: the gradient kernel
    // gets no epilogue that would place it in the optimizer's part of the
    // launch order, keeping its inputs alive to the end.
    const u = a.op('mul', [grad, inv]);
    const shape = g.values[u].type.shape;
    const n = numel(shape);
    if (n > SHARED_NORM_MAX && shape.length >= 2) {
      const rows = a.op('sum', [a.op('square', [u])], { axes: shape.slice(1).map((_, i) => i + 1), keepdims: false });
      parts.push({ value: rows, n: shape[0] });
    } else {
      parts.push({ value: a.op('square', [a.op('reshape', [u], { shape: [n] })]), n });
    }
  }
  parts.sort((x, y) => y.n - x.n);
  const all = parts.length === 0 ? undefined : concatTree(a, parts.map((p) => p.value));
  const gradNormSq = all === undefined ? a.constant(0) : a.op('sum', [all], { axes: [], keepdims: false });
  const norm = a.op('sqrt', [gradNormSq]);
  g.outputs.push({ name: 'grad_norm', value: norm });
  // min(1, clip / (norm + 1e-6)), torch.nn.utils.clip_grad_norm_'s factor.
  const coef = opts.clipNorm > 0 ? a.op('minimum', [a.constant(1), a.op('div', [a.constant(opts.clipNorm), a.op('add', [norm, a.constant(1e-6)])])]) : undefined;
  const ok = inputs.guard?.(gradNormSq);
  const weightUpdates: { param: string; value: number }[] = [];
  const proposed = new Map<string, number>();
  const momentum: string[] = [];
  for (const [name, grad] of grads) {
    const u = a.op('mul', [grad, inv]);
    const w = paramValue.get(name);
    if (w === undefined) throw new Error(`optimizer: gradient for unknown param '${name}'`);
    const type = g.values[w].type;
    const mName = momentumName(name);
    const buf = a.param(mName, type);
    momentum.push(mName);
    let d = coef === undefined ? u : a.op('mul', [u, coef]);
    const wd = norms.has(name) ? opts.weightDecayNorm : opts.weightDecay;
    if (wd !== 0) d = a.op('add', [d, a.op('mul', [w, a.constant(wd)])]);
    const [nextBuf, nextW] = a.ops('sgd_update', ok === undefined ? [w, buf, d, lr] : [w, buf, d, lr, ok], { momentum: opts.momentum });
    (g.updates ??= []).push({ param: mName, value: nextBuf });
    // The unguarded buffer, for diagnostics only: the same expression as
    // sgd_update's, read by no update, so a compiled step does not compute it
    // (fuse.ts launches only what reaches an output or an update).
    proposed.set(name, opts.momentum !== 0 ? a.op('add', [a.op('mul', [buf, a.constant(opts.momentum)]), d]) : d);
    weightUpdates.push({ param: name, value: nextW });
  }
  // The buffers' updates, then the weights', as before the two were one op (the order of Graph.updates).
  (g.updates ??= []).push(...weightUpdates);
  return { gradNormSq, momentum, proposed };
}
