// What `fusedet compile --emit graph` reports about a lowered graph: ops by
// kind, parameter counts, FLOPs and activation memory.
import { Graph } from './graph.js';
import { OPS } from './ops/index.js';
import { OpKind } from './ops/op.js';
import { bytesOf, ConcreteType, numel } from './types.js';

export interface GraphSummary {
  nodes: number;
  opsByName: Record<string, number>;
  opsByKind: Partial<Record<OpKind, number>>;
  params: { tensors: number; trainable: number; frozen: number };
  flops: number;
  /** Bytes of every intermediate value (no inputs, no params), as if nothing were reused. */
  activationBytes: number;
  /** Largest sum of live intermediate bytes when nodes run in order and a value dies after its last use. */
  peakLiveBytes: number;
  inputs: { name: string; type: ConcreteType }[];
  outputs: { name: string; type: ConcreteType }[];
}

const sizeOf = (t: ConcreteType): number => numel(t.shape) * bytesOf(t.dtype);

export function summarize(g: Graph): GraphSummary {
  const opsByName: Record<string, number> = {};
  const opsByKind: Partial<Record<OpKind, number>> = {};
  let flops = 0;
  let activationBytes = 0;
  for (const n of g.nodes) {
    if (n.op === 'input' || n.op === 'param' || n.op === 'const') continue;
    opsByName[n.op] = (opsByName[n.op] ?? 0) + 1;
    const def = OPS[n.op];
    if (!def) throw new Error(`graph node ${n.id} uses op '${n.op}' that is not in the op set`);
    opsByKind[def.kind] = (opsByKind[def.kind] ?? 0) + 1;
    const ins = n.inputs.map((v) => (v < 0 ? undefined : g.values[v].type));
    const outs = n.outputs.map((v) => g.values[v].type);
    flops += def.flops(ins, outs, n.attrs);
    for (const t of outs) activationBytes += sizeOf(t);
  }

  let trainable = 0, frozen = 0;
  for (const p of g.params) {
    const n = numel(g.values[p.value].type.shape);
    if (p.frozen) frozen += n; else trainable += n;
  }

  return {
    nodes: g.nodes.length,
    opsByName, opsByKind,
    params: { tensors: g.params.length, trainable, frozen },
    flops, activationBytes,
    peakLiveBytes: peakLive(g),
    inputs: g.inputs.map((i) => ({ name: i.name, type: g.values[i.value].type })),
    outputs: g.outputs.map((o) => ({ name: o.name, type: g.values[o.value].type })),
  };
}

/** Liveness over the node order: outputs stay live to the end. */
function peakLive(g: Graph): number {
  const lastUse = new Map<number, number>();
  g.nodes.forEach((n) => n.inputs.forEach((v) => v >= 0 && lastUse.set(v, n.id)));
  for (const o of g.outputs) lastUse.set(o.value, Infinity);
  const isActivation = (v: number): boolean => {
    const op = g.nodes[g.values[v].node].op;
    return op !== 'input' && op !== 'param' && op !== 'const';
  };
  let live = 0, peak = 0;
  for (const n of g.nodes) {
    for (const v of n.outputs) if (isActivation(v)) live += sizeOf(g.values[v].type);
    peak = Math.max(peak, live);
    for (const v of new Set(n.inputs)) if (v >= 0 && isActivation(v) && lastUse.get(v) === n.id) live -= sizeOf(g.values[v].type);
    // An output nobody reads dies at once (after being produced).
    for (const v of n.outputs) if (isActivation(v) && !lastUse.has(v)) live -= sizeOf(g.values[v].type);
  }
  return peak;
}

export function formatBytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${b.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}
