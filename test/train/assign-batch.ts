// Batches for the ground-truth training entries (defcn-train.fd / fcos-train.fd
// `loss`): random images and boxes drawn from a seed, as the loader would
// give them (padded rows zero, a count per image).
import { Graph } from '../../compiler/graph.js';
import { Tensor, rng, tensor } from '../../compiler/tensor.js';
import { ConcreteType } from '../../compiler/types.js';

/** The tiny detector the train tests use (TinyResNet width 4, 8 channels, 3 classes). */
export const GT_ARGS = { depth: 0, width: 4, C: 8, K: 3, groups: 4 };

export function gtTypes(B: number, S: number, G: number): Record<string, ConcreteType> {
  return {
    image: { dtype: 'f32', shape: [B, 3, S, S] },
    gt_boxes: { dtype: 'f32', shape: [B, G, 4] },
    gt_classes: { dtype: 'i32', shape: [B, G] },
    gt_count: { dtype: 'i32', shape: [B] },
  };
}

/** Inputs for a lowered entry (its bucketed G): counts[b] boxes in image b, 6 to 40 px, inside the image. */
export function gtBatch(g: Graph, seed: number, counts: number[]): Record<string, Tensor> {
  const type = (n: string): ConcreteType => g.values[g.inputs.find((i) => i.name === n)!.value].type;
  const [B, , S] = type('image').shape;
  const G = type('gt_boxes').shape[1];
  const K = 3;
  const next = rng(seed);
  const boxes = new Array<number>(B * G * 4).fill(0), classes = new Array<number>(B * G).fill(0);
  for (let b = 0; b < B; b++) for (let i = 0; i < counts[b]; i++) {
    const w = 6 + next() * 34, h = 6 + next() * 34;
    const x = next() * (S - w), y = next() * (S - h);
    boxes.splice((b * G + i) * 4, 4, x, y, x + w, y + h);
    classes[b * G + i] = Math.floor(next() * K);
  }
  return {
    image: tensor('f32', [B, 3, S, S], Array.from({ length: B * 3 * S * S }, () => next() * 2 - 1)),
    gt_boxes: tensor('f32', [B, G, 4], boxes),
    gt_classes: tensor('i32', [B, G], classes),
    gt_count: tensor('i32', [B], counts),
  };
}
