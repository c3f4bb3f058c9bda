// The reference interpreter: runs a graph node by node through each op's
// reference implementation. It is the numeric oracle for every backend.
import { FusedetError } from '../io/errors.js';
import { Graph, GNode } from './graph.js';
import { OPS } from './ops/index.js';
import { withDefaults } from './ops/attrs.js';
import { store, usesF64, alloc } from './ops/tensors.js';
import { Tensor } from './tensor.js';
import { ConcreteType, DType, Span, showType } from './types.js';

/** A caller's mistake (wrong input name, shape or dtype; missing parameter). */
export class InterpretError extends FusedetError {
  constructor(message: string) { super(message, { exitCode: 1 }); }
}

function sameType(t: Tensor, want: ConcreteType): boolean {
  return t.dtype === want.dtype && t.shape.length === want.shape.length && t.shape.every((d, i) => d === want.shape[i]);
}

function given(t: Tensor): string { return showType({ dtype: t.dtype, shape: t.shape }); }

function where(span: Span): string { return span.line > 0 ? ` (${span.file}:${span.line}:${span.col})` : ''; }

function checkTensor(kind: string, name: string, t: Tensor, want: ConcreteType): void {
  if (!sameType(t, want)) throw new InterpretError(`${kind} '${name}': expected ${showType(want)}, got ${given(t)}`);
  if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) {
    throw new InterpretError(`${kind} '${name}': shape ${given(t)} needs ${t.shape.reduce((a, b) => a * b, 1)} values, the data holds ${t.data.length}`);
  }
}

function runOp(node: GNode, ins: (Tensor | undefined)[], g: Graph): Tensor[] {
  const def = OPS[node.op];
  if (!def) throw new Error(`graph node ${node.id}${where(node.span)} uses op '${node.op}' that is not in the op set`);
  const outs = def.reference(ins, withDefaults(def, node.attrs));
  if (outs.length !== node.outputs.length) throw new Error(`${node.op}${where(node.span)}: reference returned ${outs.length} outputs, the graph expects ${node.outputs.length}`);
  outs.forEach((t, i) => {
    const want = g.values[node.outputs[i]].type;
    // A mismatch here is a bug in a shape rule or a reference, not the user's.
    if (!sameType(t, want)) throw new Error(`${node.op}${where(node.span)}: output ${i} is ${given(t)} but the graph says ${showType(want)}`);
  });
  return outs;
}

function constant(value: number, type: ConcreteType, f64: boolean): Tensor {
  const t = alloc(type.dtype, type.shape, f64);
  for (let i = 0; i < t.data.length; i++) store(type.dtype as DType, t.data, i, value);
  return t;
}

/** Runs the graph; returns its named outputs. Inputs and params must match the graph's types exactly. */
export function interpret(graph: Graph, inputs: Record<string, Tensor>, params: Map<string, Tensor>): Record<string, Tensor> {
  const expected = new Map(graph.inputs.map((i) => [i.name, graph.values[i.value].type]));
  for (const name of Object.keys(inputs)) {
    if (!expected.has(name)) throw new InterpretError(`unknown input '${name}'; the graph takes ${[...expected.keys()].map((n) => `'${n}'`).join(', ') || 'no inputs'}`);
  }
  const f64 = usesF64(Object.values(inputs));
  const paramByValue = new Map(graph.params.map((p) => [p.value, p]));
  const vals = new Array<Tensor | undefined>(graph.values.length);
  // Drop each intermediate after its last use, so a full-size forward fits in memory.
  const lastUse = new Int32Array(graph.values.length).fill(-1);
  graph.nodes.forEach((node, at) => { for (const v of node.inputs) if (v >= 0) lastUse[v] = at; });
  for (const o of graph.outputs) lastUse[o.value] = graph.nodes.length;

  for (let at = 0; at < graph.nodes.length; at++) {
    const node = graph.nodes[at];
    let outs: Tensor[];
    if (node.op === 'input') {
      const name = String(node.attrs.name);
      const want = graph.values[node.outputs[0]].type;
      const t = inputs[name];
      if (t === undefined) throw new InterpretError(`missing input '${name}': expected ${showType(want)}`);
      checkTensor('input', name, t, want);
      outs = [t];
    } else if (node.op === 'param') {
      const p = paramByValue.get(node.outputs[0]);
      const name = p?.name ?? String(node.attrs.name);
      const t = params.get(name);
      if (t === undefined) throw new InterpretError(`missing parameter '${name}'${where(node.span)}`);
      checkTensor('parameter', name, t, graph.values[node.outputs[0]].type);
      outs = [t];
    } else if (node.op === 'const') {
      outs = [constant(Number(node.attrs.value), graph.values[node.outputs[0]].type, f64)];
    } else {
      outs = runOp(node, node.inputs.map((v) => (v < 0 ? undefined : vals[v])), graph);
    }
    outs.forEach((t, i) => { vals[node.outputs[i]] = t; });
    for (const v of node.inputs) if (v >= 0 && lastUse[v] === at) vals[v] = undefined;
  }

  const result: Record<string, Tensor> = {};
  for (const o of graph.outputs) result[o.name] = vals[o.value]!;
  return result;
}
