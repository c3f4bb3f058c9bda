// What fusion did, per launch: the numbers compileGraph records
// (Program.report) and the table `fusedet compile --emit kernels` prints.
import type { Graph } from './graph.js';
import type { FusionGroup } from './fuse.js';
import { OPS } from './ops/index.js';
import type { Kernel } from './kernel/ir.js';
import { ConcreteType, bytesOf, numel } from './types.js';
import type { Program } from './program.js';

export interface LaunchReport { ops: string[]; bytesRead: number; bytesWritten: number; flops: number }
export interface ProgramReport { kernelsBefore: number; launches: LaunchReport[]; unsharedTempBytes: number }

export const sizeOf = (t: ConcreteType): number => numel(t.shape) * bytesOf(t.dtype);

/** Bytes the launch of group g reads and writes through its graph-value buffers, and its ops' FLOPs. */
export function launchReport(graph: Graph, g: FusionGroup, bufValues: readonly number[], bufs: Kernel['bufs']): LaunchReport {
  let bytesRead = 0, bytesWritten = 0, flops = 0;
  bufValues.forEach((v, i) => {
    const bytes = sizeOf(graph.values[v].type);
    if (bufs[i].access !== 'w') bytesRead += bytes;
    if (bufs[i].access !== 'r') bytesWritten += bytes;
  });
  for (const n of g.nodes) {
    const node = graph.nodes[n];
    const def = OPS[node.op];
    if (def) flops += def.flops(node.inputs.map((v) => (v < 0 ? undefined : graph.values[v].type)), node.outputs.map((v) => graph.values[v].type), node.attrs);
  }
  return { ops: g.nodes.map((n) => graph.nodes[n].op), bytesRead, bytesWritten, flops };
}

/** FUSEDET_DEBUG=3 (STYLE.md): the fusion groups, one line each, to stderr. */
export function printFusionGroups(graph: Graph, groups: readonly FusionGroup[]): void {
  for (const g of groups) {
    const ops = g.nodes.map((n) => `${graph.nodes[n].op}#${n}`).join(' + ');
    process.stderr.write(`fuse: [${graph.nodes[g.anchor].op}] ${ops}${graph.nodes[g.sink].scope ? `  (${graph.nodes[g.sink].scope})` : ''}\n`);
  }
}

function human(n: number, unit: string): string {
  const k = ['', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < k.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(n < 10 && i > 0 ? 2 : n < 100 && i > 0 ? 1 : 0)} ${k[i]}${unit}`;
}

/** `fusedet compile --emit kernels`: kernels before and after fusion, memory, and per launch its bytes, FLOPs and fused ops. */
export function fusionReport(program: Program): string {
  const r = program.report;
  const lines: string[] = [];
  const before = r?.kernelsBefore ?? program.launches.length;
  lines.push(`kernels: ${before} before fusion, ${program.launches.length} launches after (${program.kernels.length} distinct kernels)`);
  lines.push(`memory: ${human(program.peakBytes, 'B')} planned in ${program.buffers.length} buffers` +
    (r ? ` (temporaries unshared: ${human(r.unsharedTempBytes, 'B')})` : ''));
  if (program.prologue) {
    const derived = program.buffers.filter((b) => b.role === 'derived').reduce((s, b) => s + b.bytes, 0);
    lines.push(`prologue: launches 0-${program.prologue - 1} compute ${human(derived, 'B')} from the params alone, again only after setParams`);
  }
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
