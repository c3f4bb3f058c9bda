// The CPU's 1×1 convolutions on small maps as the transposed GEMM: output
// pixels are the rows and output channels the columns, so the vector lanes
// run across channels (as onnxruntime's NCHWc convolutions do) instead of
// across pixels. On a 10 × 10 map the usual tiling pads 100 pixels to 128
// columns (28% of the work wasted); channels are multiples of 16 and pad
// nothing. Two launches share one workspace (Scheduled.scratch `shared`):
//   the panels        the weights laid out as the GEMM's B panels,
//                     [g][strip of TN output channels][C/g][TN], so a strip's
//                     panel for every k is one contiguous stream (the
//                     GEMM reads it in place: GemmParts.panels, no packing);
//                     it reads the params alone, so the program's prologue
//                     computes it once per setParams (program.ts);
//   the GEMM          rows broadcast from the input planes (6 or 12
//                     consecutive pixels of one channel per k step), the
//                     group's fused epilogue stored channel by channel (the
//                     output's columns lie a plane apart:
//                     GemmParts.stridedColumns).
// Packed per chunk from Wᵀ instead (runs of 64 channels, 256 bytes each a
// row of Wᵀ apart, usually in another page), the weights came from memory
// one short run at a time and were copied once more. Measured per launch
// with cold caches (alternated, 2-core AVX-512): 1024 -> 256 on 20 × 20
// 0.67-0.74 -> 0.64-0.69 ms, 2048 -> 512 on 10 × 10 0.70-0.80 -> 0.63-0.70,
// 512 -> 2048 on 10 × 10 0.71-0.81 -> 0.62-0.72; R50-FPN 320 per-launch
// sum 60.0-60.8 -> 59.5-59.9 ms.
// Taken where it pads less than the usual tiling (transposedPays) and a
// prologue exists (no in-place param updates: a training step would redo
// the layout every run). The same layout with one strip of all output
// channels, Wᵀ, serves the GEMM's row-vector tiling of convolutions on very
// small maps (rowVectorsPay, conv.kernel.ts: withTransposedWeights), which
// keeps the usual packed panel of pixels.
import { Graph, GNode } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { add, div, f32, gid, idx, if_, lid, load, lt, min, mod, mul, sel, store } from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { Scheduled, finish } from '../schedule/pointwise.js';
import { type GemmShape, chooseTile, cpuRegisterTile, letVar, rowVectorShape, scheduleGemm, tileWidth } from '../schedule/gemm.js';
import { type Workspace, withWorkspaces, workspaceSlot } from '../schedule/workspace.js';
import { type Bases, ints } from './conv-packing.kernel.js';
import type { Target } from '../target.js';

/**
 * Padded multiply-adds of a CPU GEMM under its register tile (as
 * chooseCpuTile shapes it: the strip narrowed to the columns there are).
 */
function paddedWork(s: Pick<GemmShape, 'M' | 'N' | 'K'>, target: Target): number {
  const { rows, cols } = cpuRegisterTile(s, target);
  const TN = Math.min(tileWidth(s.N), cols);
  return Math.ceil(s.M / rows) * rows * Math.ceil(s.N / TN) * TN * s.K;
}

/**
 * At least this many input channels: the epilogue stores each output
 * element on its own (a plane apart), which the K multiply-adds behind it
 * must outweigh. Measured per launch on a 2-core AVX-512 machine (usual
 * vs transposed): 2048 -> 512 on 10 × 10 0.78 vs 0.61-0.64 ms, 1024 -> 512
 * on 20 × 20 1.21-1.25 vs 1.15-1.16, 1024 -> 256 on 20 × 20 0.65 vs
 * 0.60-0.62; from 256 channels it gains nothing (256 -> 1024 on 20 × 20
 * 0.63-0.70 vs 0.62-0.63) or loses (256 -> 512: 0.33 vs 0.36).
 */
const MIN_CHANNELS = 512;
/** The transposed tiling must save this share of the padded work. */
const MIN_SAVING = 0.03;

/** Whether the group's 1×1 convolution runs transposed on `target` (file comment). */
export function transposedPays(graph: Graph, node: GNode, em: Emitter, target: Target): boolean {
  if (target.name !== 'cpu' || graph.updates?.length) return false;
  const [, C] = em.shape(node.inputs[0]);
  const [O, Cg, KH, KW] = em.shape(node.inputs[1]);
  const [, , OH, OW] = em.shape(node.outputs[0]);
  const [ph, pw] = ints(node, 'padding', 2, 0);
  const groups = Number(node.attrs.groups ?? 1);
  if (KH !== 1 || KW !== 1 || ph !== 0 || pw !== 0 || Cg < MIN_CHANNELS || em.dtype(node.inputs[0]) !== 'f32') return false;
  const og = O / groups;
  if (og % target.vectorWidth !== 0 || Cg * groups !== C) return false;
  return transposingSaves({ M: og, N: OH * OW, K: Cg }, target);
}

/** Whether a CPU GEMM of M × N × K pads at least `saving` less with its rows and columns swapped (ops/conv-winograd.kernel.ts asks too). */
export function transposingSaves(s: Pick<GemmShape, 'M' | 'N' | 'K'>, target: Target, saving = MIN_SAVING): boolean {
  return paddedWork({ M: s.N, N: s.M, K: s.K }, target) <= (1 - saving) * paddedWork(s, target);
}

/** Whether the usual tiling of M × N would take strips narrower than the register tile's columns (N under 64 on AVX-512: fewer multiply-adds per broadcast). */
export function narrowStrips(s: Pick<GemmShape, 'M' | 'N'>, target: Target): boolean {
  return Math.min(tileWidth(s.N), cpuRegisterTile(s, target).cols) < target.registerTile.cols;
}

/**
 * Whether a CPU convolution's GEMM takes the row-vector tiling
 * (schedule/gemm.ts rowVectorTile), its weights transposed in the prologue:
 * where the usual strip would be narrower than two vectors (fewer than 32
 * pixels on AVX-512: rows of one vector, 6 accumulators) or the usual tiling
 * pads at least ROWVEC_SAVING more, output channels come in whole register
 * tiles, and a prologue exists. Measured per launch (usual vs row-vector),
 * 256 -> 256 3×3: on 3 × 3 maps 0.15-0.17 vs 0.07 ms, 5 × 5 0.16-0.23 vs
 * 0.11-0.14, 6 × 6 0.22-0.27 vs 0.14-0.18, 7 × 7 0.24 vs 0.23; 128 on 5 × 5
 * 0.053 vs 0.043; 64 on 10 × 10 0.07-0.08 vs 0.05; 256 -> 256 3×3 s2 to
 * 10 × 10 and 512 on 5 × 5 mixed (±20% across runs), so 10 × 10 maps stay.
 */
export function rowVectorsPay(graph: Graph, s: GemmShape, target: Target): boolean {
  const { rows, cols } = rowVectorShape(target);
  if (target.name !== 'cpu' || graph.updates?.length || s.M % rows !== 0) return false;
  const usualStrip = Math.min(tileWidth(s.N), cpuRegisterTile(s, target).cols);
  if (usualStrip < 2 * target.vectorWidth) return true;
  return s.M * Math.ceil(s.N / cols) * cols * s.K <= (1 - ROWVEC_SAVING) * paddedWork(s, target);
}

/** The padded work the row-vector tiling must save where the usual strip is wide enough (6 × 6 maps: 44%, 7 × 7: 16%, equal there). */
const ROWVEC_SAVING = 0.25;

/** The two launches of the file comment. */
export function scheduleTransposedConv(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled[] {
  const node = graph.nodes[anchorId];
  const em = new Emitter(graph, nodes, lowerings);
  const [N, C, H, W] = em.shape(node.inputs[0]);
  const [O, K] = em.shape(node.inputs[1]);
  const [, , OH, OW] = em.shape(node.outputs[0]);
  const [sh, sw] = ints(node, 'stride', 2, 1);
  const groups = Number(node.attrs.groups ?? 1);
  const og = O / groups;
  const xb = em.buf(node.inputs[0], 'r');
  const bb = node.inputs[2] !== undefined && node.inputs[2] >= 0 ? em.buf(node.inputs[2], 'r') : -1;
  const shape: GemmShape = { problems: N * groups, M: OH * OW, N: og, K };
  const TN = chooseTile(shape, [], target).TN;
  const strips = Math.ceil(og / TN);
  const panels = workspaceSlot(0);
  // A pixel's offset in its input plane: the output pixel's row and column times the strides.
  const pixel = (row: Expr): Expr => (sh === 1 && sw === 1 && OW === W ? row : add(mul(mul(div(row, idx(OW)), idx(sh)), idx(W)), mul(mod(row, idx(OW)), idx(sw))));
  const gemm = scheduleGemm<Bases, Expr>(em, graph, node, sink, shape, {
    setup: (problem) => {
      const nimg = letVar(em, 'nimg', div(problem, idx(groups)));
      const grp = letVar(em, 'grp', mod(problem, idx(groups)));
      return { nimg, grp, xbase: letVar(em, 'xbase', mul(add(mul(nimg, idx(C)), mul(grp, idx(K))), idx(H * W))), wbase: idx(0) };
    },
    a: (p, row, k) => em.bufLoad(xb, add(add(p.xbase, mul(k, idx(H * W))), pixel(row)), 'f32'),
    panels: { buf: panels, TN, base: (p, n0) => mul(add(mul(p.grp, idx(strips)), div(n0, idx(TN))), idx(K * TN)) },
    outIndex: (p, row, col) => [p.nimg, add(mul(p.grp, idx(og)), col), div(row, idx(OW)), mod(row, idx(OW))],
    stridedColumns: true,
    bias: () => undefined,
    ...(bb >= 0 ? { columnBias: (p: Bases, col: Expr) => load(bb, add(mul(p.grp, idx(og)), col), 'f32') } : {}),
  }, target);
  const space: Workspace = { dtype: 'f32', bytes: 4 * groups * strips * K * TN, shared: 'conv-weight-panels' };
  return [layOutPanels(graph, nodes, lowerings, node, groups, og, K, TN, space), withWorkspaces(gemm, [{ space, access: 'r' }])];
}

/**
 * The panels of the file comment: [g][strip][k][TN] = w[g·og + strip·TN + j][k],
 * zero past og. With TN = og (one strip) that is Wᵀ[g][k][o], the row-vector
 * tiling's transposed weights (withTransposedWeights). One thread per
 * element, stores in order.
 */
function layOutPanels(graph: Graph, nodes: ReadonlySet<number>, lowerings: Readonly<Record<string, Lowering>>, node: GNode, groups: number, og: number, K: number, TN: number, space: Workspace): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const wb = em.buf(node.inputs[1], 'r');
  const strips = Math.ceil(og / TN);
  const count = groups * strips * K * TN, WG = 64;
  const body = em.block(() => {
    const e = letVar(em, 'e', add(mul(gid, idx(WG)), lid));
    em.emit(if_(lt(e, idx(count)), em.block(() => {
      const o = letVar(em, 'o', strips === 1 ? mod(e, idx(TN)) : add(mul(mod(div(e, idx(K * TN)), idx(strips)), idx(TN)), mod(e, idx(TN))));
      const k = letVar(em, 'k', mod(div(e, idx(TN)), idx(K)));
      const g = letVar(em, 'g', div(e, idx(strips * K * TN)));
      const weight = (row: Expr): Expr => load(wb, add(mul(add(mul(g, idx(og)), row), idx(K)), k), 'f32');
      em.emit(store(workspaceSlot(0), e, og % TN === 0 ? weight(o) : sel(lt(o, idx(og)), weight(min(o, idx(og - 1))), f32(0))));
    })));
  });
  return withWorkspaces(finish(em, body, WG, [], Math.ceil(count / WG)), [{ space, access: 'w' }], 0);
}

/**
 * A GEMM reading the convolution's weights transposed (Wᵀ[g][k][o], K rows
 * of og, at workspaceSlot(0)), after the launch that transposes them: two
 * launches sharing that workspace, the first a prologue launch.
 */
export function withTransposedWeights(graph: Graph, nodes: ReadonlySet<number>, lowerings: Readonly<Record<string, Lowering>>, node: GNode, groups: number, og: number, K: number, gemm: Scheduled): Scheduled[] {
  const wt: Workspace = { dtype: 'f32', bytes: 4 * groups * K * og, shared: 'conv-weights-transposed' };
  return [layOutPanels(graph, nodes, lowerings, node, groups, og, K, og, wt), withWorkspaces(gemm, [{ space: wt, access: 'r' }])];
}
