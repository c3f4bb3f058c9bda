// The Program: what every runtime loads. Contract with the runtimes (issue 4):
//
//   buffers   planned buffers; every graph input, param, output and temporary
//             lives in one. A temp buffer is a slot that several temporaries
//             with disjoint lifetimes share, so bytes is the largest of them.
//   kernels   { name, hash, ir, workgroupSize }: name `k<index>_<ops>`, hash =
//             structural hash of the IR (the compile-cache key, never the name).
//   launches  in order: { kernel, buffers, args, grid }; buffers[i] is the
//             kernel's i-th buffer parameter, args are int64 scalars, grid the
//             number of workgroups (1-D).
//   inputs / outputs / params: name → buffer id.
//   updates   (optional) param name → buffer id, for params a run overwrites
//             in place (Graph.updates: a training step's weights and
//             momentum). No extra mechanism for a runtime: a launch simply
//             writes that param buffer. The compiler guarantees that launch
//             comes after every other launch reading the param's old value,
//             binds the buffer once ('rw' when it also reads it) and reads
//             it only at the element it writes; launches after it that read
//             the param see the new value. setParams/getParam see the
//             buffer's current contents, so after run() getParam returns the
//             updated value. Such a param is not also an output: nothing
//             big comes back to the host.
//   peakBytes the planner's total: the sum of all buffer sizes.
//   workspace a schedule's per-launch scratch (Scheduled.scratch) is one more
//             temp buffer in that launch's list, after the graph values'
//             buffers, planned like a temporary written and last used by
//             that launch (so it shares memory only with buffers not live
//             then); its contents are undefined at the launch's start. The
//             launches of one group may share one (a `shared` key): it is
//             then live from the first of them to the last.
//   prologue  (optional) the first `prologue` launches read only params (and
//             what launches before them wrote) and write only 'derived'
//             buffers: weights transformed for a schedule (a Winograd filter
//             transform), a function of the params alone. Derived buffers are
//             never shared with temporaries, so their contents outlive the
//             run: a runtime may skip the prologue on a run when no param
//             changed since it last ran (setParams), and running it every
//             time is equally correct. Absent when a run updates params in
//             place (Graph.updates: a training step), where every run
//             would have to recompute them anyway.
//   (extra, optional) buffers[i].shape for inputs, params and outputs; report
//   for `fusedet compile --emit kernels`.
//
// Rendered C ABI of each kernel (renderC, one translation unit):
//   void <name>(void* const* bufs, const int64_t* args, int64_t wg_begin, int64_t wg_end);
// runs workgroups [wg_begin, wg_end) of a launch; the workgroup's threads are
// a loop inside, workgroup memory a local array. renderCuda gives one .cu with
// `extern "C" __global__ void <name>(T* B0, ..., long long A0, ...)` (buffers
// in the launch's order, then its args), blockIdx.x = workgroup,
// threadIdx.x = thread, workgroup memory __shared__.
// The batch size never enters a kernel's structure (hash): only args and grid.
import { Graph } from './graph.js';
import { FusionGroup, fuse, unfusedKernelCount } from './fuse.js';
import { Kernel } from './kernel/ir.js';
import { kernelHash } from './kernel/hash.js';
import { validateKernel } from './kernel/validate.js';
import { kernelPasses } from './kernel/passes.js';
import { LaunchReport, ProgramReport, launchReport, printFusionGroups, sizeOf } from './report.js';
import { PlanValue, checkUpdates, launchOrder, planBuffers } from './plan.js';
import { scheduleGroup } from './schedule/index.js';
import { ScheduleError } from './schedule/emit.js';
import { Target } from './target.js';
import { DType } from './types.js';

export { renderC } from './render/c.js';
export { renderCuda } from './render/cuda.js';

export interface Program {
  /** Planned buffers: every graph input, param, output and temporary lives in one. */
  buffers: { id: number; bytes: number; dtype: DType; role: 'input' | 'param' | 'output' | 'temp' | 'derived'; name?: string; shape?: number[] }[];
  kernels: { name: string; hash: string; ir: Kernel; workgroupSize: number }[];
  /** In order. args: runtime int64 scalars (shapes that vary); grid: number of workgroups (1-D, flattened). */
  launches: { kernel: number; buffers: number[]; args: number[]; grid: number }[];
  inputs: Record<string, number>; outputs: Record<string, number>; params: Record<string, number>; // name → buffer id
  /** Params each run overwrites in place (Graph.updates), name → buffer id (the same id as in params). */
  updates?: Record<string, number>;
  /** Leading launches computing 'derived' buffers from the params only: skippable while the params stay as they were (file comment). */
  prologue?: number;
  /** Planner result: buffers[i] may share memory when their lifetimes do not overlap. */
  peakBytes: number;
  /** Per launch, what the fusion report prints (not needed to run). */
  report?: ProgramReport;
}

export type { LaunchReport, ProgramReport } from './report.js';
export { fusionReport } from './report.js';

export interface CompileOptions {
  fuse?: boolean;
  /** Let temporaries share buffers (default true). */
  reuseBuffers?: boolean;
  /**
   * FUSEDET_DEBUG as the edge read it (runtime/compile-options.ts): 3 and up
   * print the fusion groups to stderr. The compiler never reads the environment.
   */
  debug?: number;
}

function summaryName(graph: Graph, g: FusionGroup): string {
  const ops = g.nodes.map((n) => graph.nodes[n].op);
  const anchor = graph.nodes[g.anchor].op;
  const rest = ops.filter((o) => o !== anchor);
  return [anchor, ...new Set(rest)].join('_').replace(/[^A-Za-z0-9_]/g, '').slice(0, 40);
}

/**
 * Compiles `graph` for `target` (a runtime's own: Runtime.target; compiler/
 * target.ts for one without a runtime). The result depends on the arguments
 * only. Three steps: schedule the fusion groups in launch order, plan the
 * buffers from the launches' liveness, assemble the Program.
 */
export function compileGraph(graph: Graph, target: Target, opts: CompileOptions = {}): Program {
  const groups = fuse(graph, { fuse: opts.fuse ?? true, maxStorageBuffers: target.maxStorageBuffers });
  if ((opts.debug ?? 0) >= 3) printFusionGroups(graph, groups);
  const aliases = checkUpdates(graph, groups);
  const scheduled = hoistParamLaunches(graph, scheduleGroups(graph, groups, aliases, target));
  const plan = planProgramBuffers(graph, scheduled, aliases, opts.reuseBuffers ?? true);
  return assemble(graph, scheduled, plan, aliases);
}

interface ScheduledLaunch { kernel: number; values: number[]; args: number[]; grid: number }
interface ScheduledGroups {
  kernels: Program['kernels'];
  launches: ScheduledLaunch[];
  reports: LaunchReport[];
  /** Workspace (Scheduled.scratch): each scratch buffer is a value of its own, numbered past the graph's, live in its launch only (or across the launches sharing it). */
  scratch: Map<number, { bytes: number; dtype: DType }>;
  /** Launches [0, prologue) are the hoisted param-only launches; `derived` the values they write. */
  prologue: number;
  derived: Set<number>;
}

/** Each group's kernels (after the target's IR passes, validated, deduplicated by structural hash) and launches, in launch order. */
function scheduleGroups(graph: Graph, groups: readonly FusionGroup[], aliases: ReadonlyMap<number, number>, target: Target): ScheduledGroups {
  const kernels: Program['kernels'] = [];
  const byHash = new Map<string, number>();
  const launches: ScheduledLaunch[] = [];
  const reports: LaunchReport[] = [];
  const scratch = new Map<number, { bytes: number; dtype: DType }>();
  for (const g of launchOrder(graph, groups, aliases).map((i) => groups[i])) {
    const shared = new Map<string, number>();
    for (const s of scheduleGroup(graph, g, target)) {
      const unbound = s.bufValues.find((v) => aliases.has(v));
      if (unbound !== undefined) throw new ScheduleError(`the ${graph.nodes[g.anchor].op} schedule binds in-place update value ${unbound} as a buffer of its own instead of its param's (schedule/emit.ts Emitter.buf)`);
      const name = `k${kernels.length}_${summaryName(graph, g)}`;
      const ir: Kernel = kernelPasses({ name, ...s.kernel }, target);
      validateKernel(ir);
      const hash = kernelHash(ir);
      let ki = byHash.get(hash);
      if (ki === undefined) {
        ki = kernels.length;
        kernels.push({ name, hash, ir, workgroupSize: ir.workgroupSize });
        byHash.set(hash, ki);
      }
      const work = (s.scratch ?? []).map((w) => {
        const known = w.shared === undefined ? undefined : shared.get(w.shared);
        if (known !== undefined) {
          const k = scratch.get(known)!;
          if (k.bytes !== w.bytes || k.dtype !== w.dtype) throw new ScheduleError(`the ${graph.nodes[g.anchor].op} schedule's launches disagree on workspace '${w.shared}'`);
          return known;
        }
        const id = graph.values.length + scratch.size;
        scratch.set(id, { bytes: w.bytes, dtype: w.dtype });
        if (w.shared !== undefined) shared.set(w.shared, id);
        return id;
      });
      launches.push({ kernel: ki, values: [...s.bufValues, ...work], args: s.args, grid: s.grid });
      const report = launchReport(graph, g, s.bufValues, s.kernel.bufs);
      reports.push(s.flops === undefined ? report : { ...report, flops: s.flops });
    }
  }
  return { kernels, launches, reports, scratch, prologue: 0, derived: new Set() };
}

/**
 * Moves the launches whose results depend on the params alone to the front
 * (Program.prologue): each reads only params and values such launches wrote,
 * and writes only workspaces or temporaries that no other launch writes.
 * Two such launches of the same kernel, grid and args on the same inputs
 * compute the same values (a filter transform of weights that several
 * convolutions share, as a detector head's levels do): the second is dropped
 * and its readers read the first one's results. Programs that update params
 * in place get no prologue.
 */
function hoistParamLaunches(graph: Graph, s: ScheduledGroups): ScheduledGroups {
  if (graph.updates?.length) return s;
  const outputs = new Set(graph.outputs.map((o) => o.value));
  const fixed = new Set([...graph.params.map((p) => p.value), ...graph.inputs.map((i) => i.value), ...outputs]);
  const accessOf = (l: ScheduledLaunch): ('r' | 'w' | 'rw')[] => l.values.map((_, i) => s.kernels[l.kernel].ir.bufs[i].access);
  const writers = new Map<number, number>();
  s.launches.forEach((l) => accessOf(l).forEach((a, i) => { if (a !== 'r') writers.set(l.values[i], (writers.get(l.values[i]) ?? 0) + 1); }));
  const derivedFrom = new Set(graph.params.map((p) => p.value));
  const hoisted: number[] = [];
  const rest: number[] = [];
  const seen = new Map<string, number[]>(); // launch key → the written values of the first such launch
  const renamed = new Map<number, number>();
  s.launches.forEach((l, li) => {
    const access = accessOf(l);
    const values = l.values.map((v) => renamed.get(v) ?? v);
    const reads = values.filter((_, i) => access[i] !== 'w'), writes = values.filter((_, i) => access[i] !== 'r');
    const paramOnly = writes.length > 0 && reads.every((v) => derivedFrom.has(v)) && writes.every((v) => !fixed.has(v) && writers.get(v) === 1);
    l.values = values;
    if (!paramOnly) { rest.push(li); return; }
    const key = JSON.stringify([l.kernel, l.grid, l.args, values.map((v, i) => (access[i] === 'r' ? v : -1))]);
    const first = seen.get(key);
    if (first && writes.every((v, i) => sizeOfValue(graph, s, v) === sizeOfValue(graph, s, first[i]))) {
      writes.forEach((v, i) => renamed.set(v, first[i]));
      return;
    }
    seen.set(key, writes);
    writes.forEach((v) => { derivedFrom.add(v); s.derived.add(v); });
    hoisted.push(li);
  });
  if (hoisted.length === 0) return s;
  const order = [...hoisted, ...rest];
  return { ...s, launches: order.map((i) => s.launches[i]), reports: order.map((i) => s.reports[i]), prologue: hoisted.length };
}

function sizeOfValue(graph: Graph, s: ScheduledGroups, v: number): number {
  return s.scratch.get(v)?.bytes ?? sizeOf(graph.values[v].type);
}

/** Names of the graph's inputs, params and outputs by value (an output that is an in-place update lives in its param's buffer). */
function namedValues(graph: Graph, aliases: ReadonlyMap<number, number>): { inputs: Map<number, string>; params: Map<number, string>; outputs: Map<number, string> } {
  const inputs = new Map(graph.inputs.map((i) => [i.value, i.name]));
  const params = new Map(graph.params.map((p) => [p.value, p.name]));
  const outputs = new Map<number, string>();
  for (const o of graph.outputs) if (!outputs.has(o.value) && !aliases.has(o.value)) outputs.set(o.value, o.name);
  return { inputs, params, outputs };
}

/** Liveness over the launches (first write, last use), then the buffer plan. */
function planProgramBuffers(graph: Graph, { kernels, launches, scratch, derived }: ScheduledGroups, aliases: ReadonlyMap<number, number>, reuse: boolean): ReturnType<typeof planBuffers> {
  const def = new Map<number, number>(), lastUse = new Map<number, number>();
  launches.forEach((l, li) => {
    const k = kernels[l.kernel].ir;
    l.values.forEach((v, i) => {
      if (k.bufs[i].access === 'r') lastUse.set(v, li);
      else if (!def.has(v)) def.set(v, li);
      else lastUse.set(v, li);
    });
  });
  const { inputs, params, outputs } = namedValues(graph, aliases);
  const used = new Set<number>([...inputs.keys(), ...params.keys(), ...outputs.keys(), ...def.keys(), ...lastUse.keys()]);
  const planValues: PlanValue[] = [...used].sort((a, b) => a - b).map((v) => {
    const w = scratch.get(v);
    // A derived value outlives the run (Program.prologue): a buffer of its own, like a param's.
    if (w) return { value: v, bytes: w.bytes, dtype: w.dtype, role: derived.has(v) ? 'derived' : 'temp', def: def.get(v) ?? -1, lastUse: lastUse.get(v) ?? -1 };
    const t = graph.values[v].type;
    const role: PlanValue['role'] = inputs.has(v) ? 'input' : params.has(v) ? 'param' : outputs.has(v) ? 'output' : derived.has(v) ? 'derived' : 'temp';
    const name = inputs.get(v) ?? params.get(v) ?? outputs.get(v);
    return { value: v, bytes: sizeOf(t), dtype: t.dtype, role, ...(name !== undefined ? { name } : {}), def: def.get(v) ?? -1, lastUse: lastUse.get(v) ?? -1 };
  });
  return planBuffers(planValues, reuse);
}

/** The Program: planned buffers (inputs, params and outputs keep their logical shape), kernels, launches on buffer ids, names, report. */
function assemble(graph: Graph, { kernels, launches, reports, prologue }: ScheduledGroups, plan: ReturnType<typeof planBuffers>, aliases: ReadonlyMap<number, number>): Program {
  const { inputs, params } = namedValues(graph, aliases);
  const stored = (v: number): number => aliases.get(v) ?? v;
  const byName = (m: Map<number, string>): Record<string, number> => Object.fromEntries([...m].map(([v, n]) => [n, plan.bufferOf.get(v)!]));
  const outRecord: Record<string, number> = {};
  for (const o of graph.outputs) outRecord[o.name] = plan.bufferOf.get(stored(o.value))!;
  const updates = Object.fromEntries((graph.updates ?? []).map((u) => [u.param, plan.bufferOf.get(stored(u.value))!]));
  const shapes = new Map<number, number[]>();
  for (const [v, id] of plan.bufferOf) {
    const b = plan.buffers[id];
    if (b.role === 'input' || b.role === 'param' || b.role === 'output') shapes.set(id, [...graph.values[v].type.shape]);
  }
  return {
    buffers: plan.buffers.map((b) => (shapes.has(b.id) ? { ...b, shape: shapes.get(b.id)! } : b)),
    kernels,
    launches: launches.map((l) => ({ kernel: l.kernel, buffers: l.values.map((v) => plan.bufferOf.get(v)!), args: l.args, grid: l.grid })),
    inputs: byName(inputs),
    outputs: outRecord,
    params: byName(params),
    ...(graph.updates?.length ? { updates } : {}),
    ...(prologue > 0 ? { prologue } : {}),
    peakBytes: plan.peakBytes,
    report: { kernelsBefore: unfusedKernelCount(graph), launches: reports, unsharedTempBytes: plan.unsharedTempBytes },
  };
}
