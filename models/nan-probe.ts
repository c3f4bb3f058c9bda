// After a non-finite step: find the first value of the step graph, in graph
// order (forward, loss, backward, update), that holds a NaN or an Inf, by
// running the graph node by node on the reference ops from the step's inputs
// and the state before the step. Names the op, its module scope and source
// place, so the message points at a layer rather than at "the loss".
import { Graph } from '../compiler/graph.js';
import { OPS } from '../compiler/ops/index.js';
import { withDefaults } from '../compiler/ops/attrs.js';
import { Tensor, allocData } from '../compiler/tensor.js';
import { numel } from '../compiler/types.js';

/** Above this many nodes the probe is skipped (a reference pass over a big graph takes minutes). */
const MAX_NODES = 20000;

function firstBad(t: Tensor): number {
  if (t.dtype !== 'f32' && t.dtype !== 'f16') return -1;
  for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) return i;
  return -1;
}

export function probeNonFinite(g: Graph, inputs: Record<string, Tensor>, params: Map<string, Tensor>): string | undefined {
  if (g.nodes.length > MAX_NODES) return undefined;
  const vals = new Array<Tensor | undefined>(g.values.length);
  const lastUse = new Int32Array(g.values.length).fill(-1);
  g.nodes.forEach((n, at) => { for (const v of n.inputs) if (v >= 0) lastUse[v] = at; });
  const paramOf = new Map(g.params.map((p) => [p.value, p.name]));
  for (let at = 0; at < g.nodes.length; at++) {
    const n = g.nodes[at];
    let outs: Tensor[];
    if (n.op === 'input') outs = [inputs[String(n.attrs.name)]];
    else if (n.op === 'param') outs = [params.get(paramOf.get(n.outputs[0]) ?? String(n.attrs.name))!];
    else if (n.op === 'const') {
      const type = g.values[n.outputs[0]].type;
      const data = allocData(type.dtype, numel(type.shape));
      data.fill(Number(n.attrs.value));
      outs = [{ dtype: type.dtype, shape: [...type.shape], data }];
    } else {
      const def = OPS[n.op];
      if (!def) return undefined;
      outs = def.reference(n.inputs.map((v) => (v < 0 ? undefined : vals[v])), withDefaults(def, n.attrs));
    }
    for (let k = 0; k < outs.length; k++) {
      const t = outs[k];
      if (!t) return undefined;
      const i = firstBad(t);
      if (i >= 0) {
        const what = n.op === 'input' ? `input '${String(n.attrs.name)}'` : n.op === 'param' ? `parameter '${paramOf.get(n.outputs[0])}'` : `the output of ${n.op}`;
        const place = n.span.line > 0 ? ` at ${n.span.file}:${n.span.line}:${n.span.col}` : '';
        return `${what}${n.scope ? ` in ${n.scope}` : ''}${place} (element ${i} is ${t.data[i]})`;
      }
      vals[n.outputs[k]] = t;
    }
    for (const v of n.inputs) if (v >= 0 && lastUse[v] === at) vals[v] = undefined;
  }
  return undefined;
}
