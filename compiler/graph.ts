// The graph IR: SSA, typed, concrete shapes, every node carrying the source
// span it came from. Lowering (compiler/lower.ts) builds it from a checked
// program with concrete bindings; the reference interpreter, autodiff, fusion
// and the renderers all consume it.
import { Attrs } from './ops/op.js';
import { ConcreteType, Span } from './types.js';

/** How a parameter starts. Mirrors the language's initialisers. */
export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  | { kind: 'normal'; mean: number; std: number }
  | { kind: 'uniform'; lo: number; hi: number }
  /** He/Kaiming normal, fan_out or fan_in from the weight's shape (dims 1.. are fan-in for OIHW). */
  | { kind: 'kaiming'; mode: 'fan_in' | 'fan_out'; gain: number }
  /** Constant -log((1 - p) / p): the focal-loss prior on classification biases. */
  | { kind: 'prior_logit'; prob: number };

/**
 * Node kinds beyond the op set: 'input' (attrs.name), 'param' (a GParam),
 * 'const' (attrs.value, a scalar broadcast to the node's type).
 */
export interface GNode {
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly number[]; // value ids; -1 for an omitted optional input
  readonly attrs: Attrs;
  readonly outputs: readonly number[]; // value ids
  readonly span: Span;
  /** Module path of the call that produced it, e.g. "backbone.res2.0.conv1". */
  readonly scope: string;
}

export interface GValue {
  readonly id: number;
  readonly type: ConcreteType;
  readonly node: number;
  readonly index: number;
}

export interface GParam {
  readonly value: number;
  /** Dotted path, the checkpoint key: "head.cls_tower.0.conv.weight". */
  readonly name: string;
  readonly init: Init;
  /** Frozen parameters (frozen BN statistics, frozen stages) get no gradient. */
  readonly frozen: boolean;
}

export interface Graph {
  readonly nodes: GNode[];
  readonly values: GValue[];
  readonly inputs: { readonly name: string; readonly value: number }[];
  readonly params: GParam[];
  readonly outputs: { readonly name: string; readonly value: number }[];
  /**
   * In-place updates (a training step's new weights and momentum): after a
   * run, param `param` holds `value`. The compiler writes the value straight
   * into the param's buffer, after every other reader of the old value
   * (compiler/program.ts); the reference interpreter sees them as outputs
   * through compiler/optimizer.ts withUpdateOutputs.
   */
  updates?: { readonly param: string; readonly value: number }[];
}

export class GraphBuilder {
  readonly graph: Graph = { nodes: [], values: [], inputs: [], params: [], outputs: [] };

  /** Appends a node and its output values; returns the output value ids. */
  node(op: string, inputs: readonly number[], attrs: Attrs, outTypes: readonly ConcreteType[], span: Span, scope: string): number[] {
    const id = this.graph.nodes.length;
    const outputs = outTypes.map((type, index) => {
      const v: GValue = { id: this.graph.values.length, type, node: id, index };
      this.graph.values.push(v);
      return v.id;
    });
    this.graph.nodes.push({ id, op, inputs: [...inputs], attrs, outputs, span, scope });
    return outputs;
  }

  input(name: string, type: ConcreteType, span: Span): number {
    const [v] = this.node('input', [], { name }, [type], span, '');
    this.graph.inputs.push({ name, value: v });
    return v;
  }

  param(name: string, type: ConcreteType, init: Init, frozen: boolean, span: Span, scope: string): number {
    const [v] = this.node('param', [], { name }, [type], span, scope);
    this.graph.params.push({ value: v, name, init, frozen });
    return v;
  }

  constant(value: number, type: ConcreteType, span: Span, scope: string): number {
    return this.node('const', [], { value }, [type], span, scope)[0];
  }

  output(name: string, value: number): void { this.graph.outputs.push({ name, value }); }
}

export function valueType(g: Graph, v: number): ConcreteType { return g.values[v].type; }
