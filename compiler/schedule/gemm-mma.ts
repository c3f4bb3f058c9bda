// conv2d/matmul on CUDA tensor cores (mma.sync): the issue-8 path. Until it
// is written it declines every GEMM, and the shared emitter (gemm.ts) runs.
import type { Graph, GNode } from '../graph.js';
import type { Emitter } from './emit.js';
import type { GemmParts, GemmProfile, GemmShape } from './gemm.js';
import type { Scheduled } from './pointwise.js';

export function scheduleTensorCoreGemm(_em: Emitter, _graph: Graph, _anchor: GNode, _sink: number, _s: GemmShape, _parts: GemmParts, _profile: GemmProfile): Scheduled | undefined {
  return undefined;
}
