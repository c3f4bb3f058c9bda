// matmul as a GEMM on the generic GEMM schedule (schedule/gemm.ts): A and B
// read in place (no packing tables), batch dimensions broadcast.
import { Graph } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { add, idx, mul } from '../kernel/build.js';
import { numel } from '../types.js';
import { Emitter, Lowering, ScheduleError } from '../schedule/emit.js';
import { broadcastAt } from '../schedule/emit.js';
import { Scheduled, unflatten } from '../schedule/pointwise.js';
import { letVar, scheduleGemm } from '../schedule/gemm.js';
import type { Target } from '../target.js';
import type { KernelTable } from './op.js';

export function scheduleMatmul(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [av, bv] = node.inputs;
  const aS = em.shape(av), bS = em.shape(bv), oS = em.shape(node.outputs[0]);
  const M = aS[aS.length - 2], K = aS[aS.length - 1], Nn = bS[bS.length - 1];
  const batch = oS.slice(0, -2), nb = numel(batch);
  if (em.dtype(av) !== 'f32') throw new ScheduleError(`matmul node ${node.id}: only f32 is scheduled (got ${em.dtype(av)})`);
  const ab = em.buf(av, 'r'), bb = em.buf(bv, 'r');
  /** The problem's batch index and the bases of its A and B matrices. */
  interface Bases { bIdx: Expr[]; abase: Expr; bbase: Expr }
  return scheduleGemm(em, graph, node, sink, { problems: nb, M, N: Nn, K }, {
    setup(problem): Bases {
      const bIdx = unflatten(em, problem, batch, 'b');
      const abase = letVar(em, 'abase', em.flat(av, [...broadcastAt(aS.slice(0, -2), bIdx), idx(0), idx(0)]));
      return { bIdx, abase, bbase: letVar(em, 'bbase', em.flat(bv, [...broadcastAt(bS.slice(0, -2), bIdx), idx(0), idx(0)])) };
    },
    a: (p, row, k) => em.bufLoad(ab, add(p.abase, add(mul(row, idx(K)), k)), 'f32'),
    packRow: (p, k) => letVar(em, 'brow', add(p.bbase, mul(k, idx(Nn)))),
    packValue: (_p, brow, _j, col) => em.bufLoad(bb, add(brow, col), 'f32'),
    outIndex: (p, row, col) => [...p.bIdx, row, col],
    bias: () => undefined,
  }, target);
}

export const MATMUL_KERNELS: KernelTable<'matmul'> = { matmul: { schedule: scheduleMatmul } };
