// The CPU's 3×3 stride-1 convolutions with many channels by Winograd's
// minimal filtering F(2×2, 3×3) (Lavin & Gray 2016): each 2×2 block of
// outputs ("tile") comes from a 4×4 input patch d and the 3×3 filter g as
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
// so the channel sums become 16 GEMMs (one per position ξ of the 4×4
// transform) of O × C × tiles: 16 multiply-adds per tile and channel pair
// instead of 36, 2.25× fewer. Four launches share three workspaces
// (Scheduled.scratch `shared`):
//   U [16][O][C]     = G g Gᵀ of every filter (launch 0),
//   V [16][N][C][T]  = Bᵀ d B of every input tile (launch 1),
//   Mo [16][N][O][T] = U[ξ] · V[ξ], the tiled GEMM of schedule/gemm.ts writing its workspace (launch 2),
// and launch 3 applies Aᵀ · A, the bias and the group's fused epilogue
// (frozen BN, ReLU, a residual add...) to each tile's four outputs.
// The filter transform reads the weights alone, so it runs in the
// program's prologue (program.ts): once per setParams, not per run. The
// transforms move 4× the input and 4× the output through memory, which
// pays where the channel counts and the map are large enough
// (Target.winograd). Measured per launch on a 2-core AVX-512 machine,
// Winograd vs direct, the filter transform in the prologue: 256 -> 256 at
// 40 × 40 3.8 vs 4.5-5.5 ms, at 20 × 20 1.25 vs 1.67, at 10 × 10 0.44 vs
// 0.49, at 5 × 5 0.33 vs 0.23; 512 -> 512 at 10 × 10 1.41 vs 1.84, at 5 × 5
// 1.18 vs 0.62; 128 -> 128 at 40 × 40 1.32 vs 1.46, at 20 × 20 0.44 vs
// 0.38; 96 -> 96 at 40 × 40 0.67 vs 0.76; 64 -> 64 at 80 × 80 1.49 vs
// 1.61, at 40 × 40 0.50 vs 0.41 (and before the prologue, on large maps:
// 256 channels at 100 × 152 28.4 vs 47, 128 at 100 × 152 9.3 vs 12.0).
// A program that updates its params in place (a training step) pays the
// filter transform every run: there only maps of PER_RUN_FILTER_TILES
// tiles and more take this path.
// On small maps the tile GEMMs run transposed (as conv-transposed.kernel.ts
// does 1×1 convolutions): tiles are the rows, broadcast from V, output
// channels the columns, read in place from U laid out as the GEMM's panels
// ([ξ][strip of TN channels][C][TN]); Mo keeps its layout (columns stored a
// plane apart). A 20 × 20 map's 100 tiles pad to 102 rows instead of 128
// columns; a 10 × 10 map's 25 tiles make the usual strips 16 columns wide
// (6 multiply-adds per broadcast instead of 24). Where the transposed tiling
// saves padding (transposingSaves; TRANSPOSED_SAVING where the usual strips
// are full width) and the channels fill whole strips. Measured in a ResNet-50-FPN at
// 320 × 320 (per-launch, alternated): the tile GEMMs of 256 channels on
// 20 × 20 (six convolutions) and 10 × 10 7.8-8.5 -> 6.7-7.5 ms in all, of
// 512 channels on 10 × 10 (two) 2.9-3.0 -> 1.9-2.0 ms.
import { Graph, GNode } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import { add, and, bin, bool, div, f32, for_, gid, idx, if_, inRange, lid, load, lt, mod, mul, sel, store, sub, v } from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { Scheduled, finish } from '../schedule/pointwise.js';
import { chooseTile, letVar, rowRun, scheduleGemm } from '../schedule/gemm.js';
import { narrowStrips, transposingSaves } from './conv-transposed.kernel.js';
import { withWorkspaces, workspaceSlot } from '../schedule/workspace.js';
import { overlappingSteps } from '../schedule/vector-steps.js';
import { ints } from './conv-packing.kernel.js';
import type { Target } from '../target.js';

const WG = 64;

const fadd = (a: Expr, b: Expr): Expr => bin('add', a, b);
const fsub = (a: Expr, b: Expr): Expr => bin('sub', a, b);
const half = (a: Expr): Expr => bin('mul', a, f32(0.5));

/** Bᵀ r B's one dimension on four values: (r0 − r2, r1 + r2, r2 − r1, r1 − r3). */
const inputRow = (r: readonly Expr[]): Expr[] => [fsub(r[0], r[2]), fadd(r[1], r[2]), fsub(r[2], r[1]), fsub(r[1], r[3])];
/** G g's one dimension on three values: (g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2). */
const filterRow = (g: readonly Expr[]): Expr[] => [g[0], half(fadd(fadd(g[0], g[1]), g[2])), half(fadd(fsub(g[0], g[1]), g[2])), g[2]];
/** Aᵀ m's one dimension on four values: (m0 + m1 + m2, m1 − m2 − m3). */
const outputRow = (m: readonly Expr[]): Expr[] => [fadd(fadd(m[0], m[1]), m[2]), fsub(fsub(m[1], m[2]), m[3])];

/** Applies a one-dimensional transform along both axes of a row-major square block, binding each value. */
function transform2d(em: Emitter, block: readonly Expr[], n: number, row: (r: readonly Expr[]) => Expr[]): Expr[] {
  const rows: Expr[][] = [];
  for (let i = 0; i < n; i++) rows.push(row(block.slice(i * n, i * n + n)).map((e) => em.bind(e, 'wr')));
  const m = rows[0].length;
  const cols: Expr[][] = [];
  for (let j = 0; j < m; j++) cols.push(row(rows.map((r) => r[j])).map((e) => em.bind(e, 'wc')));
  // cols[j][i] is element (i, j) of the result
  const out: Expr[] = [];
  for (let i = 0; i < cols[0].length; i++) for (let j = 0; j < m; j++) out.push(cols[j][i]);
  return out;
}

interface WinogradGeometry {
  N: number; C: number; O: number; H: number; W: number; OH: number; OW: number; ph: number; pw: number; TH: number; TW: number; T: number;
  /** Distance between V[ξ] and V[ξ + 1], and between Mo[ξ] and Mo[ξ + 1] (xiStride). */
  VS: number; MS: number;
  /** The tile GEMMs' strip of output channels where they run transposed (file comment), U then laid out as its panels. */
  panelTN?: number;
}

/**
 * Tiles per image from which a Winograd convolution pays for its filter
 * transform on every run (16 × O × C values written: 16 MiB for 512
 * channels, longer than the 10 × 10 convolution itself).
 */
const PER_RUN_FILTER_TILES = 400;

/**
 * The distance between consecutive ξ blocks of a workspace of `n` floats
 * each: a tile's 16 values are 16 streams a block apart, and blocks a
 * multiple of 4 KiB apart would put all 16 lines in one L1 set (12 ways
 * here) and alias in the store-to-load check: 256 channels on a 20 × 20
 * map (100 KiB blocks) took the input transform 0.71 ms against ~0.45 ms
 * for the same work a line apart. So blocks are padded to one cache line
 * past a multiple of 4 KiB.
 */
const xiStride = (n: number): number => Math.ceil(n / 1024) * 1024 + 16;

/** The geometry where this schedule applies to the group on `target`, else undefined. */
function winogradGeometry(em: Emitter, node: GNode, sink: number, target: Target): WinogradGeometry | undefined {
  if (target.name !== 'cpu') return undefined;
  const [xv, wv] = node.inputs;
  const [N, C, H, W] = em.shape(xv);
  const [O, Cg, KH, KW] = em.shape(wv);
  const [, , OH, OW] = em.shape(node.outputs[0]);
  const [sh, sw] = ints(node, 'stride', 2, 1), [ph, pw] = ints(node, 'padding', 2, 0), [dh, dw] = ints(node, 'dilation', 2, 1);
  if (KH !== 3 || KW !== 3 || sh !== 1 || sw !== 1 || dh !== 1 || dw !== 1 || Number(node.attrs.groups ?? 1) !== 1 || Cg !== C) return undefined;
  if (em.dtype(xv) !== 'f32') return undefined;
  // The output transform stores the group's output at the anchor's coordinates: a fused epilogue of elementwise ops only.
  const out = em.shape(em.graph.nodes[sink].outputs[0]);
  if (out.length !== 4 || out.some((d, i) => d !== [N, O, OH, OW][i])) return undefined;
  const TH = Math.ceil(OH / 2), TW = Math.ceil(OW / 2);
  const T = TH * TW;
  // Without a prologue (a run updating params in place) every run pays the filter transform: only maps that amortise it.
  const rules = em.graph.updates?.length ? target.winograd.filter((r) => r.tiles >= PER_RUN_FILTER_TILES) : target.winograd;
  if (!rules.some((r) => T >= r.tiles && Math.min(C, O) >= r.channels)) return undefined;
  const geo: WinogradGeometry = { N, C, O, H, W, OH, OW, ph, pw, TH, TW, T, VS: xiStride(N * C * T), MS: xiStride(N * O * T) };
  const usual = { M: O, N: T, K: C };
  if (narrowStrips(usual, target) ? transposingSaves(usual, target) : transposingSaves(usual, target, TRANSPOSED_SAVING)) {
    const TN = chooseTile(transposedShape(geo), [], target).TN;
    if (O % TN === 0) geo.panelTN = TN;
  }
  return geo;
}

/**
 * The padding a transposed tile GEMM must save where the usual strips are
 * full width (it stores its products one by one, a plane apart): 400 tiles
 * with 128 or 256 channels (6% less padding) measured alike either way
 * (R50-FPN 320, per launch, alternated: 5.1-6.0 ms for the four such
 * convolutions in both), 100 tiles (20% less) gained.
 */
const TRANSPOSED_SAVING = 0.1;

/** The tile GEMMs transposed: tiles are the rows, output channels the columns. */
const transposedShape = ({ N, C, O, T }: WinogradGeometry): { problems: number; M: number; N: number; K: number } => ({ problems: 16 * N, M: T, N: O, K: C });

/** Filter (o, c)'s offset in one ξ block of U laid out as the transposed GEMM's panels, [o / TN][c][o % TN]. */
const panelOffset = (TN: number, C: number, o: Expr, c: Expr): Expr => add(mul(div(o, idx(TN)), idx(C * TN)), add(mul(c, idx(TN)), mod(o, idx(TN))));

/** The four launches of the file comment, or undefined where the direct convolution runs instead. */
export function scheduleConvWinograd(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled[] | undefined {
  const node = graph.nodes[anchorId];
  const geo = winogradGeometry(new Emitter(graph, nodes, lowerings), node, sink, target);
  if (!geo) return undefined;
  const { O, C, VS, MS } = geo;
  const U = { dtype: 'f32' as const, bytes: 4 * 16 * O * C, shared: 'winograd-U' };
  const V = { dtype: 'f32' as const, bytes: 4 * 16 * VS, shared: 'winograd-V' };
  const Mo = { dtype: 'f32' as const, bytes: 4 * 16 * MS, shared: 'winograd-M' };
  return [
    withWorkspaces(filterTransform(graph, nodes, lowerings, node, geo, target), [{ space: U, access: 'w' }], 0),
    withWorkspaces(inputTransform(graph, nodes, lowerings, node, geo, target), [{ space: V, access: 'w' }], 0),
    withWorkspaces(tileProducts(graph, nodes, lowerings, node, sink, geo, target), [{ space: U, access: 'r' }, { space: V, access: 'r' }, { space: Mo, access: 'w' }]),
    withWorkspaces(outputTransform(graph, nodes, lowerings, node, sink, geo, target), [{ space: Mo, access: 'r' }], 0),
  ];
}

/**
 * Whether the input transform's workgroup takes a whole plane's tile rows
 * instead of one: a row of TW tiles writes 16 runs of TW floats, a few cache
 * lines or parts of them each on small maps, which rows in separate
 * workgroups (run by either thread) each fetched and wrote back in part.
 * Measured in R50-FPN 320 (per launch, alternated, best of 3): 64 channels
 * on 80 × 80 0.99 -> 0.84 ms for three, 128 on 40 × 40 0.76 -> 0.68, 256 on
 * 20 × 20 1.42 -> 1.30 for six, 256 on 40 × 40 0.45 -> 0.39. The output
 * transform read alike either way and keeps a workgroup per tile row.
 */
const wholePlanes = (TW: number): boolean => TW < 64;

/** One thread per element of a [count] iteration, WG a workgroup: the element index, guarded where count is not a multiple of WG. */
function perElement(em: Emitter, count: number, body: (i: Expr) => void): Stmt[] {
  const i = letVar(em, 'i', add(mul(gid, idx(WG)), lid));
  // Without a guard (count a multiple of the workgroup) the C compiler can vectorise the thread loop.
  if (count % WG === 0) return em.block(() => body(i));
  return [if_(lt(i, idx(count)), em.block(() => body(i)))];
}

/** Launch 0: U[ξ][o][c] = (G g Gᵀ)[ξ] of filter (o, c); VECTOR filters a step where their count allows, else one thread per filter. */
function filterTransform(graph: Graph, nodes: ReadonlySet<number>, lowerings: Readonly<Record<string, Lowering>>, node: GNode, geo: WinogradGeometry, target: Target): Scheduled {
  const { O, C } = geo;
  const em = new Emitter(graph, nodes, lowerings);
  const wb = em.buf(node.inputs[1], 'r');
  const ub = workspaceSlot(0);
  const VEC = target.vectorWidth > 1 ? target.vectorWidth : 0;
  const filter = (i: Expr): void => {
    const g = Array.from({ length: 9 }, (_, k) => em.bind(load(wb, add(mul(i, idx(9)), idx(k)), 'f32'), 'g'));
    const { panelTN } = geo;
    const at = (xi: number): Expr => add(idx(xi * O * C), panelTN ? panelOffset(panelTN, C, div(i, idx(C)), mod(i, idx(C))) : i);
    transform2d(em, g, 3, filterRow).forEach((x, xi) => em.emit(store(ub, at(xi), x)));
  };
  if (VEC && (O * C) % (WG * VEC) === 0 && WG % VEC === 0) {
    // A workgroup's WG filters VECTOR at a time: each tap a gather across the filters, each U entry a unit-stride store.
    const body = em.block(() => em.emit(for_('q', idx(0), idx(WG / VEC), em.block(() => {
      const i0 = em.bind(add(mul(gid, idx(WG)), mul(v('q'), idx(VEC))), 'i0');
      em.emit(for_('j', idx(0), idx(VEC), em.block(() => filter(add(i0, v('j')))), false, VEC));
    }))));
    return finish(em, body, 1, [], (O * C) / WG);
  }
  const body = em.block(() => perElement(em, O * C, filter).forEach((st) => em.emit(st)));
  return finish(em, body, WG, [], Math.ceil((O * C) / WG));
}

/**
 * Launch 1: V[ξ][n][c][t] = (Bᵀ d B)[ξ] of tile t's 4×4 input patch (zeros
 * outside the image). A workgroup is one plane (wholePlanes), or one row of
 * tiles of one plane on wide maps. The
 * tiles whose patch columns lie inside the image (a range fixed by the
 * width) go VECTOR at a time through a vector loop (rows outside it as
 * zeros):
 * each patch column is a stride-2 load across the tiles, each V entry a
 * unit-stride store (render/vectorize.ts); the other tiles one by one with
 * bounds tests.
 */
function inputTransform(graph: Graph, nodes: ReadonlySet<number>, lowerings: Readonly<Record<string, Lowering>>, node: GNode, { N, C, H, W, ph, pw, TH, TW, T, VS }: WinogradGeometry, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const xb = em.buf(node.inputs[0], 'r');
  const vb = workspaceSlot(0);
  const VEC = target.vectorWidth > 1 ? target.vectorWidth : 0;
  // Tiles whose patch columns 2tx − pw .. 2tx − pw + 3 lie inside [0, W).
  const txa = Math.ceil(pw / 2), txb = Math.floor((W - 4 + pw) / 2) + 1;
  // Overlapping steps (schedule/vector-steps.ts: tiles stored twice, alike) rather than a scalar tail.
  const vectors = VEC > 0 && txb - txa >= VEC;
  const whole = wholePlanes(TW);
  const body = em.block(() => {
    const plane = letVar(em, 'plane', whole ? gid : div(gid, idx(TH))); // n·C + c
    const tileRow = (ty: Expr): void => {
      const y0 = letVar(em, 'y0', sub(mul(ty, idx(2)), idx(ph)));
      const base = letVar(em, 'xbase', mul(plane, idx(H * W)));
      const vrow = letVar(em, 'vrow', add(mul(plane, idx(T)), mul(ty, idx(TW)))); // V index of the row's first tile, ξ = 0
      /** Tile tx by scalar loads with bounds tests. */
      const oneTile = (tx: Expr): Stmt[] => em.block(() => {
        const x0 = em.bind(sub(mul(tx, idx(2)), idx(pw)), 'x0');
        const d: Expr[] = [];
        for (let r = 0; r < 4; r++) {
          const y = em.bind(add(y0, idx(r)), 'y');
          const rowOk = em.bind(inRange(y, H), 'yok');
          for (let c = 0; c < 4; c++) {
            const x = em.bind(add(x0, idx(c)), 'x');
            const ok = em.bind(and(rowOk, inRange(x, W)), 'ok');
            // Outside the image the load reads the plane's first element (in bounds) and is replaced by 0.
            // The load bound on its own first: inside a select's arm it would be conditional, a branch per value.
            const value = em.bind(load(xb, add(base, sel(ok, add(mul(y, idx(W)), x), idx(0))), 'f32'), 'dv');
            d.push(em.bind(sel(ok, value, f32(0)), 'd'));
          }
        }
        transform2d(em, d, 4, inputRow).forEach((x, xi) => em.emit(store(vb, add(idx(xi * VS), add(vrow, tx)), x)));
      });
      const scalarRange = (from: Expr, to: Expr): Stmt => for_('tx', from, to, oneTile(v('tx')));
      if (!vectors) { em.emit(scalarRange(idx(0), idx(TW))); return; }
      // VEC tiles per vector step from txa, every tile row: a patch row outside the image (the first
      // and last tile rows with padding) reads row 0 instead, in bounds, and counts as zeros; its
      // test is the same for the whole step (a scalar condition picking a vector).
      const j = v('j');
      const rows = Array.from({ length: 4 }, (_, r) => {
        const ok = em.bind(inRange(add(y0, idx(r)), H), 'rok');
        return { ok, y: em.bind(sel(ok, add(y0, idx(r)), idx(0)), 'ry') };
      });
      const vectorStep = (tx0: Expr): void => {
        const d: Expr[] = [];
        for (const { ok, y } of rows) for (let c = 0; c < 4; c++) {
          const x = load(xb, add(add(base, add(mul(y, idx(W)), idx(c - pw))), mul(add(tx0, j), idx(2))), 'f32');
          d.push(ok.k === 'const' ? (ok.v ? x : f32(0)) : sel(ok, x, f32(0)));
        }
        em.emit(for_('j', idx(0), idx(VEC), em.block(() => {
          transform2d(em, d.map((x) => em.bind(x, 'd')), 4, inputRow).forEach((x, xi) => em.emit(store(vb, add(add(idx(xi * VS), add(vrow, tx0)), j), x)));
        }), false, VEC));
      };
      em.emit(scalarRange(idx(0), idx(txa)));
      em.emit(overlappingSteps(em, 'q', txa, txb, VEC, vectorStep));
      em.emit(scalarRange(idx(txb), idx(TW)));
    };
    if (whole) em.emit(for_('ty', idx(0), idx(TH), em.block(() => tileRow(v('ty')))));
    else tileRow(letVar(em, 'ty', mod(gid, idx(TH))));
  });
  return finish(em, body, 1, [], whole ? N * C : N * C * TH);
}

/** Launch 2: Mo[ξ][n] = U[ξ] · V[ξ][n] for the 16·N problems, on the tiled GEMM schedule writing the workspace. */
function tileProducts(graph: Graph, nodes: ReadonlySet<number>, lowerings: Readonly<Record<string, Lowering>>, node: GNode, sink: number, geo: WinogradGeometry, target: Target): Scheduled {
  const { N, C, O, T, VS, MS, panelTN } = geo;
  const em = new Emitter(graph, nodes, lowerings);
  const [ub, vb, mb] = [workspaceSlot(0), workspaceSlot(1), workspaceSlot(2)];
  interface Bases { u: Expr; v: Expr; m: Expr }
  const setup = (problem: Expr): Bases => ({
    u: letVar(em, 'ubase', mul(div(problem, idx(N)), idx(O * C))),
    // problem = ξ·N + n
    v: letVar(em, 'vbase', add(mul(div(problem, idx(N)), idx(VS)), mul(mod(problem, idx(N)), idx(C * T)))),
    m: letVar(em, 'mbase', add(mul(div(problem, idx(N)), idx(MS)), mul(mod(problem, idx(N)), idx(O * T)))),
  });
  const s = panelTN ? scheduleGemm<Bases, Expr>(em, graph, node, sink, transposedShape(geo), {
    setup,
    // Rows are tiles: a tile of V[ξ][n][c] broadcast; columns are output channels, U's panels read in place.
    a: (p, row, k) => load(vb, add(p.v, add(mul(k, idx(T)), row)), 'f32'),
    panels: { buf: ub, TN: panelTN, base: (p, n0) => add(p.u, mul(div(n0, idx(panelTN)), idx(C * panelTN))) },
    outIndex: (p, row, col) => [add(p.m, add(mul(col, idx(T)), row))],
    stridedColumns: true,
    bias: () => undefined,
    rawOutput: { buf: mb, index: (p, row, col) => add(p.m, add(mul(col, idx(T)), row)) },
  }, target) : scheduleGemm<Bases, Expr>(em, graph, node, sink, { problems: 16 * N, M: O, N: T, K: C }, {
    setup,
    a: (p, row, k) => load(ub, add(p.u, add(mul(row, idx(C)), k)), 'f32'),
    packRow: (p, k) => letVar(em, 'vrow', add(p.v, mul(k, idx(T)))),
    packValue: (_p, vrow, _j, col) => load(vb, add(vrow, col), 'f32'),
    packRun: (_p, vrow, n0, group, vg) => rowRun(vb, vrow, n0, group, vg, T),
    outIndex: (p, row, col) => [add(p.m, add(mul(row, idx(T)), col))],
    bias: () => undefined,
    rawOutput: { buf: mb, index: (p, row, col) => add(p.m, add(mul(row, idx(T)), col)) },
  }, target);
  if (s.bufValues.length !== 0) throw new Error('winograd: the tile GEMM bound a graph buffer');
  return s;
}

/**
 * Launch 3: each tile's 2×2 outputs Aᵀ Mo A plus the bias, through the
 * group's epilogue into its output. A workgroup (one thread) is one row of
 * tiles of one output plane: the epilogue's per-channel work (a frozen BN's
 * 1/sqrt(var + eps)) is invariant in its loops, and where both output rows
 * exist the tiles whose two columns do go VECTOR at a time through a vector
 * loop (each tile's two columns stored interleaved: render/vectorize.ts);
 * the others one by one.
 */
function outputTransform(graph: Graph, nodes: ReadonlySet<number>, lowerings: Readonly<Record<string, Lowering>>, node: GNode, sink: number, { N, O, OH, OW, TH, TW, T, MS }: WinogradGeometry, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const sinkValue = graph.nodes[sink].outputs[0];
  const outShape = em.shape(sinkValue);
  const outBuf = em.buf(sinkValue, 'w');
  const bv = node.inputs[2];
  const biasBuf = bv !== undefined && bv >= 0 ? em.buf(bv, 'r') : -1;
  const VEC = target.vectorWidth > 1 ? target.vectorWidth : 0;
  const full = Math.floor(OW / 2); // tiles whose two output columns exist
  const vectors = VEC > 0 && full >= VEC;
  const body = em.block(() => {
    // The workspace is numbered past the graph buffers once the epilogue has bound its own (schedule/workspace.ts).
    const mAt = (xi: number, i: Expr): Expr => load(workspaceSlot(0), add(idx(xi * MS), i), 'f32');
    const plane = letVar(em, 'plane', div(gid, idx(TH))); // n·O + o
    const n = letVar(em, 'n', div(plane, idx(O)));
    const o = letVar(em, 'o', mod(plane, idx(O)));
    const oy0 = letVar(em, 'oy0', mul(mod(gid, idx(TH)), idx(2)));
    const row = letVar(em, 'mrow', add(mul(plane, idx(T)), mul(mod(gid, idx(TH)), idx(TW)))); // Mo index of the row's first tile, ξ = 0
    const bias = biasBuf >= 0 ? em.bind(load(biasBuf, o, 'f32'), 'bias') : undefined;
    /** Tile tx's four outputs (`tile` its Mo offset in the row); `flat(dy, dx)` its output index where the caller fixes it. */
    const tileOutputs = (tile: Expr, ox0: Expr, guard: boolean, flat?: (dy: number, dx: number) => Expr): void => {
      const m = Array.from({ length: 16 }, (_, xi) => em.bind(mAt(xi, add(row, tile)), 'm'));
      const y = transform2d(em, m, 4, outputRow);
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) {
        const oy = add(oy0, idx(dy)), ox = add(ox0, idx(dx));
        const at = [n, o, oy, ox];
        if (flat) em.aliasFlat(outShape, at, flat(dy, dx));
        const inside = guard ? and(dy && OH % 2 ? lt(oy, idx(OH)) : bool(true), dx && OW % 2 ? lt(ox, idx(OW)) : bool(true)) : bool(true);
        const st = em.block(() => {
          const value = y[dy * 2 + dx];
          em.storeThrough(outBuf, sinkValue, at, node.outputs[0], () => (bias ? fadd(value, bias) : value));
        });
        if (inside.k === 'const') st.forEach((x) => em.emit(x)); else em.emit(if_(inside, st));
      }
    };
    const scalarRange = (from: number, to: number): Stmt => for_('tx', idx(from), idx(to), em.block(() => tileOutputs(v('tx'), mul(v('tx'), idx(2)), true)));
    if (!vectors) { em.emit(scalarRange(0, TW)); return; }
    const j = v('j');
    // The last step ends at the last full tile, overlapping the one before (those tiles stored twice, alike).
    const vectorStep = (tx0: Expr): void => {
      const rowBase = em.bind(add(em.flat(sinkValue, [n, o, oy0, idx(0)]), mul(tx0, idx(2))), 'obase');
      const lanes = em.block(() => tileOutputs(add(tx0, j), mul(add(tx0, j), idx(2)), false,
        (dy, dx) => { const even = add(add(rowBase, idx(dy * OW)), mul(j, idx(2))); return dx ? add(even, idx(1)) : even; }));
      em.emit(for_('j', idx(0), idx(VEC), lanes, false, VEC));
    };
    const bothRows = OH % 2 ? lt(add(oy0, idx(1)), idx(OH)) : bool(true);
    const vectorRow = [overlappingSteps(em, 'q', 0, full, VEC, vectorStep), ...(full < TW ? [scalarRange(full, TW)] : [])];
    if (bothRows.k === 'const') vectorRow.forEach((x) => em.emit(x));
    else em.emit(if_(bothRows, vectorRow, [scalarRange(0, TW)]));
  });
  return finish(em, body, 1, [], N * O * TH);
}
