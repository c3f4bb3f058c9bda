// Text form of a graph, one SSA line per node:
//   %12 = conv2d(%3, %4, %5) {stride=[2, 2], padding=[1, 1]} : f32[1, 64, 32, 32]   backbone.stem  models/resnet.fd:14:13
import { Graph, GNode } from './graph.js';
import { AttrValue } from './ops/op.js';
import { Dim, showDim } from './dims.js';
import { ConcreteType } from './types.js';

function showAttr(v: AttrValue): string {
  if (Array.isArray(v)) return `[${(v as readonly Dim[]).map(showDim).join(', ')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean') return String(v);
  return showDim(v as Dim);
}

const showType = (t: ConcreteType): string => `${t.dtype}[${t.shape.join(', ')}]`;

export function printNode(g: Graph, n: GNode): string {
  const lhs = n.outputs.map((v) => `%${v}`).join(', ');
  const args = n.inputs.map((v) => (v < 0 ? '_' : `%${v}`)).join(', ');
  const attrs = Object.entries(n.attrs).map(([k, v]) => `${k}=${showAttr(v)}`).join(', ');
  const types = n.outputs.map((v) => showType(g.values[v].type)).join(', ');
  const where = n.span.line > 0 ? `${n.span.file}:${n.span.line}:${n.span.col}` : '';
  return `${lhs} = ${n.op}(${args})${attrs ? ` {${attrs}}` : ''} : ${types}${n.scope ? `   ${n.scope}` : ''}${where ? `  ${where}` : ''}`;
}

export function printGraph(g: Graph): string {
  const lines = g.nodes.map((n) => printNode(g, n));
  lines.push(`return ${g.outputs.map((o) => `${o.name}=%${o.value}`).join(', ')}`);
  return lines.join('\n') + '\n';
}
