// The `match` kernel: exact maximum-weight one-to-one assignment, one
// workgroup per image, by integer shortest augmenting paths on the sparse
// graph of each row's candidates (notes/kernels.md §1.1, §1.4).
//
// Reduction (why a sparse solve is exact for ANY matrix). Subtracting a
// constant b_i from row i changes every assignment's total by the same Σ b_i,
// so rows are shifted to start at 0: b_i = the row's smallest finite quality
// (or, in a row holding a NaN/±Inf, the image's smallest finite quality − 1:
// non-finite entries rank below every finite one, as in the reference). The
// row's edges are its entries above b_i; everything else is "background"
// worth 0. Each row also gets a private dummy column worth 0 (column N + i).
// The optimum of this sparse rectangular problem equals the dense one: a row
// left on its dummy has no unused edge column (taking it would gain), so any
// unused real column is background for it, and there are enough of them
// (N ≥ G). Fillers take, in row order, the lowest unused real columns.
// For POTO the background is the −1 outside the prior: a GT's edges are its
// prior candidates (at most ≈ 45 with the centre prior: 3×3 cells on 5 levels), not N.
//
// Quantisation. Weights W = round((q − b_i)·S), clamped to [0, Wmax], with
// Wmax = min(2^23, ⌊(2^31 − 1)/(g + 2)⌋) and S the largest power of two with
// S·R ≤ Wmax, R = the largest row range max_j q_ij − b_i. Costs Wmax − W lie
// in [0, Wmax]; every dual and path length stays within (g + 2)·Wmax < 2^31
// (minVal ≤ Wmax because the root's own dummy is free at reduced cost Wmax;
// each augmentation lowers a column dual by at most minVal), so i32 (WGSL)
// and i64 (C, CUDA) give identical integer decisions, and the solve is exact
// for W. The f32 subtraction q − b_i is within half an ulp (≤ 0.5 units of W
// since W ≤ 2^23), so |W − (q − b_i)·S| ≤ 1 and the chosen total is within
// 2·g/S ≤ 4·g·R/Wmax of the float optimum (POTO, R = 2, g = 100: 9.5e-5;
// g = 512: 1e-3). Qualities on a grid of 2^-k with k small enough are
// quantised exactly, and then the total equals scipy's exactly.
//
// Solve (Crouse's SAP, as scipy's linear_sum_assignment; on one thread for
// the CPU and software adapters, split over the workgroup on GPUs:
// match-parallel.ts): rows in order; each augmentation is Dijkstra over
// the touched columns only — relax the new tree row's edges (from a compact
// per-row list, or a scan of the row when it has more than CAP edges),
// take the frontier column of least (path cost, free first, lowest index),
// stop at a free column; then the dual update and the path flip. Stamps per
// column mark "touched / scanned in augmentation a", so nothing is reset per
// augmentation. Every loop has a static or already-computed bound (a tree
// has at most cur + 1 steps), so NaN or garbage can never make it run on.
//
// Cost per image: the candidate pass reads the g×N block once on the CPU
// (a row is read again only when its running minimum fell or it holds a
// non-finite entry) and three times on GPUs, split over the workgroup's 64
// threads (minimum, count, edges in column order); the solve costs
// Σ_aug Σ_steps (edges of the new row + frontier size), i.e. about
// g · k̄ · (candidates per GT) for POTO, k̄ the tree steps per augmentation;
// a row over CAP candidates costs N per visit (the dense scan scipy does for
// every row). The GPU solve divides a step's relaxations and frontier scan
// by the workgroup size, for about four barriers per step. Workspace (Program scratch): 2G f32 and
// 6G + 1 + 7(N + G) + G·CAP i32 per image (CAP: matchCap).
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import {
  add, and, barrier, bin, bool, cast, f32, for_, gid, i32, idx, if_, let_, lid, lload, lstore, lt, max, min, mul, sel, set, store, storageBarrier, sub, threadStrided, un, v,
} from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { Scheduled } from '../schedule/pointwise.js';
import type { Target } from '../target.js';
import { parallelSolve } from './match-parallel.js';
import type { MatchPieces } from './match-parallel.js';

/**
 * Candidates kept in a row's compact list; a row with more is scanned densely
 * at each visit. WebGPU keeps the workspace small (128 MiB per binding);
 * elsewhere a large box's candidates (CrowdHuman's box prior: ~1,500 at P3)
 * still fit.
 */
export function matchCap(target: Target, N: number): number {
  return Math.max(1, Math.min(N, target.name === 'webgpu' ? 512 : 2048));
}

/** Per-image workspace layout (i32 words and f32 words). */
export function matchLayout(G: number, N: number, cap: number, wg = 1): { cap: number; ints: number; floats: number; off: Record<string, number> } {
  const M = N + G;
  const names = ['ecnt', 'nflag', 'u', 'c4r', 'sr'];
  const off: Record<string, number> = {};
  let at = 0;
  for (const n of names) { off[n] = at; at += G; }
  off.sc = at; at += G + 1;
  for (const n of ['v', 'r4c', 'spc', 'path', 'tst', 'sst']) { off[n] = at; at += M; }
  // Frontier lists: one of ⌈M/wg⌉ columns per thread (thread t owns the columns j ≡ t mod wg).
  off.fr = at; at += wg * Math.ceil(M / wg);
  off.edge = at; at += G * cap;
  return { cap, ints: at, floats: 2 * G, off };
}

export function scheduleMatch(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [qv, cv] = node.inputs;
  const [B, G, N] = em.shape(qv);
  // The CPU runs a workgroup's threads as a loop: one thread there; GPUs split the candidate pass.
  const WG = target.name === 'cpu' ? 1 : 64;
  // Real GPUs split each tree step over the workgroup (match-parallel.ts); a software adapter, whose barriers are expensive, solves on one thread.
  const parallel = WG > 1 && !target.software;
  const L = matchLayout(G, N, matchCap(target, N), parallel ? WG : 1);
  const outBuf = em.buf(node.outputs[0], 'w');
  const qb = em.buf(qv, 'r'), cb = em.buf(cv, 'r');
  const k = matchKernel(em, target, { G, N, WG, L, outBuf, qb, cb });
  const body: Stmt[] = [
    ...freshWorkspace(k, N + G),
    ...candidatePass(k), // thread 0 reads the other threads' workspace writes after it
    ...(parallel
      ? parallelSolve({ em, WG, G, FC: Math.ceil((N + G) / WG), iget: k.iget, iput: k.iput, ...solvePieces(k) })
      : [if_(bin('eq', lid, idx(0)), oneThreadSolve(k))]),
  ];
  return {
    kernel: {
      bufs: [...em.bufs.map((b) => ({ dtype: b.dtype, access: b.access })), { dtype: 'f32', access: 'rw' }, { dtype: 'i32', access: 'rw' }],
      nargs: 0, workgroupSize: WG, locals: em.locals, regs: em.regs, body,
    },
    bufValues: em.bufs.map((b) => b.value),
    scratch: [{ dtype: 'f32', bytes: 4 * B * L.floats }, { dtype: 'i32', bytes: 4 * B * L.ints }],
    args: [],
    grid: B,
  };
}

/** What the schedule's pieces share: sizes, the output, and the accessors of the inputs and this image's workspace (fixed once the buffers are bound). */
interface MatchKernel {
  em: Emitter; target: Target;
  G: number; N: number;
  /** Candidates a row's compact list holds (matchCap). */
  CAP: number;
  /** Threads per workgroup: 1 on the CPU, 64 on GPUs. */
  WG: number;
  outBuf: number;
  /** Word i of the i32 workspace array `name` (matchLayout), as i64. */
  iget(name: string, i: Expr): Expr;
  iput(name: string, i: Expr, val: Expr): Stmt;
  /** The row summaries (f32 workspace): 0 the row's finite minimum, 1 its finite maximum. */
  fget(row: Expr, which: 0 | 1): Expr;
  fput(row: Expr, which: 0 | 1, val: Expr): Stmt;
  /** The quality of (row, col) in this image. */
  q(row: Expr, col: Expr): Expr;
  /** This image's object count, clamped to [0, G]. */
  gCount(): Expr;
  /** x is finite. */
  fin(x: Expr): Expr;
}

interface MatchBuffers { G: number; N: number; WG: number; L: ReturnType<typeof matchLayout>; outBuf: number; qb: number; cb: number }

/** The accessors, with the workspace buffers following the graph's (Scheduled.scratch). */
function matchKernel(em: Emitter, target: Target, { G, N, WG, L, outBuf, qb, cb }: MatchBuffers): MatchKernel {
  const fS = em.bufs.length, iS = fS + 1;
  const ia = (name: string, i: Expr): Expr => add(add(mul(gid, idx(L.ints)), idx(L.off[name])), i);
  const fa = (row: Expr, which: 0 | 1): Expr => add(add(mul(gid, idx(L.floats)), idx(which * G)), row);
  return {
    em, target, G, N, CAP: L.cap, WG, outBuf,
    iget: (name, i) => I({ k: 'load', buf: iS, idx: ia(name, i), t: 'i32' }),
    iput: (name, i, val) => store(iS, ia(name, i), cast(val, 'i32')),
    fget: (row, which) => ({ k: 'load', buf: fS, idx: fa(row, which), t: 'f32' }),
    fput: (row, which, val) => store(fS, fa(row, which), val),
    q: (row, col) => em.bufLoad(qb, add(mul(add(mul(gid, idx(G)), row), idx(N)), col), 'f32'),
    gCount: () => max(idx(0), min(idx(G), I(em.bufLoad(cb, gid, 'i32')))),
    // |x| < Inf is false for NaN under IEEE comparisons (C, CUDA); WGSL may assume no NaN, so it also asks isnan.
    fin: (x) => {
      const bounded = lt(un('abs', x), f32(Infinity));
      return target.name === 'webgpu' ? and(un('not', un('isnan', x)), bounded) : bounded;
    },
  };
}

const I = (e: Expr): Expr => cast(e, 'i64');
// Plain comparisons where both operands are finite or ±Inf sentinels (fminf/fmaxf would add NaN handling).
const fmin = (a: Expr, b: Expr): Expr => sel(lt(b, a), b, a);
const fmax = (a: Expr, b: Expr): Expr => sel(bin('gt', b, a), b, a);
const fv = (n: string): Expr => v(n, 'f32');
const bv = (n: string): Expr => v(n, 'bool');
/** x is an edge of a row with finite minimum rmn: above it, or any finite entry in a row holding a non-finite one. */
const edge = (k: MatchKernel, x: Expr, rmn: Expr, anyNf: Expr): Expr => and(k.fin(x), bin('or', anyNf, bin('gt', x, rmn)));

/** Fresh workspace: no augmentation has touched a column yet (stamps 0), nothing is assigned. */
function freshWorkspace({ G, WG, iput }: MatchKernel, M: number): Stmt[] {
  return [
    threadStrided('jz', idx(M), WG, [iput('v', v('jz'), idx(0)), iput('r4c', v('jz'), idx(-1)), iput('tst', v('jz'), idx(0)), iput('sst', v('jz'), idx(0))]),
    threadStrided('iz', idx(G), WG, [iput('u', v('iz'), idx(0)), iput('c4r', v('iz'), idx(-1))]),
  ];
}

/** The candidate pass's row pieces, over this thread's contiguous share [lo, hi) of the columns (all of them on one thread). */
interface RowPieces {
  /** body for each column j of row i in this thread's share, with x = q(i, j). */
  rowLoop(body: Stmt[]): Stmt;
  /** This thread's edges of row i (entries above rmn, or every finite one in a row with a non-finite entry) from list slot `off` on. */
  collect(rmn: Expr, anyNf: Expr): Stmt;
  /** Row i's edge count and non-finite flag, minimum and maximum into the workspace. */
  rowSummary(tot: Expr, rmn: Expr, rmx: Expr, anyNf: Expr): Stmt[];
  /** rmn (the row's finite minimum), rmx, anf from the threads' partials. */
  combine(): Stmt[];
}

function rowPieces(k: MatchKernel): RowPieces {
  const { N, WG, CAP, iput } = k;
  const C = Math.ceil(N / WG);
  const lo = mul(lid, idx(C)), hi = min(add(mul(lid, idx(C)), idx(C)), idx(N));
  const rowLoop = (body: Stmt[]): Stmt => for_('j', lo, hi, [let_('x', 'f32', k.q(v('i'), v('j'))), ...body]);
  return {
    rowLoop,
    collect: (rmn, anyNf) => rowLoop([if_(edge(k, fv('x'), rmn, anyNf), [
      if_(lt(v('off'), idx(CAP)), [iput('edge', add(mul(v('i'), idx(CAP)), v('off')), v('j'))]),
      set('off', add(v('off'), idx(1))),
    ])]),
    rowSummary: (tot, rmn, rmx, anyNf) => [
      iput('ecnt', v('i'), tot), iput('nflag', v('i'), cast(anyNf, 'i64')),
      k.fput(v('i'), 0, rmn), k.fput(v('i'), 1, rmx),
    ],
    combine: () => [
      let_('rmn', 'f32', f32(Infinity)), let_('rmx', 'f32', f32(-Infinity)), let_('nfs', 'i64', idx(0)),
      for_('t', idx(0), idx(WG), [
        set('rmn', fmin(fv('rmn'), lload('pmin', v('t'), 'f32'))), set('rmx', fmax(fv('rmx'), lload('pmax', v('t'), 'f32'))),
        set('nfs', add(v('nfs'), I(lload('pnf', v('t'), 'i32')))),
      ]),
      let_('anf', 'bool', bin('gt', v('nfs'), idx(0))),
    ],
  };
}

/** Candidate pass, row by row: the row's finite min/max and NaN count, then its edges in column order. */
function candidatePass(k: MatchKernel): Stmt[] {
  const { em, WG } = k;
  em.locals.push({ name: 'pmin', t: 'f32', size: WG }, { name: 'pmax', t: 'f32', size: WG }, { name: 'pnf', t: 'i32', size: WG });
  if (WG === 1) return [let_('g1', 'i64', k.gCount()), onePass(k, rowPieces(k))];
  em.locals.push({ name: 'pcnt', t: 'i32', size: WG });
  const rows = rowPieces(k);
  const forRow = (body: Stmt[]): Stmt => if_(lt(v('i'), k.gCount()), body);
  return [
    for_('i', idx(0), idx(k.G), [
      forRow(rowExtremes(k, rows)), barrier,
      forRow(rowEdgeCount(k, rows)), barrier,
      forRow(rowEdges(k, rows)), barrier,
    ]),
    storageBarrier,
  ];
}

/**
 * One thread (CPU): a single pass keeps the entries above the running
 * minimum. They stay edges whatever comes later; only entries equal to an
 * earlier minimum are missed, so a second pass runs when the minimum fell
 * after the first finite entry or the row has a non-finite entry (POTO's
 * rows start with a −1 outside the prior: one pass).
 */
function onePass(k: MatchKernel, { rowLoop, collect, rowSummary }: RowPieces): Stmt {
  const { CAP, iput } = k;
  return for_('i', idx(0), v('g1'), [
    let_('mn', 'f32', f32(Infinity)), let_('mx', 'f32', f32(-Infinity)), let_('nfc', 'i64', idx(0)),
    let_('off', 'i64', idx(0)), let_('seen', 'bool', bool(false)), let_('again', 'bool', bool(false)),
    rowLoop([if_(k.fin(fv('x')), [
      if_(lt(fv('x'), fv('mn')), [set('again', bv('seen')), set('seen', bool(true)), set('mn', fv('x'))], [
        if_(bin('gt', fv('x'), fv('mn')), [
          if_(lt(v('off'), idx(CAP)), [iput('edge', add(mul(v('i'), idx(CAP)), v('off')), v('j'))]),
          set('off', add(v('off'), idx(1))),
        ]),
      ]),
      set('mx', fmax(fv('mx'), fv('x'))),
    ], [set('nfc', add(v('nfc'), idx(1)))])]),
    let_('anf', 'bool', bin('gt', v('nfc'), idx(0))),
    if_(bin('or', bv('again'), bv('anf')), [set('off', idx(0)), collect(fv('mn'), bv('anf'))]),
    ...rowSummary(v('off'), fv('mn'), fv('mx'), bv('anf')),
  ]);
}

/** Workgroup pass, phase 1: this thread's finite min, max and non-finite count of row i. */
function rowExtremes(k: MatchKernel, { rowLoop }: RowPieces): Stmt[] {
  return [
    let_('mn', 'f32', f32(Infinity)), let_('mx', 'f32', f32(-Infinity)), let_('nfc', 'i64', idx(0)),
    rowLoop([if_(k.fin(fv('x')), [set('mn', fmin(fv('mn'), fv('x'))), set('mx', fmax(fv('mx'), fv('x')))], [set('nfc', add(v('nfc'), idx(1)))])]),
    lstore('pmin', lid, fv('mn')), lstore('pmax', lid, fv('mx')), lstore('pnf', lid, cast(v('nfc'), 'i32')),
  ];
}

/** Phase 2: this thread's edge count of row i, against the row's minimum. */
function rowEdgeCount(k: MatchKernel, { rowLoop, combine }: RowPieces): Stmt[] {
  return [
    ...combine(), let_('cnt', 'i64', idx(0)),
    rowLoop([if_(edge(k, fv('x'), fv('rmn'), bv('anf')), [set('cnt', add(v('cnt'), idx(1)))])]),
    lstore('pcnt', lid, cast(v('cnt'), 'i32')),
  ];
}

/** Phase 3: this thread's edges into the row's list after the lower threads' (threads own contiguous chunks); thread 0 writes the summary. */
function rowEdges(k: MatchKernel, { collect, rowSummary, combine }: RowPieces): Stmt[] {
  return [
    ...combine(),
    let_('off', 'i64', idx(0)), let_('tot', 'i64', idx(0)),
    for_('t', idx(0), idx(k.WG), [
      if_(lt(v('t'), lid), [set('off', add(v('off'), I(lload('pcnt', v('t'), 'i32'))))]),
      set('tot', add(v('tot'), I(lload('pcnt', v('t'), 'i32')))),
    ]),
    collect(fv('rmn'), bv('anf')),
    if_(bin('eq', lid, idx(0)), rowSummary(v('tot'), fv('rmn'), fv('rmx'), bv('anf'))),
  ];
}

// The solve's pieces, shared by the one-thread solve below and the workgroup solve (match-parallel.ts).
// They read lets named S, WmaxF, Wmax, m (the scale) and the augmentation's a, i, ui, minVal.

/** The quantised weight of quality x in a row with baseline b (see the header). */
const weight = (x: Expr, b: Expr): Expr =>
  I(min(max(un('floor', add(mul(sub(x, b), fv('S')), f32(0.5))), f32(0)), fv('WmaxF')));

/** Row's baseline b_i: its finite minimum, or m − 1 in a row holding a non-finite entry. */
const baseline = ({ iget, fget }: MatchKernel, row: Expr): Expr => sel(bin('ne', iget('nflag', row), idx(0)), sub(fv('m'), f32(1)), fget(row, 0));

/** Among frontier entries, (s, fj, jj) beats the best so far (bp, bs, bfree, bj): least cost, then free, then lowest column. */
const BETTER = bin('or', lt(v('bp'), idx(0)), bin('or', lt(v('s'), v('bs')), and(bin('eq', v('s'), v('bs')),
  bin('or', and(bv('fj'), un('not', bv('bfree'))), and(bin('eq', bv('fj'), bv('bfree')), lt(v('jj'), v('bj')))))));

/** What both solves take from the schedule (match-parallel.ts MatchPieces less the sizes and accessors). */
function solvePieces(k: MatchKernel): Pick<MatchPieces, 'relaxRow' | 'better' | 'params' | 'finishAug' | 'fillOutput'> {
  return {
    relaxRow: (own, append, scanFrom, stride) => relaxRow(k, own, append, scanFrom, stride),
    better: BETTER,
    params: () => scaleParams(k),
    finishAug: () => finishAugmentation(k),
    fillOutput: () => fillOutput(k),
  };
}

/** Relax column j (weight w) from tree row i unless scanned in augmentation a; `append` adds a first-touched column to a frontier. */
function relax({ iget, iput }: MatchKernel, j: Expr, w: Expr, append: (rj: Expr) => Stmt[]): Stmt[] {
  return [
    let_('rj', 'i64', j),
    if_(bin('ne', iget('sst', v('rj')), v('a')), [
      let_('r', 'i64', sub(sub(add(v('minVal'), sub(v('Wmax'), w)), v('ui')), iget('v', v('rj')))),
      if_(bin('ne', iget('tst', v('rj')), v('a')), [
        iput('tst', v('rj'), v('a')), iput('spc', v('rj'), v('r')), iput('path', v('rj'), v('i')), ...append(v('rj')),
      ], [
        if_(lt(v('r'), iget('spc', v('rj'))), [iput('spc', v('rj'), v('r')), iput('path', v('rj'), v('i'))]),
      ]),
    ]),
  ];
}

/** Row i's edges (compact list, or a scan of the row split `stride` ways from `scanFrom`), then its dummy, each where `own` says. */
function relaxRow(k: MatchKernel, own: (j: Expr) => Expr, append: (rj: Expr) => Stmt[], scanFrom: Expr, stride: number): Stmt[] {
  const { N, CAP, iget } = k;
  return [
    let_('ui', 'i64', iget('u', v('i'))), let_('bi', 'f32', baseline(k, v('i'))), let_('ec', 'i64', iget('ecnt', v('i'))),
    if_(bin('le', v('ec'), idx(CAP)), [
      for_('e', idx(0), v('ec'), [
        let_('je', 'i64', iget('edge', add(mul(v('i'), idx(CAP)), v('e')))),
        if_(own(v('je')), relax(k, v('je'), weight(k.q(v('i'), v('je')), fv('bi')), append)),
      ]),
    ], [
      let_('rmn', 'f32', k.fget(v('i'), 0)), let_('anf', 'bool', bin('ne', iget('nflag', v('i')), idx(0))),
      for_('jk', idx(0), idx(Math.ceil(N / stride)), [
        let_('jd', 'i64', add(scanFrom, mul(v('jk'), idx(stride)))),
        if_(lt(v('jd'), idx(N)), [
          let_('xd', 'f32', k.q(v('i'), v('jd'))),
          if_(edge(k, fv('xd'), fv('rmn'), bv('anf')), relax(k, v('jd'), weight(fv('xd'), fv('bi')), append)),
        ]),
      ]),
    ]),
    if_(own(add(idx(N), v('i'))), relax(k, add(idx(N), v('i')), idx(0), append)),
  ];
}

/** g, the row baselines' minimum m, the range R, Wmax and the scale S (see the header). */
function scaleParams(k: MatchKernel): Stmt[] {
  const { fget } = k;
  return [
    let_('g', 'i64', k.gCount()),
    let_('m', 'f32', f32(Infinity)),
    for_('i', idx(0), v('g'), [set('m', min(fv('m'), fget(v('i'), 0)))]),
    let_('R', 'f32', f32(0)),
    for_('i', idx(0), v('g'), [if_(lt(fget(v('i'), 0), f32(Infinity)), [set('R', max(fv('R'), sub(fget(v('i'), 1), baseline(k, v('i')))))])]),
    let_('Wmax', 'i64', min(idx(1 << 23), bin('div', idx(2147483647), add(v('g'), idx(2))))),
    let_('WmaxF', 'f32', cast(v('Wmax'), 'f32')),
    let_('S', 'f32', f32(1)),
    if_(bin('gt', fv('R'), f32(0)), [
      for_('k', idx(0), idx(128), [if_(bin('le', mul(mul(fv('S'), f32(2)), fv('R')), fv('WmaxF')), [set('S', mul(fv('S'), f32(2)))])]),
      for_('k', idx(0), idx(160), [if_(bin('gt', mul(fv('S'), fv('R')), fv('WmaxF')), [set('S', mul(fv('S'), f32(0.5)))])]),
    ]),
  ];
}

/** After augmentation cur found `sink` (lets minVal, nsr, nsc): the dual update and the path flip. */
function finishAugmentation({ iget, iput }: MatchKernel): Stmt[] {
  return [
    if_(bin('ge', v('sink'), idx(0)), [
      iput('u', v('cur'), add(iget('u', v('cur')), v('minVal'))),
      for_('k', idx(0), v('nsr'), [
        let_('rr', 'i64', iget('sr', v('k'))),
        if_(bin('ne', v('rr'), v('cur')), [iput('u', v('rr'), add(iget('u', v('rr')), sub(v('minVal'), iget('spc', iget('c4r', v('rr'))))))]),
      ]),
      for_('k', idx(0), v('nsc'), [
        let_('jc', 'i64', iget('sc', v('k'))),
        iput('v', v('jc'), sub(iget('v', v('jc')), sub(v('minVal'), iget('spc', v('jc'))))),
      ]),
      // Flip the path from the sink back to the root.
      let_('jf', 'i64', v('sink')), let_('done', 'bool', bool(false)),
      for_('k', idx(0), v('nsr'), [if_(un('not', bv('done')), [
        let_('rf', 'i64', iget('path', v('jf'))), iput('r4c', v('jf'), v('rf')),
        let_('old', 'i64', iget('c4r', v('rf'))), iput('c4r', v('rf'), v('jf')), set('jf', v('old')),
        if_(bin('eq', v('rf'), v('cur')), [set('done', bool(true))]),
      ])]),
    ]),
  ];
}

/** Rows left on their dummy (or, impossibly, unassigned) take the lowest unused real columns in row order; padded rows -1. */
function fillOutput({ G, N, outBuf, iget }: MatchKernel): Stmt[] {
  const out = (row: Expr): Expr => add(mul(gid, idx(G)), row);
  return [
    for_('k', idx(0), idx(G), [store(outBuf, out(v('k')), i32(-1))]),
    let_('fi', 'i64', idx(0)), let_('jp', 'i64', idx(0)),
    for_('st', idx(0), add(idx(N), v('g')), [if_(lt(v('fi'), v('g')), [
      let_('cf', 'i64', iget('c4r', v('fi'))),
      if_(and(bin('ge', v('cf'), idx(0)), lt(v('cf'), idx(N))), [
        store(outBuf, out(v('fi')), cast(v('cf'), 'i32')), set('fi', add(v('fi'), idx(1))),
      ], [if_(lt(v('jp'), idx(N)), [
        if_(lt(iget('r4c', v('jp')), idx(0)), [
          store(outBuf, out(v('fi')), cast(v('jp'), 'i32')), set('fi', add(v('fi'), idx(1))),
        ]),
        set('jp', add(v('jp'), idx(1))),
      ])]),
    ])]),
  ];
}

/** One thread: Crouse's SAP with one frontier list. */
function oneThreadSolve(k: MatchKernel): Stmt[] {
  return [
    ...scaleParams(k),
    for_('cur', idx(0), v('g'), [
      let_('a', 'i64', add(v('cur'), idx(1))),
      let_('i', 'i64', v('cur')), let_('minVal', 'i64', idx(0)),
      let_('nsr', 'i64', idx(0)), let_('nsc', 'i64', idx(0)), let_('nf', 'i64', idx(0)), let_('sink', 'i64', idx(-1)),
      // At most cur + 1 steps: every step but the last scans an assigned column.
      for_('st', idx(0), add(v('cur'), idx(1)), [if_(bin('eq', v('sink'), idx(-1)), oneThreadStep(k))]),
      ...finishAugmentation(k),
    ]),
    ...fillOutput(k),
  ];
}

/** One tree step: row i joins the tree, its edges are relaxed, and the best frontier column is scanned (a free one ends the augmentation). */
function oneThreadStep(k: MatchKernel): Stmt[] {
  const { iget, iput } = k;
  const push = (rj: Expr): Stmt[] => [iput('fr', v('nf'), rj), set('nf', add(v('nf'), idx(1)))];
  return [
    iput('sr', v('nsr'), v('i')), set('nsr', add(v('nsr'), idx(1))),
    ...relaxRow(k, () => bool(true), push, idx(0), 1),
    // The frontier column of least (cost, free first, lowest index).
    let_('bp', 'i64', idx(-1)), let_('bs', 'i64', idx(0)), let_('bj', 'i64', idx(0)), let_('bfree', 'bool', bool(false)),
    for_('p', idx(0), v('nf'), [
      let_('jj', 'i64', iget('fr', v('p'))), let_('s', 'i64', iget('spc', v('jj'))), let_('fj', 'bool', lt(iget('r4c', v('jj')), idx(0))),
      if_(BETTER, [set('bp', v('p')), set('bs', v('s')), set('bj', v('jj')), set('bfree', bv('fj'))]),
    ]),
    if_(bin('ge', v('bp'), idx(0)), [
      iput('fr', v('bp'), iget('fr', sub(v('nf'), idx(1)))), set('nf', sub(v('nf'), idx(1))),
      set('minVal', v('bs')), iput('sst', v('bj'), v('a')), iput('sc', v('nsc'), v('bj')), set('nsc', add(v('nsc'), idx(1))),
      if_(bv('bfree'), [set('sink', v('bj'))], [set('i', iget('r4c', v('bj')))]),
    ], [set('sink', idx(-2))]), // cannot happen (the root's dummy is always reachable): stop rather than loop
  ];
}

/**
 * The bound above for one image (quality rows [count, N] from the start of
 * `q`): how far the kernel's total may fall below the float optimum, 2·g/S,
 * with the kernel's own R, Wmax and S. Zero when all rows are constant.
 */
export function matchGapBound(q: ArrayLike<number>, N: number, count: number): number {
  if (count === 0) return 0;
  let lo = Infinity, R = 0;
  for (let k = 0; k < count * N; k++) if (Number.isFinite(q[k])) lo = Math.min(lo, q[k]);
  for (let r = 0; r < count; r++) {
    let mn = Infinity, mx = -Infinity, nonFinite = false;
    for (let j = 0; j < N; j++) {
      const x = q[r * N + j];
      if (Number.isFinite(x)) { mn = Math.min(mn, x); mx = Math.max(mx, x); } else nonFinite = true;
    }
    // f32 as in the kernel, so S is the kernel's.
    if (mn !== Infinity) R = Math.max(R, Math.fround(mx - (nonFinite ? Math.fround(lo - 1) : mn)));
  }
  if (R === 0) return 0;
  const wmax = Math.min(2 ** 23, Math.floor(2147483647 / (count + 2)));
  let S = 1;
  for (let k = 0; k < 128 && Math.fround(S * 2 * R) <= wmax; k++) S *= 2;
  for (let k = 0; k < 160 && Math.fround(S * R) > wmax; k++) S /= 2;
  return (2 * count) / S;
}
