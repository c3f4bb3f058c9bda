// The generic schedule: one thread per output element of the group's sink.
// Everything else in the group is computed inline at the index it is needed
// (elementwise chains, broadcasts, index remaps, and reductions, whose
// lowering emits the reduction loop with the fused prologue inside it and
// whose consumers in the group form the epilogue).
import { Graph } from '../graph.js';
import { BufDType, Expr, Kernel, Stmt } from '../kernel/ir.js';
import { add, arg, div, gid, idx, if_, let_, lid, lt, mod, mul, store, v } from '../kernel/build.js';
import { numel } from '../types.js';
import { Emitter, Lowering, ScheduleError } from './emit.js';

export interface Scheduled {
  kernel: Omit<Kernel, 'name'>;
  /** Graph value bound to each kernel buffer, in kernel order. */
  bufValues: number[];
  args: number[];
  grid: number;
  /**
   * Workspace: per-launch scratch buffers the kernel binds after the graph
   * values' buffers (kernel.bufs[bufValues.length + k]). compileGraph plans
   * each like a temporary live during this launch only; contents start undefined.
   * Entries of one group's launches that name the same `shared` key are one
   * buffer, live from the first of those launches to the last: how a
   * schedule of several launches hands intermediates from one to the next.
   */
  scratch?: { dtype: BufDType; bytes: number; shared?: string }[];
  /** Floating-point operations to report for this launch instead of its group's (a group scheduled as several launches counts them once). */
  flops?: number;
}

export const POINTWISE_WG = 64;

/** Decompose a flat row-major index into `let` coordinates. */
export function unflatten(em: Emitter, flat: Expr, shape: readonly number[], prefix: string): Expr[] {
  const out: Expr[] = [];
  let inner = numel(shape);
  for (let d = 0; d < shape.length; d++) {
    inner /= shape[d];
    // The outermost coordinate is never folded to a constant, so the batch size stays out of the kernel's structure.
    let e = shape[d] === 1 && d > 0 ? idx(0) : inner === 1 ? flat : div(flat, idx(inner));
    if (d > 0 && shape[d] !== 1) e = mod(e, idx(shape[d]));
    if (e.k === 'const') { out.push(e); continue; }
    const name = em.fresh(prefix);
    em.emit(let_(name, 'i64', e));
    out.push(v(name));
  }
  return out;
}

/**
 * One kernel over several ranges of work items (the levels of a pyramid):
 * item `at` runs the body of the first range whose end `hi` exceeds it
 * (ranges in order, ends increasing).
 */
export function byRange(at: Expr, ranges: readonly { hi: number; body: Stmt[] }[]): Stmt[] {
  let chain: Stmt[] = [];
  for (let r = ranges.length - 1; r >= 0; r--) chain = [if_(lt(at, idx(ranges[r].hi)), ranges[r].body, chain)];
  return chain;
}

export function finish(em: Emitter, body: Stmt[], wg: number, args: number[], grid: number): Scheduled {
  return {
    kernel: { bufs: em.bufs.map((b) => ({ dtype: b.dtype, access: b.access })), nargs: args.length, workgroupSize: wg, locals: em.locals, regs: em.regs, body },
    bufValues: em.bufs.map((b) => b.value),
    args,
    grid,
  };
}

/** One thread per output element, `wg` a workgroup (fewer where each element is much work and there are few: see scheduleReduce). */
export function schedulePointwise(graph: Graph, nodes: ReadonlySet<number>, sink: number, lowerings: Readonly<Record<string, Lowering>>, wg = POINTWISE_WG): Scheduled {
  const outValue = graph.nodes[sink].outputs[0];
  return schedulePointwiseOutputs(graph, nodes, sink, lowerings, (em, at) => [em.value(outValue, at)], wg);
}

/**
 * The generic schedule for a sink with several same-shaped outputs (the SGD
 * update's buffer and weight): `valuesAt` gives every output's value at the
 * thread's index, in the node's output order, and each is stored there.
 * Computing all of them first lets them share the work they have in common.
 */
export function schedulePointwiseOutputs(graph: Graph, nodes: ReadonlySet<number>, sink: number, lowerings: Readonly<Record<string, Lowering>>,
  valuesAt: (em: Emitter, at: readonly Expr[]) => readonly Expr[], wg = POINTWISE_WG): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const outValues = graph.nodes[sink].outputs;
  const shape = em.shape(outValues[0]);
  for (const o of outValues) {
    if (em.shape(o).length !== shape.length || em.shape(o).some((d, i) => d !== shape[i])) {
      throw new ScheduleError(`op '${graph.nodes[sink].op}' (node ${sink}): the pointwise schedule stores every output at one index, but its outputs have different shapes`);
    }
  }
  const total = numel(shape);
  const outBufs = outValues.map((o) => em.buf(o, 'w'));
  const body = em.block(() => {
    em.emit(let_('i', 'i64', add(mul(gid, idx(wg)), lid)));
    const inner = em.block(() => {
      const at = unflatten(em, v('i'), shape, 'c');
      // Same-shaped operands are read at the flat index itself (no div/mod round trip).
      em.aliasFlat(shape, at, v('i'));
      const values = valuesAt(em, at);
      if (values.length !== outBufs.length) throw new ScheduleError(`op '${graph.nodes[sink].op}' (node ${sink}): ${values.length} values for ${outBufs.length} outputs`);
      values.forEach((value, k) => em.emit(store(outBufs[k], v('i'), value)));
    });
    em.emit(if_(lt(v('i'), arg(0)), inner));
  });
  return finish(em, body, wg, [total], Math.ceil(total / wg));
}
