// From a fusion group to a kernel: pick the schedule from the anchor's op
// (how it computes), build it with the op lowering table.
import { Graph } from '../graph.js';
import { FusionGroup } from '../fuse.js';
import type { Target } from '../target.js';
import { Lowering } from './emit.js';
import { ELEMENTWISE_LOWERINGS } from './lower-elementwise.js';
import { GATHER_LOWERINGS } from './lower-gather.js';
import { REDUCE_LOWERINGS } from './lower-reduce.js';
import { DETECT_LOWERINGS } from './lower-detect.js';
import { GRAD_LOWERINGS } from './lower-grad.js';
import { scheduleConv, scheduleMatmul } from './gemm.js';
import { scheduleConvGradInput, scheduleConvGradWeight } from './conv-grad.js';
import { scheduleGroupNorm } from './groupnorm.js';
import { scheduleSort, scheduleTopk } from './sort.js';
import { scheduleMax3d } from './max3d.js';
import { scheduleMax3dArgmax } from './max3d.js';
import { scheduleMax3dArgmaxGrad } from './max3d-argmax-grad.js';
import { scheduleMax3dGrad } from './max3d-grad.js';
import { scheduleNms } from '../ops/nms.kernel.js';
import { scheduleReduce } from './warp-reduce.js';
import { Scheduled, schedulePointwise } from './pointwise.js';

export type { Scheduled } from './pointwise.js';

export const LOWERINGS: Readonly<Record<string, Lowering>> = {
  ...ELEMENTWISE_LOWERINGS, ...GATHER_LOWERINGS, ...REDUCE_LOWERINGS, ...DETECT_LOWERINGS, ...GRAD_LOWERINGS,
};

/** A schedule builds one group's kernel for the target; schedules that do not shape their work by it may omit the parameter. */
export type GroupSchedule = (graph: Graph, nodes: ReadonlySet<number>, anchor: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target) => Scheduled;

/** Anchors with a schedule of their own; every other group is pointwise over its sink. */
const SCHEDULES: Readonly<Record<string, GroupSchedule>> = {
  conv2d: scheduleConv,
  matmul: scheduleMatmul,
  conv2d_grad_input: scheduleConvGradInput,
  conv2d_grad_weight: scheduleConvGradWeight,
  group_norm: scheduleGroupNorm,
  topk: scheduleTopk,
  sort: scheduleSort,
  max3d: scheduleMax3d,
  max3d_grad: scheduleMax3dGrad,
  max3d_argmax: scheduleMax3dArgmax,
  max3d_argmax_grad: scheduleMax3dArgmaxGrad,
  nms: scheduleNms,
  // CUDA: warp/workgroup reductions; every other target gets the pointwise schedule from it.
  sum: scheduleReduce, mean: scheduleReduce, max: scheduleReduce, min: scheduleReduce,
};

export function scheduleGroup(graph: Graph, group: FusionGroup, target: Target): Scheduled {
  const nodes = new Set(group.nodes);
  const special = SCHEDULES[graph.nodes[group.anchor].op];
  if (special) return special(graph, nodes, group.anchor, group.sink, LOWERINGS, target);
  return schedulePointwise(graph, nodes, group.sink, LOWERINGS);
}
