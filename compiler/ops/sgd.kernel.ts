// The SGD update's kernel (sgd.ts): one thread per element stores both the
// new momentum buffer and the new weight, each into its param's own buffer
// (the outputs are in-place updates), reading the weight, the buffer and the
// step direction d (its producers, the unscaled and clipped gradient plus
// weight decay, computed inline) at that element only.
import { Expr } from '../kernel/ir.js';
import { add, f32, mul, sel, sub } from '../kernel/build.js';
import { schedulePointwiseOutputs } from '../schedule/pointwise.js';
import { floatAttr } from './attrs.js';
import type { SGD_OPS } from './sgd.js';
import type { GroupSchedule, KernelTable, OpNameOf } from './op.js';

const scheduleSgdUpdate: GroupSchedule = (graph, nodes, _anchor, sink, lowerings) => {
  const node = graph.nodes[sink];
  const momentum = floatAttr('sgd_update', node.attrs, 'momentum');
  const guarded = node.inputs[4] !== undefined && node.inputs[4] >= 0;
  return schedulePointwiseOutputs(graph, nodes, sink, lowerings, (em, at): Expr[] => {
    const buf = em.input(node, 1, at);
    const d = em.input(node, 2, at);
    // The expressions of sgd.ts's reference, in its order: bit for bit the same.
    const proposal = momentum !== 0 ? em.bind(add(em.bind(mul(buf, f32(momentum))), d)) : d;
    const ok = guarded ? em.input(node, 4, []) : undefined;
    const nextBuf = ok ? em.bind(sel(ok, proposal, buf)) : proposal;
    const w = em.input(node, 0, at);
    const step = em.bind(mul(nextBuf, em.input(node, 3, [])));
    const nextW = sub(w, step);
    return [nextBuf, ok ? sel(ok, nextW, w) : nextW];
  });
};

export const SGD_KERNELS: KernelTable<OpNameOf<typeof SGD_OPS>> = {
  sgd_update: { schedule: scheduleSgdUpdate },
};
