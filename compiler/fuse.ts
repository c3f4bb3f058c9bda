// Fusion by declared op kind (TVM's OpPatternKind), never by op name.
//
// Each group has one sink (the node whose output the kernel stores) and at
// most one anchor (a reduce, out-fusable or opaque node that sets the
// schedule). Walking the graph backwards, a node joins its only consumer's
// group when
//  - it is elementwise/broadcast/injective and the consumer evaluates its
//    inputs at arbitrary indices (elementwise, broadcast, injective, reduce):
//    a producer chain or a reduction prologue, computed inline; or
//  - it is an anchor, the group has none yet, and every node from the
//    consumer to the sink is elementwise/broadcast with the anchor's output
//    shape: an epilogue (conv + bias + BN + ReLU, mean + divide).
// An anchor's same-shape elementwise chain is reserved as its epilogue (not
// inlined into a window consumer such as a pool that would recompute it).
// Multi-output nodes, graph outputs, in-place updates (Graph.updates: stored
// into their param's buffer) and values used more than once are always
// materialised. A node none of whose outputs reaches a graph output or an
// in-place update is not launched at all (the optimizer's diagnostic
// proposals, compiler/optimizer.ts: outputs only of the diagnostic graph).
// A group stops growing before its kernel would bind more storage buffers
// than the target allows per stage (WebGPU: maxStorageBuffersPerShaderStage,
// 8 in browsers by default): the node that would take it over starts a group
// of its own. One node that alone binds more is its schedule's to split
// (max3d over a pyramid: a launch per run of levels,
// ops/max3d-launches.kernel.ts), so no runtime works around the limit.
import { Graph } from './graph.js';
import { OPS } from './ops/index.js';
import { OpKind } from './ops/op.js';
import { updateAliases } from './schedule/emit.js';

export interface FusionGroup {
  /** Nodes this kernel computes, in graph (topological) order. */
  nodes: number[];
  /** The node whose outputs the kernel stores. */
  sink: number;
  /** The node whose kind sets the schedule (the sink when nothing else does). */
  anchor: number;
}

export interface FuseOptions {
  fuse: boolean;
  /** Storage buffers one kernel may bind (Target.maxStorageBuffers); unbounded when absent. */
  maxStorageBuffers?: number;
}

const SOURCES = new Set(['input', 'param', 'const']);
const INLINE: ReadonlySet<OpKind> = new Set(['elementwise', 'broadcast', 'injective']);
const TAKES_INLINE: ReadonlySet<OpKind> = new Set(['elementwise', 'broadcast', 'injective', 'reduce']);
const EPILOGUE: ReadonlySet<OpKind> = new Set(['elementwise', 'broadcast']);
const ANCHOR: ReadonlySet<OpKind> = new Set(['reduce', 'out-fusable', 'opaque']);

export function kindOf(graph: Graph, node: number): OpKind {
  const op = graph.nodes[node].op;
  const def = OPS[op];
  if (!def) throw new Error(`graph node ${node} uses op '${op}' that is not in the op set`);
  return def.kind;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Nodes whose outputs reach a graph output or an in-place update (the graph is in topological order). */
function liveNodes(graph: Graph): Set<number> {
  const needed = new Set([...graph.outputs, ...(graph.updates ?? [])].map((o) => o.value));
  const live = new Set<number>();
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    const node = graph.nodes[id];
    if (!node.outputs.some((v) => needed.has(v))) continue;
    live.add(id);
    for (const v of node.inputs) if (v >= 0) needed.add(v);
  }
  return live;
}

export function fuse(graph: Graph, opts: FuseOptions): FusionGroup[] {
  const live = liveNodes(graph);
  const consumers = graph.values.map(() => new Set<number>());
  for (const n of graph.nodes) if (live.has(n.id)) for (const v of n.inputs) if (v >= 0) consumers[v].add(n.id);
  const outputs = new Set([...graph.outputs, ...(graph.updates ?? [])].map((o) => o.value));
  const groupOf = new Map<number, FusionGroup>();
  /** Node → is every step from it to its group's sink a same-shape epilogue step? */
  const epiloguePath = new Map<number, boolean>();
  const shapeOf = (node: number): readonly number[] => graph.values[graph.nodes[node].outputs[0]].type.shape;

  // An anchor's same-shape elementwise chain is its epilogue: its nodes are
  // kept for the anchor rather than inlined into a consumer that would
  // recompute them (a pool window reading a conv+BN+ReLU output 9 times).
  const epilogueOf = new Map<number, number>();
  if (opts.fuse) {
    for (const node of graph.nodes) {
      if (SOURCES.has(node.op) || !ANCHOR.has(kindOf(graph, node.id)) || node.outputs.length !== 1) continue;
      epilogueOf.set(node.id, node.id);
      let cur = node.id;
      for (;;) {
        const v = graph.nodes[cur].outputs[0];
        if (outputs.has(v) || consumers[v].size !== 1) break;
        const c = [...consumers[v]][0];
        if (!EPILOGUE.has(kindOf(graph, c)) || !sameShape(shapeOf(c), shapeOf(node.id))) break;
        epilogueOf.set(c, node.id);
        cur = c;
      }
    }
  }

  const limit = opts.maxStorageBuffers ?? Number.POSITIVE_INFINITY;
  // A constant is inlined where it is read, unless a graph output or an
  // opaque anchor needs it in memory (the fill kernels below): then it is a buffer.
  const constBuffer = (v: number): boolean => outputs.has(v) || [...consumers[v]].some((c) => !TAKES_INLINE.has(kindOf(graph, c)));
  const readsBuffer = (v: number): boolean => v >= 0 && (graph.nodes[graph.values[v].node].op !== 'const' || constBuffer(v));
  /** Per group, the values its kernel reads from memory; with the sink's outputs, the buffers it binds. */
  const reads = new Map<FusionGroup, Set<number>>();
  // An in-place update is stored into its param's buffer: no binding of its own when the kernel reads the param too (schedule/emit.ts Emitter.buf).
  const updateOf = updateAliases(graph);
  const bindings = (g: FusionGroup, ext: Set<number>): number =>
    ext.size + graph.nodes[g.sink].outputs.filter((v) => !ext.has(updateOf.get(v) ?? -1)).length;

  const groups: FusionGroup[] = [];
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    const node = graph.nodes[id];
    if (SOURCES.has(node.op) || !live.has(id)) continue;
    const kind = kindOf(graph, id);
    const single = node.outputs.length === 1 && !outputs.has(node.outputs[0]) && consumers[node.outputs[0]].size === 1;
    if (opts.fuse && single) {
      const c = [...consumers[node.outputs[0]]][0];
      const cg = groupOf.get(c)!;
      const ck = kindOf(graph, c);
      const joinInline = INLINE.has(kind) && TAKES_INLINE.has(ck) && (!epilogueOf.has(id) || epilogueOf.get(id) === epilogueOf.get(c));
      const joinEpilogue = ANCHOR.has(kind) && cg.anchor === cg.sink && !ANCHOR.has(kindOf(graph, cg.sink)) &&
        EPILOGUE.has(ck) && epiloguePath.get(c) === true && sameShape(shapeOf(id), shapeOf(c));
      // The node's output becomes internal; its inputs are read from memory instead.
      const ext = joinInline || joinEpilogue ? new Set(reads.get(cg)) : undefined;
      if (ext) {
        ext.delete(node.outputs[0]);
        for (const v of node.inputs) if (readsBuffer(v)) ext.add(v);
      }
      if (ext && bindings(cg, ext) <= limit) {
        reads.set(cg, ext);
        cg.nodes.push(id);
        groupOf.set(id, cg);
        if (joinEpilogue) cg.anchor = id;
        epiloguePath.set(id, joinEpilogue || (epiloguePath.get(c) === true && EPILOGUE.has(kind) && EPILOGUE.has(ck) && sameShape(shapeOf(id), shapeOf(c))));
        continue;
      }
    }
    const g: FusionGroup = { nodes: [id], sink: id, anchor: id };
    groups.push(g);
    groupOf.set(id, g);
    reads.set(g, new Set(node.inputs.filter(readsBuffer)));
    epiloguePath.set(id, true);
  }
  for (const g of groups) g.nodes.sort((a, b) => a - b);
  // Constants are inlined where they are used; one that must live in memory
  // (a graph output, or the input of an anchor that reads buffers) gets a fill kernel.
  for (const n of graph.nodes) {
    if (n.op !== 'const' || !live.has(n.id)) continue;
    const v = n.outputs[0];
    const needsBuffer = outputs.has(v) || [...consumers[v]].some((c) => {
      const g = groupOf.get(c);
      return g !== undefined && c === g.anchor && !TAKES_INLINE.has(kindOf(graph, c));
    });
    if (needsBuffer) groups.push({ nodes: [n.id], sink: n.id, anchor: n.id });
  }
  return groups.sort((a, b) => a.sink - b.sink);
}

/** Kernels an unfused compile would launch: one per op node. */
export function unfusedKernelCount(graph: Graph): number {
  return graph.nodes.filter((n) => !SOURCES.has(n.op)).length;
}
