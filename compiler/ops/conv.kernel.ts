// conv2d and its two adjoints as implicit GEMMs on the generic GEMM schedule
// (schedule/gemm.ts), each described by its GemmParts: where A (the
// weights) and B (im2col of the input, through per-strip tap tables) come
// from, and where the output goes. Training runs its convolutions at GEMM
// speed too.
//  - forward:     y[o, pixel] = Σ_(c, tap) w[o, c, tap] · x[c, pixel's tap]
//    M = output channels per group, N = output pixels, K = C/groups × taps.
//  - grad input:  dx[c, pixel] = Σ_(o, tap) w[o, c, tap] · g[o, pixel that tap reaches]
//    M = input channels per group, N = input pixels, K = (out channel, tap);
//    a tap contributes only where (ih + pad - k·dil) is a multiple of the stride.
//  - grad weight: dw[o, (c, tap)] = Σ_(n, out pixel) g[n, o, pixel] · x[n, c, pixel's tap]
//    M = output channels per group, N = C/groups × taps, K = batch × out pixels.
import { Graph } from '../graph.js';
import { add, idx, mul, sub } from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { Scheduled } from '../schedule/pointwise.js';
import { type GemmParts, scheduleGemm } from '../schedule/gemm.js';
import { type Bases, type ConvGemm, convGemm, maskedRunPacking, plainPacking, runPacking, tapPacking } from './conv-packing.kernel.js';
import { scheduleConvGradInput, scheduleConvGradWeight } from './conv-grad.kernel.js';
import { scheduleConvWinograd } from './conv-winograd.kernel.js';
import { phasesPay, scheduleConvPhases } from './conv-phases.kernel.js';
import { rowVectorsPay, scheduleTransposedConv, transposedPays, withTransposedWeights } from './conv-transposed.kernel.js';
import { workspaceSlot } from '../schedule/workspace.js';
import type { KernelTable } from './op.js';
import type { Target } from '../target.js';

export function scheduleConv(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled | Scheduled[] {
  const winograd = scheduleConvWinograd(graph, nodes, anchorId, sink, lowerings, target);
  if (winograd) return winograd;
  const node = graph.nodes[anchorId];
  if (transposedPays(graph, node, new Emitter(graph, nodes, lowerings), target)) return scheduleTransposedConv(graph, nodes, anchorId, sink, lowerings, target);
  const c = convGemm(new Emitter(graph, nodes, lowerings), node);
  const { KH, KW, sh, sw, ph, pw } = c.geo;
  const rowVectors = rowVectorsPay(graph, c.shape, target);
  const run = <R>(parts: Omit<GemmParts<Bases, R>, keyof ConvGemm['common']>): Scheduled | Scheduled[] => {
    if (!rowVectors) return scheduleGemm(c.em, graph, node, sink, c.shape, { ...c.common, ...parts } as GemmParts<Bases, R>, target);
    const { M, K } = c.shape;
    const gemm = scheduleGemm(c.em, graph, node, sink, c.shape, {
      ...c.common, ...parts, rowVectors: { buf: workspaceSlot(0), base: (p: Bases) => mul(p.grp, idx(K * M)), stride: M },
    } as GemmParts<Bases, R>, target);
    return withTransposedWeights(graph, nodes, lowerings, node, Number(node.attrs.groups ?? 1), M, K, gemm);
  };
  if (KH === 1 && KW === 1 && sh === 1 && sw === 1 && ph === 0 && pw === 0) return run(plainPacking(c));
  // The CPU packs panel rows by runs of its vector width (see the tables);
  // GPUs keep per-(tap, column) offsets, read by their threads in parallel.
  if (target.name !== 'cpu') return run(tapPacking(c, target));
  if (sh === 1 && sw === 1 && c.geo.OW === c.geo.W) {
    const { H, W, OH, OW, dh, dw } = c.geo;
    return run(maskedRunPacking<Bases>(c.em, {
      buf: c.xb, srcH: H, srcW: W, cols: OH * OW, KH, KW,
      shift: (ky, kx) => [sub(mul(ky, idx(dh)), idx(ph)), sub(mul(kx, idx(dw)), idx(pw))],
      plane: (p, ch) => add(p.xbase, mul(ch, idx(H * W))),
    }, target));
  }
  // Strided: on the input's phases where runs would cross row ends (conv-phases.kernel.ts).
  if (!rowVectors && phasesPay(c, target)) return scheduleConvPhases(graph, nodes, lowerings, node, sink, c, target);
  return run(runPacking(c, target));
}


export const CONV_KERNELS: KernelTable<'conv2d' | 'conv2d_grad_input' | 'conv2d_grad_weight'> = {
  conv2d: { schedule: scheduleConv },
  conv2d_grad_input: { schedule: scheduleConvGradInput },
  conv2d_grad_weight: { schedule: scheduleConvGradWeight },
};
