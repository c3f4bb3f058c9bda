// The CPU's strided convolutions (stride s > 1) as a stride-1 problem on
// the input's phases. Output pixel (oy, ox) reads input row s·oy + ky - ph:
// phase (ky - ph) mod s, row oy + ⌊(ky - ph) / s⌋ of that phase's plane.
// Where the input is s times the output on each side (80 × 80 -> 40 × 40,
// 3×3 padding 1 or 1×1 padding 0), every phase plane is exactly the
// output's size, so each tap reads its phase plane at a constant shift
// across row ends too: maskedRunPacking's masked contiguous runs. The
// strided packing (runPacking) copies a run with a vector load only where
// it stays inside one output row; at 20 × 20 outputs 60% of the runs of 16
// cross a row end and at 10 × 10 all do, and those are packed column by
// column. Two launches share one workspace:
//   P [n][c][phase][OH][OW]  the input split into its s × s phases (only
//                            phase (0, 0) for a 1×1 kernel without padding),
//                            one pass over the input;
//   the GEMM                 the usual tiled GEMM, its panel packed from P.
// Taken where most runs of the strided packing would cross row ends (phasesPay).
import { Graph, GNode } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { add, div, for_, gid, idx, if_, lt, load, mod, mul, store, sub, v } from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { Scheduled, finish } from '../schedule/pointwise.js';
import { type GemmParts, letVar, packRunWidth, scheduleGemm } from '../schedule/gemm.js';
import { type Workspace, withWorkspaces, workspaceSlot } from '../schedule/workspace.js';
import { type Bases, type ConvGemm, maskedRunPacking } from './conv-packing.kernel.js';
import type { Target } from '../target.js';

/** Phases along one axis: all s where the kernel spans them, the one a 1×1 kernel without padding reads, else none. */
function phaseCount(k: number, s: number, pad: number): number | undefined {
  if (k >= s) return s;
  if (k === 1 && pad === 0) return 1;
  return undefined;
}

/** Whether conv `c` runs on its input's phases on `target` (file comment). */
export function phasesPay(c: ConvGemm, target: Target): boolean {
  const { H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw } = c.geo;
  if (target.name !== 'cpu' || (sh === 1 && sw === 1) || dh !== 1 || dw !== 1) return false;
  if (H !== sh * OH || W !== sw * OW) return false;
  if (phaseCount(KH, sh, ph) === undefined || phaseCount(KW, sw, pw) === undefined) return false;
  return crossingShare(OW, packRunWidth(target, 64)) >= MIN_CROSSING;
}

/**
 * The share of the strided packing's runs that must cross an output row end
 * (and be packed column by column) for the split to pay for its pass over
 * the input. Measured per launch, alternated A/B on a 2-core AVX-512
 * machine (strided packing vs split + masked runs): 3×3 256 -> 256 from
 * 40 × 40 (60% of runs cross) 2.0-2.2 vs 1.8-1.9 ms, 512 -> 512 from 20 × 20
 * (all cross) 2.1-2.3 vs 1.9-2.1; 128 -> 128 from 80 × 80 (20% cross)
 * 1.5-1.7 vs 1.9-2.0: there the split loses.
 */
const MIN_CROSSING = 0.5;

/** Of the runs of `width` output columns (starting at multiples of it), the share spanning two output rows `rowWidth` wide. */
export function crossingShare(rowWidth: number, width: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const period = rowWidth / gcd(rowWidth, width); // runs until the pattern repeats
  let crossing = 0;
  for (let m = 0; m < period; m++) if (Math.floor((m * width) / rowWidth) !== Math.floor((m * width + width - 1) / rowWidth)) crossing++;
  return crossing / period;
}

/** The two launches of the file comment for conv `c` (phasesPay holds), with `parts` the GEMM's problem-level parts. */
export function scheduleConvPhases(graph: Graph, nodes: ReadonlySet<number>, lowerings: Readonly<Record<string, Lowering>>, node: GNode, sink: number, c: ConvGemm, target: Target): Scheduled[] {
  const { C, H, W, OH, OW, KH, KW, sh, sw, ph, pw } = c.geo;
  const [N] = c.em.shape(node.inputs[0]);
  const groups = Number(node.attrs.groups ?? 1);
  const py = phaseCount(KH, sh, ph)!, px = phaseCount(KW, sw, pw)!;
  const plane = OH * OW;
  const space: Workspace = { dtype: 'f32', bytes: 4 * N * C * groups * py * px * plane, shared: 'conv-phases' };
  const pb = workspaceSlot(0);
  // ⌊(k - pad) / s⌋ and its phase, with k - pad shifted non-negative first.
  const lift = (k: Expr, pad: number, s: number): Expr => add(sub(k, idx(pad)), idx(s * pad));
  const shiftOf = (k: Expr, pad: number, s: number): Expr => sub(div(lift(k, pad, s), idx(s)), idx(pad));
  const phaseOf = (k: Expr, pad: number, s: number, count: number): Expr => (count === 1 ? idx(0) : mod(lift(k, pad, s), idx(s)));
  const packing = maskedRunPacking<Bases>(c.em, {
    buf: pb, srcH: OH, srcW: OW, cols: plane, KH, KW,
    shift: (ky, kx) => [shiftOf(ky, ph, sh), shiftOf(kx, pw, sw)],
    // Input plane (image, group's channel ch) has py·px phase planes of OH·OW floats in P.
    plane: (p, ch, ky, kx) => {
      const inputPlane = add(add(mul(p.nimg, idx(C * groups)), mul(p.grp, idx(C))), ch);
      return mul(add(mul(inputPlane, idx(py * px)), add(mul(phaseOf(ky, ph, sh, py), idx(px)), phaseOf(kx, pw, sw, px))), idx(plane));
    },
  }, target);
  const gemm = scheduleGemm(c.em, graph, node, sink, c.shape, { ...c.common, ...packing } as GemmParts<Bases, unknown>, target);
  return [splitPhases(graph, nodes, lowerings, node, { N: N * C * groups, H, W, OH, OW, sh, sw, py, px }, space), withWorkspaces(gemm, [{ space, access: 'r' }])];
}

/** P[plane][y][x][i][j] = x[plane][s·i + y][s·j + x]: a workgroup per output row of a phase, its columns in order. */
function splitPhases(graph: Graph, nodes: ReadonlySet<number>, lowerings: Readonly<Record<string, Lowering>>, node: GNode,
  { N, H, W, OH, OW, sh, sw, py, px }: { N: number; H: number; W: number; OH: number; OW: number; sh: number; sw: number; py: number; px: number }, space: Workspace): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const xb = em.buf(node.inputs[0], 'r');
  const rows = N * py * px * OH;
  const body = em.block(() => {
    const row = letVar(em, 'row', gid);
    em.emit(if_(lt(row, idx(rows)), em.block(() => {
      const i = letVar(em, 'i', mod(row, idx(OH)));
      const phase = letVar(em, 'phase', mod(div(row, idx(OH)), idx(py * px)));
      const ch = letVar(em, 'ch', div(row, idx(OH * py * px)));
      const src = letVar(em, 'src', add(mul(ch, idx(H * W)), add(mul(add(mul(i, idx(sh)), div(phase, idx(px))), idx(W)), mod(phase, idx(px)))));
      const dst = letVar(em, 'dst', mul(row, idx(OW)));
      em.emit(for_('j', idx(0), idx(OW), [store(workspaceSlot(0), add(dst, v('j')), load(xb, add(src, mul(v('j'), idx(sw))), 'f32'))]));
    })));
  });
  return withWorkspaces(finish(em, body, 1, [], rows), [{ space, access: 'w' }], 0);
}
