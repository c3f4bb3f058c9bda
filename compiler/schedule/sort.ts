import { Graph } from '../graph.js';
import { Lowering, ScheduleError } from './emit.js';
import { Scheduled } from './pointwise.js';
export function scheduleSort(_g: Graph, _n: ReadonlySet<number>, anchor: number, _s: number, _l: Readonly<Record<string, Lowering>>): Scheduled {
  throw new ScheduleError(`sort node ${anchor}: not scheduled yet`);
}
