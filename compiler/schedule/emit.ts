// The emitter a schedule writes one kernel with. It knows which graph nodes
// belong to the kernel's fusion group: the value of an in-group node at a
// multi-index is computed inline (through the op lowering table), anything
// else is loaded from a buffer. Repeated uses of a value at the same index
// share one `let`.
import { Graph, GNode } from '../graph.js';
import { canonicalExpr } from '../kernel/hash.js';
import { BufDType, Expr, KArray, KBuf, Scalar, Stmt, typeOf } from '../kernel/ir.js';
import { add, idx, let_, load, mul, store, v as vref } from '../kernel/build.js';
import { DType } from '../types.js';
import { stridesOf } from '../tensor.js';
import { FusedetError } from '../../io/errors.js';

/** A coordinate along a size-1 dim is always 0, whatever expression names it. */
function aliasKey(shape: readonly number[], at: readonly Expr[]): string {
  return `${shape.join(',')}@${at.map((e, d) => (shape[d] === 1 ? '0' : canonicalExpr(e))).join(',')}`;
}

/** A graph the scheduler cannot turn into kernels (an op without a kernel yet, f16): the CLI prints the message. */
export class ScheduleError extends FusedetError {}

export function scalarOf(d: DType): BufDType {
  if (d === 'f16') throw new ScheduleError('f16 tensors are not supported by the kernel scheduler yet (use f32)');
  return d;
}

/** How one op computes its value at an output multi-index. */
export type Lowering = (em: Emitter, node: GNode, out: readonly Expr[]) => Expr;

/** Index into an input of shape `inShape` broadcast to an output index (numpy rules). */
export function broadcastAt(inShape: readonly number[], out: readonly Expr[]): Expr[] {
  const off = out.length - inShape.length;
  return inShape.map((d, i) => (d === 1 ? idx(0) : out[off + i]));
}

export interface KernelBuf { value: number; dtype: BufDType; access: KBuf['access'] }

/**
 * In-place updates (Graph.updates): update value → its param's value. Such a
 * value lives in the param's buffer, so a kernel binds it as the param: one
 * binding, 'rw' when the kernel also reads the param (WebGPU rejects a
 * dispatch that binds one buffer twice with one binding writable).
 */
export function updateAliases(graph: Graph): ReadonlyMap<number, number> {
  const map = new Map<number, number>();
  if (!graph.updates?.length) return map;
  const paramValue = new Map(graph.params.map((p) => [p.name, p.value]));
  for (const u of graph.updates) {
    const p = paramValue.get(u.param);
    if (p !== undefined) map.set(u.value, p);
  }
  return map;
}

export class Emitter {
  readonly bufs: KernelBuf[] = [];
  readonly locals: KArray[] = [];
  readonly regs: KArray[] = [];
  private readonly blocks: Stmt[][] = [[]];
  private readonly memo: Map<string, Expr>[] = [new Map()];
  private counter = 0;
  /** Values replaced by a schedule-provided expression (a GEMM accumulator). */
  readonly overrides = new Map<number, (out: readonly Expr[]) => Expr>();
  /**
   * Threads sharing one output index while a value is lowered (a warp, or a
   * workgroup of whole warps; 0: one thread per output): the outermost
   * reduction strides its elements over them (ops/reduce.kernel.ts
   * withWarpReduction). `reductionDepth` counts the reductions being lowered.
   */
  reductionLanes = 0;
  reductionDepth = 0;
  /**
   * Vector lanes for a sum's contiguous innermost axis on the CPU (0: a
   * serial sum): the outermost sum/mean keeps that many partial sums, so the
   * loop vectorises (ops/reduce.kernel.ts vectorLaneNest).
   */
  vectorLanes = 0;

  private readonly aliases: ReadonlyMap<number, number>;

  constructor(readonly graph: Graph, readonly group: ReadonlySet<number>, readonly lowerings: Readonly<Record<string, Lowering>>) {
    this.aliases = updateAliases(graph);
  }

  // The underscore keeps generated names apart from the fixed ones schedules use (y0, n0, r0).
  fresh(prefix: string): string { return `${prefix}_${this.counter++}`; }

  emit(s: Stmt): void { this.blocks[this.blocks.length - 1].push(s); }

  /** Statements emitted by fn, in a scope of their own (lets made inside do not leak). */
  block(fn: () => void): Stmt[] {
    this.blocks.push([]);
    this.memo.push(new Map());
    try { fn(); } finally { this.memo.pop(); }
    return this.blocks.pop()!;
  }

  body(): Stmt[] { return this.blocks[0]; }

  buf(graphValue: number, access: 'r' | 'w'): number {
    const value = this.aliases.get(graphValue) ?? graphValue;
    const i = this.bufs.findIndex((b) => b.value === value);
    if (i >= 0) {
      if (this.bufs[i].access !== access) this.bufs[i].access = 'rw';
      return i;
    }
    this.bufs.push({ value, dtype: scalarOf(this.graph.values[value].type.dtype), access });
    return this.bufs.length - 1;
  }

  shape(value: number): readonly number[] { return this.graph.values[value].type.shape; }
  dtype(value: number): BufDType { return scalarOf(this.graph.values[value].type.dtype); }

  /** Multi-indices known to be the unflattening of a flat index over a shape (the kernel's own iteration). */
  private readonly flatAliases = new Map<string, Expr>();

  aliasFlat(shape: readonly number[], at: readonly Expr[], flat: Expr): void {
    this.flatAliases.set(aliasKey(shape, at), flat);
  }

  /** Row-major flat offset of a multi-index into `value`'s buffer. */
  flat(value: number, at: readonly Expr[]): Expr {
    return this.flatIndex(this.shape(value), at);
  }

  /** Row-major flat offset of a multi-index in `shape`: the flat index itself where `at` is known to unflatten it. */
  flatIndex(shape: readonly number[], at: readonly Expr[]): Expr {
    const alias = this.flatAliases.get(aliasKey(shape, at));
    if (alias) return alias;
    const st = stridesOf(shape);
    let e: Expr = idx(0);
    for (let d = 0; d < at.length; d++) e = add(e, mul(at[d], idx(st[d])));
    return e;
  }

  bufLoad(buf: number, at: Expr, t: Scalar): Expr { return load(buf, at, t); }

  loadAt(value: number, at: readonly Expr[]): Expr {
    return load(this.buf(value, 'r'), this.flat(value, at), this.dtype(value));
  }

  /** Bind e to a fresh `let` unless it is already a leaf. */
  bind(e: Expr, prefix = 't'): Expr {
    if (e.k === 'const' || e.k === 'var' || e.k === 'arg') return e;
    const name = this.fresh(prefix);
    const t: Scalar = typeOf(e);
    this.emit(let_(name, t, e));
    return vref(name, t);
  }

  /**
   * Stores element `at` of `sink` into `outBuf` with the group's anchor
   * output standing for `anchorValue()` (a schedule's accumulator): the fused
   * epilogue between anchor and sink runs on it.
   */
  storeThrough(outBuf: number, sink: number, at: readonly Expr[], anchor: number, anchorValue: () => Expr): void {
    this.overrides.set(anchor, anchorValue);
    try {
      this.emit(store(outBuf, this.flat(sink, at), this.value(sink, at)));
    } finally {
      this.overrides.delete(anchor);
    }
  }

  /** The value `value` at multi-index `at`. */
  value(value: number, at: readonly Expr[]): Expr {
    const over = this.overrides.get(value);
    if (over) return over(at);
    const gv = this.graph.values[value];
    const node = this.graph.nodes[gv.node];
    if (node.op === 'const') {
      const c = node.attrs.value;
      const dt = this.dtype(value);
      return { k: 'const', t: dt, v: dt === 'f32' ? Math.fround(Number(c)) : dt === 'bool' ? (Number(c) ? 1 : 0) : Number(c) | 0 };
    }
    if (!this.group.has(node.id)) return this.loadAt(value, at);
    const key = `${value}@${at.map(canonicalExpr).join(',')}`;
    for (let i = this.memo.length - 1; i >= 0; i--) {
      const hit = this.memo[i].get(key);
      if (hit) return hit;
    }
    const lower = this.lowerings[node.op];
    if (!lower) {
      throw new ScheduleError(`op '${node.op}' (node ${node.id}, in ${node.scope || 'the top level'}) has no kernel yet, so this graph cannot be compiled to kernels; ` +
        'run it with the reference interpreter (--runtime reference) or leave the op out of the compiled function');
    }
    if (node.outputs.length !== 1) throw new ScheduleError(`op '${node.op}' has several outputs and cannot be fused inline`);
    const e = this.bind(lower(this, node, at));
    this.memo[this.memo.length - 1].set(key, e);
    return e;
  }

  /** Input i of node at multi-index `at` (undefined for an omitted optional input). */
  input(node: GNode, i: number, at: readonly Expr[]): Expr {
    const v = node.inputs[i];
    if (v === undefined || v < 0) throw new ScheduleError(`op '${node.op}' (node ${node.id}): input ${i} is missing`);
    return this.value(v, at);
  }

  inShape(node: GNode, i: number): readonly number[] { return this.shape(node.inputs[i]); }
  outShape(node: GNode): readonly number[] { return this.shape(node.outputs[0]); }
}
