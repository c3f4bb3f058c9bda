// From a fusion group to a kernel: the anchor's op picks the schedule (its
// kernel's `schedule`, compiler/ops/kernels.ts), or the group is pointwise
// over its sink; either way every fused op's per-element code comes from the
// same registry (LOWERINGS).
import { Graph } from '../graph.js';
import { FusionGroup } from '../fuse.js';
import type { Target } from '../target.js';
import { KERNELS, LOWERINGS } from '../ops/kernels.js';
import type { OpKernel } from '../ops/op.js';
import { Scheduled, schedulePointwise } from './pointwise.js';

export type { Scheduled } from './pointwise.js';
export type { GroupSchedule } from '../ops/op.js';
export { LOWERINGS } from '../ops/kernels.js';

/** The group's launches, in order: one kernel, or several where one would bind more storage buffers than the target allows. */
export function scheduleGroup(graph: Graph, group: FusionGroup, target: Target): readonly Scheduled[] {
  const nodes = new Set(group.nodes);
  const kernel: OpKernel | undefined = (KERNELS as Readonly<Record<string, OpKernel>>)[graph.nodes[group.anchor].op];
  if (!kernel?.schedule) return [schedulePointwise(graph, nodes, group.sink, LOWERINGS)];
  const s = kernel.schedule(graph, nodes, group.anchor, group.sink, LOWERINGS, target);
  return 'kernel' in s ? [s] : s;
}
