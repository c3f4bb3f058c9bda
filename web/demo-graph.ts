// A tiny detector-shaped forward built and compiled where it runs (in the
// browser bundle too): three pyramid levels from strided 3×3 convs, a 1×1
// classifier with sigmoid per level, and 3D max filtering across the levels.
// It stands in for the tiny DeFCN forward until models/ can be compiled here;
// the browser test checks the page's outputs equal Node's.
import { Graph, GraphBuilder } from '../compiler/graph.js';
import { OPS } from '../compiler/ops/index.js';
import { withDefaults } from '../compiler/ops/attrs.js';
import type { Attrs, ShapeContext } from '../compiler/ops/op.js';
import { Tensor, randomTensor } from '../compiler/tensor.js';
import { NO_SPAN } from '../compiler/types.js';

export interface DemoGraph {
  graph: Graph;
  inputs: Record<string, Tensor>;
  params: Record<string, Tensor>;
}

const exact: ShapeContext = { requireEqual() {}, requireAtLeast() {} };

export function demoGraph(size = 16, channels = 8, classes = 2): DemoGraph {
  const b = new GraphBuilder();
  const inputs: Record<string, Tensor> = {};
  const params: Record<string, Tensor> = {};
  let seed = 11;
  const op = (name: string, ins: number[], attrs: Attrs = {}): number[] => {
    const def = OPS[name];
    const full = withDefaults(def, attrs);
    const types = def.shape(ins.map((v) => b.graph.values[v].type), full, exact);
    return b.node(name, ins, full, types.map((t) => ({ dtype: t.dtype, shape: t.shape.map(Number) })), NO_SPAN, 'demo');
  };
  const param = (name: string, shape: number[], scale: number): number => {
    params[name] = randomTensor(shape, seed++, -scale, scale);
    return b.param(name, { dtype: 'f32', shape }, { kind: 'zeros' }, false, NO_SPAN, 'demo');
  };
  inputs.image = randomTensor([1, 3, size, size], seed++, 0, 1);
  let x = b.input('image', { dtype: 'f32', shape: [1, 3, size, size] }, NO_SPAN);
  const levels: number[] = [];
  for (let l = 0; l < 3; l++) {
    const cin = l === 0 ? 3 : channels;
    const conv = op('conv2d', [x, param(`c${l}.w`, [channels, cin, 3, 3], 0.3), param(`c${l}.b`, [channels], 0.1)], { stride: [l === 0 ? 1 : 2], padding: [1] })[0];
    x = op('relu', [conv])[0];
    const logits = op('conv2d', [x, param(`cls${l}.w`, [classes, channels, 1, 1], 0.5), param(`cls${l}.b`, [classes], 0.1)])[0];
    const prob = op('sigmoid', [logits])[0];
    b.output(`score${l}`, prob);
    levels.push(prob);
  }
  op('max3d', levels, { tau: 2, phi: 3 }).forEach((v, i) => b.output(`peak${i}`, v));
  return { graph: b.graph, inputs, params };
}
