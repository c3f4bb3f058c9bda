// What every op family declares, in one place (DESIGN.md "The op").
//
// A shape rule works on symbolic Dims (the checker) and on numbers (lowering)
// alike: write it with the dims.ts arithmetic and ShapeContext.requireEqual,
// never with === on dims.
import { Dim } from '../dims.js';
import { DType, TensorType, ConcreteType } from '../types.js';
import { Tensor } from '../tensor.js';
import type { Graph } from '../graph.js';
import type { Lowering } from '../schedule/emit.js';
import type { Scheduled } from '../schedule/pointwise.js';
import type { Target } from '../target.js';

/** Fusion kinds, as in TVM's OpPatternKind. */
export type OpKind = 'elementwise' | 'broadcast' | 'injective' | 'reduce' | 'out-fusable' | 'opaque';

export type AttrType = 'int' | 'float' | 'bool' | 'string' | 'ints' | 'floats';
/** int attrs are Dims so `topk(x, k = K)` can stay symbolic in the checker. */
export type AttrValue = Dim | boolean | string | readonly Dim[] | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface AttrSpec {
  readonly name: string;
  readonly type: AttrType;
  /** Absent: the attr is required. */
  readonly default?: AttrValue;
  /** For string attrs: the allowed values. */
  readonly choices?: readonly string[];
  readonly doc?: string;
}

export interface InputSpec {
  readonly name: string;
  /** Allowed dtypes; absent = any. */
  readonly dtypes?: readonly DType[];
  /** May be omitted by the caller (e.g. conv bias); shape() then sees `undefined`. */
  readonly optional?: boolean;
  /** Last input only: takes a tuple/list of tensors (concat, max3d). */
  readonly variadic?: boolean;
}

/** A user-facing shape/type error raised by a shape rule. */
export class ShapeError extends Error {
  /** Index of the offending input in the flattened input list, if one is to blame. */
  readonly arg: number | undefined;
  readonly hint: string | undefined;
  constructor(message: string, opts: { arg?: number; hint?: string } = {}) {
    super(message);
    this.name = 'ShapeError';
    this.arg = opts.arg;
    this.hint = opts.hint;
  }
}

/**
 * Passed to shape rules. requireEqual throws ShapeError when two dims are
 * provably different; when equality depends on symbols (checker only) it
 * records an assumption that lowering re-checks with concrete values.
 */
export interface ShapeContext {
  requireEqual(a: Dim, b: Dim, what: string, arg?: number): void;
  /** Require a dim to be >= lo (e.g. conv output >= 1); same three-way logic. */
  requireAtLeast(a: Dim, lo: number, what: string, arg?: number): void;
}

export interface OpDef<A extends Attrs = Attrs> {
  /** The builtin's name in the language, also the graph node's op. */
  readonly name: string;
  readonly kind: OpKind;
  readonly doc: string;
  readonly inputs: readonly InputSpec[];
  readonly attrs: readonly AttrSpec[];
  /** Output types from input types (undefined for an omitted optional input) and attrs (defaults filled in). */
  shape(inputs: readonly (TensorType | undefined)[], attrs: A, ctx: ShapeContext): TensorType[];
  /** The numeric oracle: plain TypeScript, concrete shapes. */
  reference(inputs: readonly (Tensor | undefined)[], attrs: A): Tensor[];
  /** Multiply-adds counted as 2 FLOPs; elementwise ops count one per output element. */
  flops(inputs: readonly (ConcreteType | undefined)[], outputs: readonly ConcreteType[], attrs: A): number;
  /**
   * The reverse-mode rule (compiler/autodiff.ts), written as graph ops; or
   * 'none': the op stops the gradient (its outputs are constants to autodiff).
   */
  readonly grad: GradRule;
}

/**
 * What a gradient rule sees of its forward node and how it emits backward
 * nodes. Every value is a graph value id; emitted nodes carry the forward
 * node's span, scope "grad/<scope>", and types from the ops' shape rules.
 */
export interface GradBuilder {
  /** The forward node's input value ids (-1 for an omitted optional input). */
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** The forward node's attrs, defaults filled in. */
  readonly attrs: Attrs;
  type(value: number): ConcreteType;
  /** Whether input i needs a cotangent (it is float and depends on a differentiated param). */
  needs(input: number): boolean;
  /** The cotangent of output i; undefined when no gradient reaches it. */
  cot(output: number): number | undefined;
  /** The cotangent of output i, zeros when no gradient reaches it. */
  cotOrZero(output: number): number;
  /** Emits an op node; returns its outputs. */
  emit(op: string, inputs: readonly number[], attrs?: Attrs): number[];
  /** Emits a single-output op node. */
  op(op: string, inputs: readonly number[], attrs?: Attrs): number;
  /** A scalar (shape []) or a filled tensor of `shape`, in `dtype`. */
  constant(value: number, dtype: DType, shape?: readonly number[]): number;
  /** Sums `g` over the axes a broadcast to g's shape stretched, then reshapes to `shape`. */
  unbroadcast(g: number, shape: readonly number[]): number;
}

/**
 * A schedule: builds the kernel of one fusion group anchored at `anchor`
 * (every node in `nodes`, stored at `sink`) for `target`. Schedules that do
 * not shape their work by the target may omit the last parameter. An op
 * whose one kernel would bind more storage buffers than the target allows
 * (max3d over a pyramid: a buffer per level in and out) returns several
 * launches instead, in order, each within the limit.
 */
export type GroupSchedule = (graph: Graph, nodes: ReadonlySet<number>, anchor: number, sink: number,
  lowerings: Readonly<Record<string, Lowering>>, target: Target) => Scheduled | readonly Scheduled[];

/**
 * How an op becomes kernel code, at least one of: `lower`, the value of one
 * output element as IR (the generic pointwise and reduce schedules use it, and
 * any schedule inlines it where the op is fused as a producer or epilogue);
 * `schedule`, a kernel of its own when the op anchors a fusion group (GEMMs,
 * max3d, sort, nms, ...).
 */
export type OpKernel =
  | { readonly lower: Lowering; readonly schedule?: GroupSchedule }
  | { readonly schedule: GroupSchedule; readonly lower?: Lowering };

/**
 * An op definition whose name is a literal type (`const relu: Op<'relu'>`):
 * the kernel registry (compiler/ops/kernels.ts) then requires a kernel for it
 * at compile time, not only when a graph using it is compiled.
 */
export type Op<N extends string, A extends Attrs = Attrs> = OpDef<A> & { readonly name: N };

/** The op names of a family's op list (`OpNameOf<typeof POOL_OPS>` is 'max_pool2d' | 'max_pool2d_grad'). */
export type OpNameOf<F extends readonly { readonly name: string }[]> = F[number]['name'];

/**
 * One family's kernels, by op name (compiler/ops/<family>.kernel.ts, typed
 * `KernelTable<OpNameOf<typeof FAMILY_OPS>>` so the family's file does not
 * compile without every op's kernel); the registry is compiler/ops/kernels.ts.
 */
export type KernelTable<N extends string = string> = { readonly [K in N]: OpKernel };

/**
 * Kernels that are per-element code only (the generic schedules run them),
 * from a table of lowerings; name the family's ops, `perElement<N>({...})`,
 * so a missing or misspelt row does not compile.
 */
export function perElement<N extends string>(table: { readonly [K in N]: Lowering }): KernelTable<N> {
  return Object.fromEntries(Object.entries<Lowering>(table).map(([name, lower]) => [name, { lower }])) as KernelTable<N>;
}

/** Input cotangents, one per forward input; undefined where none flows (or needs(i) is false). */
export type GradFn = (b: GradBuilder) => readonly (number | undefined)[];
export type GradRule = GradFn | 'none';
