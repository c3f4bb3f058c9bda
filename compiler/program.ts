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
//             then); its contents are undefined at the launch's start.
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
import { OPS } from './ops/index.js';
import { PlanValue, checkUpdates, launchOrder, planBuffers } from './plan.js';
import { scheduleGroup } from './schedule/index.js';
import { ScheduleError } from './schedule/emit.js';
import { Target } from './target.js';
import { ConcreteType, DType, bytesOf, numel } from './types.js';

export { renderC } from './render/c.js';
export { renderCuda } from './render/cuda.js';

export interface Program {
  /** Planned buffers: every graph input, param, output and temporary lives in one. */
  buffers: { id: number; bytes: number; dtype: DType; role: 'input' | 'param' | 'output' | 'temp'; name?: string; shape?: number[] }[];
  kernels: { name: string; hash: string; ir: Kernel; workgroupSize: number }[];
  /** In order. args: runtime int64 scalars (shapes that vary); grid: number of workgroups (1-D, flattened). */
  launches: { kernel: number; buffers: number[]; args: number[]; grid: number }[];
  inputs: Record<string, number>; outputs: Record<string, number>; params: Record<string, number>; // name → buffer id
  /** Params each run overwrites in place (Graph.updates), name → buffer id (the same id as in params). */
  updates?: Record<string, number>;
  /** Planner result: buffers[i] may share memory when their lifetimes do not overlap. */
  peakBytes: number;
  /** Per launch, what the fusion report prints (not needed to run). */
  report?: ProgramReport;
}

export interface LaunchReport { ops: string[]; bytesRead: number; bytesWritten: number; flops: number }
export interface ProgramReport { kernelsBefore: number; launches: LaunchReport[]; unsharedTempBytes: number }

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

const sizeOf = (t: ConcreteType): number => numel(t.shape) * bytesOf(t.dtype);

function summaryName(graph: Graph, g: FusionGroup): string {
  const ops = g.nodes.map((n) => graph.nodes[n].op);
  const anchor = graph.nodes[g.anchor].op;
  const rest = ops.filter((o) => o !== anchor);
  return [anchor, ...new Set(rest)].join('_').replace(/[^A-Za-z0-9_]/g, '').slice(0, 40);
}

/**
 * Compiles `graph` for `target` (a runtime's own: Runtime.target; compiler/
 * target.ts for one without a runtime). The result depends on the arguments only.
 */
export function compileGraph(graph: Graph, target: Target, opts: CompileOptions = {}): Program {
  return compileForTarget(graph, target, opts);
}

function compileForTarget(graph: Graph, target: Target, opts: CompileOptions): Program {
  const groups = fuse(graph, { fuse: opts.fuse ?? true, maxStorageBuffers: target.maxStorageBuffers });
  // FUSEDET_DEBUG=3 (STYLE.md): the fusion groups.
  if ((opts.debug ?? 0) >= 3) {
    for (const g of groups) {
      const ops = g.nodes.map((n) => `${graph.nodes[n].op}#${n}`).join(' + ');
      process.stderr.write(`fuse: [${graph.nodes[g.anchor].op}] ${ops}${graph.nodes[g.sink].scope ? `  (${graph.nodes[g.sink].scope})` : ''}\n`);
    }
  }
  const aliases = checkUpdates(graph, groups);
  const kernels: Program['kernels'] = [];
  const byHash = new Map<string, number>();
  const launches: { kernel: number; values: number[]; args: number[]; grid: number }[] = [];
  const reports: LaunchReport[] = [];
  // Workspace (Scheduled.scratch): each scratch buffer is a value of its own, numbered past the graph's, live in its launch only.
  const scratch = new Map<number, { bytes: number; dtype: DType }>();
  for (const g of launchOrder(graph, groups, aliases).map((i) => groups[i])) {
    const s = scheduleGroup(graph, g, target);
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
    const work = (s.scratch ?? []).map((w) => { const id = graph.values.length + scratch.size; scratch.set(id, w); return id; });
    launches.push({ kernel: ki, values: [...s.bufValues, ...work], args: s.args, grid: s.grid });
    let bytesRead = 0, bytesWritten = 0, flops = 0;
    s.bufValues.forEach((v, i) => {
      const bytes = sizeOf(graph.values[v].type);
      if (s.kernel.bufs[i].access !== 'w') bytesRead += bytes;
      if (s.kernel.bufs[i].access !== 'r') bytesWritten += bytes;
    });
    for (const n of g.nodes) {
      const node = graph.nodes[n];
      const def = OPS[node.op];
      if (def) flops += def.flops(node.inputs.map((v) => (v < 0 ? undefined : graph.values[v].type)), node.outputs.map((v) => graph.values[v].type), node.attrs);
    }
    reports.push({ ops: g.nodes.map((n) => graph.nodes[n].op), bytesRead, bytesWritten, flops });
  }

  // Liveness over launches.
  const def = new Map<number, number>(), lastUse = new Map<number, number>();
  launches.forEach((l, li) => {
    const k = kernels[l.kernel].ir;
    l.values.forEach((v, i) => {
      if (k.bufs[i].access === 'r') lastUse.set(v, li);
      else if (!def.has(v)) def.set(v, li);
      else lastUse.set(v, li);
    });
  });
  const inputs = new Map(graph.inputs.map((i) => [i.value, i.name]));
  const params = new Map(graph.params.map((p) => [p.value, p.name]));
  // An output that is also an in-place update is read from its param's buffer.
  const stored = (v: number): number => aliases.get(v) ?? v;
  const outputs = new Map<number, string>();
  for (const o of graph.outputs) if (!outputs.has(o.value) && !aliases.has(o.value)) outputs.set(o.value, o.name);
  const used = new Set<number>([...inputs.keys(), ...params.keys(), ...outputs.keys(), ...def.keys(), ...lastUse.keys()]);
  const planValues: PlanValue[] = [...used].sort((a, b) => a - b).map((v) => {
    const w = scratch.get(v);
    if (w) return { value: v, bytes: w.bytes, dtype: w.dtype, role: 'temp', def: def.get(v) ?? -1, lastUse: lastUse.get(v) ?? -1 };
    const t = graph.values[v].type;
    const role: PlanValue['role'] = inputs.has(v) ? 'input' : params.has(v) ? 'param' : outputs.has(v) ? 'output' : 'temp';
    const name = inputs.get(v) ?? params.get(v) ?? outputs.get(v);
    return { value: v, bytes: sizeOf(t), dtype: t.dtype, role, ...(name !== undefined ? { name } : {}), def: def.get(v) ?? -1, lastUse: lastUse.get(v) ?? -1 };
  });
  const plan = planBuffers(planValues, opts.reuseBuffers ?? true);
  const byName = (m: Map<number, string>): Record<string, number> => Object.fromEntries([...m].map(([v, n]) => [n, plan.bufferOf.get(v)!]));
  const outRecord: Record<string, number> = {};
  for (const o of graph.outputs) outRecord[o.name] = plan.bufferOf.get(stored(o.value))!;
  const updates = Object.fromEntries((graph.updates ?? []).map((u) => [u.param, plan.bufferOf.get(stored(u.value))!]));
  // Inputs, params and outputs keep their logical shape (optional in the contract; runtimes shape outputs with it).
  const shapes = new Map<number, number[]>();
  for (const [v, id] of plan.bufferOf) {
    const b = plan.buffers[id];
    if (b.role !== 'temp') shapes.set(id, [...graph.values[v].type.shape]);
  }
  return {
    buffers: plan.buffers.map((b) => (shapes.has(b.id) ? { ...b, shape: shapes.get(b.id)! } : b)),
    kernels,
    launches: launches.map((l) => ({ kernel: l.kernel, buffers: l.values.map((v) => plan.bufferOf.get(v)!), args: l.args, grid: l.grid })),
    inputs: byName(inputs),
    outputs: outRecord,
    params: byName(params),
    ...(graph.updates?.length ? { updates } : {}),
    peakBytes: plan.peakBytes,
    report: { kernelsBefore: unfusedKernelCount(graph), launches: reports, unsharedTempBytes: plan.unsharedTempBytes },
  };
}

// `fusedet compile --emit kernels`: what fusion did, per launch.
function human(n: number, unit: string): string {
  const k = ['', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < k.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(n < 10 && i > 0 ? 2 : n < 100 && i > 0 ? 1 : 0)} ${k[i]}${unit}`;
}

export function fusionReport(program: Program): string {
  const r = program.report;
  const lines: string[] = [];
  const before = r?.kernelsBefore ?? program.launches.length;
  lines.push(`kernels: ${before} before fusion, ${program.launches.length} launches after (${program.kernels.length} distinct kernels)`);
  lines.push(`memory: ${human(program.peakBytes, 'B')} planned in ${program.buffers.length} buffers` +
    (r ? ` (temporaries unshared: ${human(r.unsharedTempBytes, 'B')})` : ''));
  let tr = 0, tw = 0, tf = 0;
  lines.push('');
  lines.push(`${'#'.padStart(4)}  ${'kernel'.padEnd(42)} ${'read'.padStart(10)} ${'written'.padStart(10)} ${'FLOPs'.padStart(10)}  grid  fused ops`);
  program.launches.forEach((l, i) => {
    const k = program.kernels[l.kernel];
    const info = r?.launches[i];
    const read = info?.bytesRead ?? 0, written = info?.bytesWritten ?? 0, flops = info?.flops ?? 0;
    tr += read; tw += written; tf += flops;
    lines.push(`${String(i).padStart(4)}  ${k.name.padEnd(42)} ${human(read, 'B').padStart(10)} ${human(written, 'B').padStart(10)} ${human(flops, '').padStart(10)}  ${String(l.grid).padStart(4)}  ${info ? info.ops.join(' + ') : ''}`);
  });
  lines.push(`${''.padStart(4)}  ${'total'.padEnd(42)} ${human(tr, 'B').padStart(10)} ${human(tw, 'B').padStart(10)} ${human(tf, '').padStart(10)}`);
  return lines.join('\n') + '\n';
}
