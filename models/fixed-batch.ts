// Batches for training without assignment: one fixed batch, drawn once from
// the seed, given again at every step (the overfit test, --fixed-batch).
// Inputs are recognised by name, as defcn-train.fd declares them:
//   cls_target [B, K, N]   a few positives per image, at random locations and classes
//   box_weight_map [B, N]  1 at the same positives
//   box_target [B, 4, N]   ltrb distances uniform in [4, 32) px (non-degenerate everywhere)
// Anything else float is uniform in [-1, 1); i32 in 0..9; bool 0/1.
import { Graph } from '../compiler/graph.js';
import { Tensor, allocData, rng } from '../compiler/tensor.js';
import { ConcreteType, numel } from '../compiler/types.js';

/** What the host loop needs of a data source: the next batch, and its position to save and restore. */
export interface BatchSource {
  next(): Record<string, Tensor>;
  /** JSON-serialisable position (data order and RNG state). */
  state(): unknown;
  restore(state: unknown): void;
}

const POSITIVES = 4;

function fill(type: ConcreteType, next: () => number, f: (u: number) => number): Tensor {
  const data = allocData(type.dtype, numel(type.shape));
  for (let i = 0; i < data.length; i++) data[i] = f(next());
  return { dtype: type.dtype, shape: [...type.shape], data };
}

export function fixedBatch(graph: Graph, seed: number): Record<string, Tensor> {
  const types = new Map(graph.inputs.map((i) => [i.name, graph.values[i.value].type]));
  const out: Record<string, Tensor> = {};
  const cls = types.get('cls_target');
  // Positives: per image, POSITIVES (location, class) pairs.
  const pos: { b: number; n: number; k: number }[] = [];
  if (cls && cls.shape.length === 3) {
    const [B, K, N] = cls.shape;
    const next = rng(seed * 7919 + 17);
    for (let b = 0; b < B; b++) {
      const taken = new Set<number>();
      for (let p = 0; p < Math.min(POSITIVES, N); p++) {
        let n = Math.floor(next() * N);
        while (taken.has(n)) n = (n + 1) % N;
        taken.add(n);
        pos.push({ b, n, k: Math.floor(next() * K) });
      }
    }
  }
  let i = 0;
  for (const [name, type] of types) {
    const next = rng(seed * 1000 + ++i);
    if (name === 'cls_target' && pos.length) {
      const t = fill(type, next, () => 0);
      const [, K, N] = type.shape;
      for (const p of pos) t.data[(p.b * K + p.k) * N + p.n] = 1;
      out[name] = t;
    } else if (name === 'box_weight_map' && pos.length) {
      const t = fill(type, next, () => 0);
      const N = type.shape[1];
      for (const p of pos) t.data[p.b * N + p.n] = 1;
      out[name] = t;
    } else if (name === 'box_target') {
      out[name] = fill(type, next, (u) => 4 + 28 * u);
    } else {
      out[name] = fill(type, next, (u) => (type.dtype === 'i32' ? Math.floor(u * 10) : type.dtype === 'bool' ? (u < 0.5 ? 1 : 0) : u * 2 - 1));
    }
  }
  return out;
}

/** The same batch every step; its state is just the count of batches drawn. */
export function fixedSource(graph: Graph, seed: number): BatchSource {
  const batch = fixedBatch(graph, seed);
  let drawn = 0;
  return {
    next() { drawn++; return batch; },
    state() { return { kind: 'fixed', seed, drawn }; },
    restore(s) {
      const st = s as { kind?: string; seed?: number; drawn?: number } | null;
      if (!st || st.kind !== 'fixed' || st.seed !== seed) throw new Error(`checkpoint data state ${JSON.stringify(s)} is not a fixed batch of seed ${seed}`);
      drawn = st.drawn ?? 0;
    },
  };
}

/**
 * Input types of defcn-train.fd's loss entry for a batch of B square images
 * of side S (a multiple of 32): N counts the locations of P3–P7 (P6, P7 by
 * stride-2 3×3 convs from P5, as fpn.fd).
 */
export function defcnTargetTypes(B: number, K: number, S: number): Record<string, ConcreteType> {
  const h5 = S / 32, h6 = Math.floor((h5 - 1) / 2) + 1, h7 = Math.floor((h6 - 1) / 2) + 1;
  const N = [S / 8, S / 16, h5, h6, h7].reduce((a, h) => a + h * h, 0);
  return {
    cls_target: { dtype: 'f32', shape: [B, K, N] },
    box_target: { dtype: 'f32', shape: [B, 4, N] },
    box_weight_map: { dtype: 'f32', shape: [B, N] },
  };
}
