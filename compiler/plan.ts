// Liveness-based buffer planning. Graph inputs, params and outputs get a
// buffer each for the whole program; a temporary takes a free buffer of its
// dtype (best fit, growing it when needed) from the first launch that
// writes it to the last that reads it, so a buffer id names a slot that
// several temporaries share over time.
//
// In-place updates (Graph.updates) are planned into their param's buffer:
// the kernel emitter binds an update value as its param
// (schedule/emit.ts updateAliases), and the launches are ordered so that the
// one storing it comes after every other launch that reads the param's old
// value (the backward convs read the weights: a dependency the graph's edges
// do not state).
import { Graph } from './graph.js';
import { FusionGroup, kindOf } from './fuse.js';
import { ScheduleError } from './schedule/emit.js';
import { DType } from './types.js';

export interface PlanValue {
  /** Graph value id, or a workspace buffer's id past the graph's (program.ts: a temp with def = its launch, never read after). */
  value: number;
  bytes: number;
  dtype: DType;
  role: 'input' | 'param' | 'output' | 'temp' | 'derived';
  name?: string;
  /** Launch index that writes it (-1 for inputs and params). */
  def: number;
  /** Last launch index that reads it (-1 when never read). */
  lastUse: number;
}

export interface PlannedBuffer { id: number; bytes: number; dtype: DType; role: PlanValue['role']; name?: string }

export interface BufferPlan {
  buffers: PlannedBuffer[];
  /** Graph value id → buffer id. */
  bufferOf: Map<number, number>;
  /** Sum of all buffer sizes: what a runtime allocating each buffer once holds. */
  peakBytes: number;
  /** Bytes of temporaries if none were shared (for reports). */
  unsharedTempBytes: number;
}

export function planBuffers(values: readonly PlanValue[], reuse = true): BufferPlan {
  const buffers: PlannedBuffer[] = [];
  const bufferOf = new Map<number, number>();
  for (const v of values) {
    if (v.role === 'temp') continue;
    const b: PlannedBuffer = { id: buffers.length, bytes: v.bytes, dtype: v.dtype, role: v.role, ...(v.name !== undefined ? { name: v.name } : {}) };
    buffers.push(b);
    bufferOf.set(v.value, b.id);
  }
  const temps = values.filter((v) => v.role === 'temp').sort((a, b) => a.def - b.def || b.bytes - a.bytes);
  /** Buffer id → launch index after which it is free. */
  const busyUntil = new Map<number, number>();
  let unsharedTempBytes = 0;
  for (const t of temps) {
    unsharedTempBytes += t.bytes;
    const end = Math.max(t.def, t.lastUse);
    let best: PlannedBuffer | undefined;
    if (reuse) {
      for (const b of buffers) {
        if (b.role !== 'temp' || b.dtype !== t.dtype || busyUntil.get(b.id)! >= t.def) continue;
        // Best fit: the smallest buffer that holds it, else the largest to grow.
        if (!best) { best = b; continue; }
        const fits = b.bytes >= t.bytes, bestFits = best.bytes >= t.bytes;
        if ((fits && (!bestFits || b.bytes < best.bytes)) || (!fits && !bestFits && b.bytes > best.bytes)) best = b;
      }
    }
    if (!best) {
      best = { id: buffers.length, bytes: t.bytes, dtype: t.dtype, role: 'temp' };
      buffers.push(best);
    }
    best.bytes = Math.max(best.bytes, t.bytes);
    busyUntil.set(best.id, end);
    bufferOf.set(t.value, best.id);
  }
  return { buffers, bufferOf, peakBytes: buffers.reduce((s, b) => s + b.bytes, 0), unsharedTempBytes };
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const SOURCE_OPS = new Set(['input', 'param', 'const']);

/**
 * Checks the graph's in-place updates against its params and the fusion
 * groups: each names a param once, has its type, is computed by the graph,
 * and the kernel storing it reads that param only elementwise (every node of
 * its group elementwise or broadcast at the param's shape), so a thread
 * reads p[i] before writing p[i] and no other element. Returns update value → param value.
 */
export function checkUpdates(graph: Graph, groups: readonly FusionGroup[]): Map<number, number> {
  const aliases = new Map<number, number>();
  const paramValue = new Map(graph.params.map((p) => [p.name, p.value]));
  const seen = new Set<string>();
  for (const u of graph.updates ?? []) {
    const p = paramValue.get(u.param);
    if (p === undefined) throw new ScheduleError(`in-place update of '${u.param}': the graph has no such param`);
    if (seen.has(u.param)) throw new ScheduleError(`param '${u.param}' is updated in place twice`);
    seen.add(u.param);
    if (aliases.has(u.value)) throw new ScheduleError(`value ${u.value} is the in-place update of two params ('${graph.params.find((q) => q.value === aliases.get(u.value))!.name}' and '${u.param}')`);
    const tp = graph.values[p].type, tv = graph.values[u.value].type;
    if (tp.dtype !== tv.dtype || !sameShape(tp.shape, tv.shape)) {
      throw new ScheduleError(`in-place update of '${u.param}': ${tv.dtype}[${tv.shape.join(', ')}] does not fit the param's ${tp.dtype}[${tp.shape.join(', ')}]`);
    }
    if (SOURCE_OPS.has(graph.nodes[graph.values[u.value].node].op)) throw new ScheduleError(`in-place update of '${u.param}' must be computed by the graph, not be an input, param or constant`);
    aliases.set(u.value, p);
  }
  if (aliases.size === 0) return aliases;
  for (const g of groups) {
    const writes = graph.nodes[g.sink].outputs.filter((v) => aliases.has(v));
    for (const v of writes) {
      const p = aliases.get(v)!;
      const reads = g.nodes.some((n) => graph.nodes[n].inputs.includes(p));
      if (!reads) continue; // it only writes the buffer: any schedule will do
      const shape = graph.values[p].type.shape;
      const bad = g.nodes.find((n) => !['elementwise', 'broadcast'].includes(kindOf(graph, n)) || !sameShape(graph.values[graph.nodes[n].outputs[0]].type.shape, shape));
      if (bad !== undefined) {
        throw new ScheduleError(`in-place update of '${graph.params.find((q) => q.value === p)!.name}' reads the param in a kernel that is not elementwise at its shape (op '${graph.nodes[bad].op}', node ${bad}): it could read an element already overwritten`);
      }
    }
  }
  return aliases;
}

/**
 * An order of the groups (indices) where every group comes after the groups
 * producing what it reads, and the group storing an in-place update after
 * every other group that reads the param's old value. Among the groups
 * ready to run, one reading a param that the group just placed read comes
 * next (weight locality: a detector head's tower applies each conv's
 * weights to every pyramid level, and running one conv on all levels in a
 * row reads its 2.4 MB of weights from cache instead of from memory five
 * times); otherwise the earliest in fusion order (by sink), so a graph
 * without shared weights keeps the fusion order where it is one. Throws
 * when no order exists (a kernel reading both the old and the new value of
 * a param).
 */
export function launchOrder(graph: Graph, groups: readonly FusionGroup[], aliases: ReadonlyMap<number, number>): number[] {
  const identity = groups.map((_, i) => i);
  const params = new Set(graph.params.map((p) => p.value));
  const paramsRead = groups.map((g) => {
    const read = new Set<number>();
    for (const n of g.nodes) for (const v of graph.nodes[n].inputs) if (v >= 0 && params.has(v)) read.add(v);
    return read;
  });
  const readers = new Map<number, number>();
  for (const read of paramsRead) for (const p of read) readers.set(p, (readers.get(p) ?? 0) + 1);
  const sharing = [...readers.values()].some((n) => n > 1);
  if (aliases.size === 0 && !sharing) return identity;
  const groupOfNode = new Map<number, number>();
  groups.forEach((g, i) => { for (const n of g.nodes) groupOfNode.set(n, i); });
  const writerOf = new Map<number, number>(); // param value → group storing its update
  for (const [v, p] of aliases) writerOf.set(p, groupOfNode.get(graph.values[v].node)!);
  const before = groups.map(() => new Set<number>()); // before[i]: groups that must run before group i
  groups.forEach((g, i) => {
    const members = new Set(g.nodes);
    for (const n of g.nodes) {
      for (const v of graph.nodes[n].inputs) {
        if (v < 0) continue;
        const src = graph.values[v].node;
        if (members.has(src)) continue;
        const producer = groupOfNode.get(src);
        if (producer !== undefined && producer !== i) before[i].add(producer);
        const writer = writerOf.get(v);
        if (writer !== undefined && writer !== i) before[writer].add(i);
      }
    }
  });
  if (!sharing && before.every((s, i) => [...s].every((j) => j < i))) return identity;
  const waiting = before.map((s) => s.size);
  const next: number[][] = groups.map(() => []);
  before.forEach((s, i) => { for (const j of s) next[j].push(i); });
  const ready = identity.filter((i) => waiting[i] === 0); // sorted: the earliest group in fusion order first
  const order: number[] = [];
  let last: ReadonlySet<number> = new Set();
  while (ready.length > 0) {
    let at = 0;
    if (last.size > 0) {
      const shares = ready.findIndex((r) => [...paramsRead[r]].some((p) => last.has(p)));
      if (shares >= 0) at = shares;
    }
    const i = ready.splice(at, 1)[0];
    order.push(i);
    if (paramsRead[i].size > 0) last = paramsRead[i];
    for (const k of next[i]) {
      if (--waiting[k] !== 0) continue;
      let lo = 0, hi = ready.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (ready[mid] < k) lo = mid + 1; else hi = mid; }
      ready.splice(lo, 0, k);
    }
  }
  if (order.length !== groups.length) {
    const stuck = identity.filter((i) => waiting[i] > 0).map((i) => `${graph.nodes[groups[i].sink].op}#${groups[i].sink}`);
    throw new ScheduleError(`cannot order the in-place updates: a kernel reads both the old and the new value of a param (kernels in the cycle: ${stuck.slice(0, 6).join(', ')})`);
  }
  return order;
}
