// conv2d and matmul for a software WebGPU adapter (SwiftShader): a GEMM with
// no workgroup memory and no barrier. SwiftShader is a CPU: it runs each
// invocation of a kernel with barriers as a coroutine (a context switch per
// barrier per invocation), while the CPU caches already give the reuse a
// shared panel would. So each invocation computes a TM × TN register tile of
// the output straight from the storage buffers: TM output channels (rows of
// A) by TN output pixels (columns of B).
//
// Convolutions (GemmParts.window) take TN consecutive pixels of one output
// row. The K loop walks (input channel, tap row) with the tap row's input
// patch loaded once into scalars: TN·stride + (KW - 1)·dilation columns
// serve all TN·KW products of that row, and the im2col index math (image
// bounds, clamps) is hoisted out of the loop, per patch column. Other GEMMs
// (matmul; the weight gradient, its per-column tables held in registers)
// walk k with TM loads of A and TN of B per step. GEMMs whose tables are per
// (tap, column) (the input gradient) keep the tiled schedule (gemm.ts).
//
// Every loop inside the K loop is unrolled here (constant register indices),
// and there is a single dynamic loop: SwiftShader's compile time grows
// steeply with the tile values live across nested loops.
import type { Graph, GNode } from '../graph.js';
import type { Expr, Stmt } from '../kernel/ir.js';
import { mapChildren, mapStmtExprs } from '../kernel/walk.js';
import { add, and, bin, div, f32, for_, gid, idx, if_, inRange, let_, lid, lt, max, min, mod, mul, sel, set, sub, v } from '../kernel/build.js';
import type { Emitter } from './emit.js';
import { type GemmParts, type GemmShape, packingOf } from './gemm.js';
import { Scheduled, finish, unflatten } from './pointwise.js';

/** Geometry of a convolution's implicit GEMM: B[k, n] is its input window (k = channel × KH × KW + tap). */
export interface ConvWindow {
  /** Kernel buffers of the input and of the weights [M, C, KH, KW] (per group); `xbase`/`wbase` lets come from GemmParts.setup. */
  x: number;
  w: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/** The register tile of the barrier-free schedule and its workgroup size. */
export interface DirectTile {
  TM: number;
  TN: number;
  WG: number;
  /** Convs: every tap row in one step of the channel loop (else one tap row per step). */
  allRows: boolean;
}

/** Output values one invocation holds: 8 × 16 beat 8 × 8 and 4 × 32 on SwiftShader (3×3 convs, 64 channels, 32×32). */
const TM_MAX = 8, TN_MAX = 16, TN_SMALL = 8, SMALL_MACS = 1 << 23, WG_MAX = 64, WG_MIN = 8, MIN_WORKGROUPS = 32;
/** Products per unrolled tap row: keeps a 7×7 stem's loop body (and its build time) bounded. */
const MAX_ROW_PRODUCTS = 1152;

export function chooseDirectTile(s: GemmShape, window: ConvWindow | undefined, maxInvocations: number): DirectTile {
  const TM = Math.min(TM_MAX, s.M);
  const width = window ? window.OW : s.N;
  // A small GEMM runs in far less time than SwiftShader takes to build a
  // large unrolled body: it gets a narrower tile and one tap row per step.
  const small = s.problems * s.M * s.N * s.K < SMALL_MACS;
  // Equal tiles across a row: a 25-wide row is two 13-wide tiles, not 16 + 9.
  let TN = Math.ceil(width / Math.ceil(width / (small ? TN_SMALL : TN_MAX)));
  const kw = window?.KW ?? 1;
  while (TN > 1 && TM * TN * kw > MAX_ROW_PRODUCTS) TN = Math.ceil(TN / 2);
  const invocations = s.problems * Math.ceil(s.M / TM) * (window ? window.OH : 1) * Math.ceil(width / TN);
  // SwiftShader hands whole workgroups to its threads: smaller ones keep a
  // many-core host busy on a small GEMM (on 2 cores 8 to 64 measured alike).
  let WG = WG_MAX;
  while (WG > WG_MIN && invocations < WG * MIN_WORKGROUPS) WG >>= 1;
  return { TM, TN, WG: Math.max(1, Math.min(WG, maxInvocations)), allRows: !small && window !== undefined && window.KH * window.KW <= 9 };
}

export function scheduleDirectGemm<P, R>(em: Emitter, graph: Graph, anchor: GNode, sink: number, s: GemmShape, parts: GemmParts<P, R>, maxInvocations: number): Scheduled | undefined {
  const window = parts.window;
  const tile = chooseDirectTile(s, window, maxInvocations);
  const { TM, TN, WG } = tile;
  // Tables per column become registers; per (tap, column) ones (the input gradient's) need the tiled schedule.
  if (parts.tables && !window && (!parts.tables.every((tab) => tab.size(TN) === TN && tab.size(2 * TN) === 2 * TN) || !tablesAtConstantColumns(em, parts, TN))) return undefined;
  const rowBlocks = Math.ceil(s.M / TM);
  const tilesPerRow = Math.ceil((window ? window.OW : s.N) / TN);
  const colTiles = window ? window.OH * tilesPerRow : tilesPerRow;
  const total = s.problems * rowBlocks * colTiles;
  const sinkValue = graph.nodes[sink].outputs[0];
  const outBuf = em.buf(sinkValue, 'w');
  const acc = (i: number, j: number): string => `acc_${i}_${j}`;
  const body = em.block(() => {
    em.emit(let_('t', 'i64', add(mul(gid, idx(WG)), lid)));
    const inner = em.block(() => {
      // Column tiles vary fastest: neighbouring invocations (one SIMD group) share their weights.
      const [problem, rb, ct] = unflatten(em, v('t'), [s.problems, rowBlocks, colTiles], 'q');
      const p = parts.setup(problem);
      em.emit(let_('r0', 'i64', mul(rb, idx(TM))));
      if (window) {
        em.emit(let_('oh', 'i64', div(ct, idx(tilesPerRow))));
        em.emit(let_('ow0', 'i64', mul(mod(ct, idx(tilesPerRow)), idx(TN))));
        em.emit(let_('n0', 'i64', add(mul(v('oh'), idx(window.OW)), v('ow0'))));
      } else {
        em.emit(let_('n0', 'i64', mul(ct, idx(TN))));
      }
      for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) em.emit(let_(acc(i, j), 'f32', f32(0)));
      const fma = (i: number, j: number, w: Expr, x: Expr): void => em.emit(set(acc(i, j), bin('add', v(acc(i, j), 'f32'), bin('mul', w, x))));
      if (window) convLoop(em, window, s, tile, fma);
      else gemmLoop(em, parts, p, s, TM, TN, fma);
      epilogue(em, anchor, sinkValue, outBuf, s, parts, p, TM, TN, window);
    });
    em.emit(if_(lt(v('t'), idx(total)), inner));
  });
  return finish(em, body, WG, [], Math.ceil(total / WG));
}

type Fma = (i: number, j: number, w: Expr, x: Expr) => void;

/** The weight rows of the tile, clamped (rows past M compute a copy of the last one and are not stored). */
function rowLets(em: Emitter, s: GemmShape, TM: number): Expr[] {
  return Array.from({ length: TM }, (_, i) => {
    em.emit(let_(`rw_${i}`, 'i64', min(add(v('r0'), idx(i)), idx(s.M - 1))));
    return v(`rw_${i}`);
  });
}

function convLoop(em: Emitter, w: ConvWindow, s: GemmShape, { TM, TN, allRows }: DirectTile, fma: Fma): void {
  const taps = w.KH * w.KW;
  // Small windows (3×3, 1×1) unroll every tap row into one channel step; larger ones loop over (channel, tap row).
  const rowsPerStep = allRows ? w.KH : 1;
  const steps = w.C * (w.KH / rowsPerStep);
  // Weight row starts, hoisted: A[row, k] = W[wbase + row·K + k].
  const wrow = rowLets(em, s, TM).map((r, i) => {
    em.emit(let_(`wr_${i}`, 'i64', add(v('wbase'), mul(r, idx(s.K)))));
    return v(`wr_${i}`);
  });
  // Patch columns: input column iw = ow0·sw − pw + q for q = j·sw + kw·dw, clamped into the image, with its validity.
  const used = new Set<number>();
  for (let j = 0; j < TN; j++) for (let kw = 0; kw < w.KW; kw++) used.add(j * w.sw + kw * w.dw);
  const cols = new Map<number, { at: Expr; ok: Expr }>();
  for (const q of [...used].sort((a, b) => a - b)) {
    em.emit(let_(`iw_${q}`, 'i64', add(sub(mul(v('ow0'), idx(w.sw)), idx(w.pw)), idx(q))));
    const iw = v(`iw_${q}`);
    em.emit(let_(`cok_${q}`, 'bool', inRange(iw, w.W)));
    em.emit(let_(`iwc_${q}`, 'i64', min(max(iw, idx(0)), idx(w.W - 1))));
    cols.set(q, { at: v(`iwc_${q}`), ok: v(`cok_${q}`, 'bool') });
  }
  // Per tap row: the clamped input row offset and its validity.
  const rowAt = (kh: Expr, name: string): { at: Expr; ok: Expr } => {
    em.emit(let_(`ih_${name}`, 'i64', add(sub(mul(v('oh'), idx(w.sh)), idx(w.ph)), mul(kh, idx(w.dh)))));
    const ih = v(`ih_${name}`);
    em.emit(let_(`rok_${name}`, 'bool', inRange(ih, w.H)));
    em.emit(let_(`ihw_${name}`, 'i64', mul(min(max(ih, idx(0)), idx(w.H - 1)), idx(w.W))));
    return { at: v(`ihw_${name}`), ok: v(`rok_${name}`, 'bool') };
  };
  const hoisted = rowsPerStep === w.KH ? Array.from({ length: w.KH }, (_, kh) => rowAt(idx(kh), String(kh))) : [];
  const step = em.block(() => {
    const c = rowsPerStep === w.KH ? v('cs') : div(v('cs'), idx(w.KH));
    const kh0 = rowsPerStep === w.KH ? idx(0) : mod(v('cs'), idx(w.KH));
    em.emit(let_('xc', 'i64', add(v('xbase'), mul(c, idx(w.H * w.W)))));
    em.emit(let_('wc', 'i64', mul(c, idx(taps))));
    for (let r = 0; r < rowsPerStep; r++) {
      const row = hoisted.length ? hoisted[r] : rowAt(kh0, 'd');
      em.emit(let_(`xr_${r}`, 'i64', add(v('xc'), row.at)));
      const patch = new Map<number, Expr>();
      for (const [q, col] of cols) {
        const name = `x_${r}_${q}`;
        em.emit(let_(name, 'f32', sel(and(row.ok, col.ok), em.bufLoad(w.x, add(v(`xr_${r}`), col.at), 'f32'), f32(0))));
        patch.set(q, v(name, 'f32'));
      }
      // Tap (kh, kw) of this row: k = c·KH·KW + kh·KW + kw.
      const tapRow = hoisted.length ? idx(r * w.KW) : mul(kh0, idx(w.KW));
      for (let kw = 0; kw < w.KW; kw++) {
        for (let i = 0; i < TM; i++) {
          const wv = `w_${r}_${kw}_${i}`;
          em.emit(let_(wv, 'f32', em.bufLoad(w.w, add(add(wrow[i], v('wc')), add(tapRow, idx(kw))), 'f32')));
          for (let j = 0; j < TN; j++) fma(i, j, v(wv, 'f32'), patch.get(j * w.sw + kw * w.dw)!);
        }
      }
    }
  });
  em.emit(for_('cs', idx(0), idx(steps), step));
}

function gemmLoop<P, R>(em: Emitter, parts: GemmParts<P, R>, p: P, s: GemmShape, TM: number, TN: number, fma: Fma): void {
  const rows = rowLets(em, s, TM);
  // Columns past N read the last one (in bounds) and are not stored.
  const cols = Array.from({ length: TN }, (_, j) => {
    em.emit(let_(`cc_${j}`, 'i64', min(add(v('n0'), idx(j)), idx(s.N - 1))));
    return v(`cc_${j}`);
  });
  const tables = tableRegisters(em, parts, p, TN);
  // Unrolling k (2 to 8 steps per iteration) measured no faster: the TM + TN loads per step dominate.
  const { packRow, packValue } = packingOf(parts);
  const step = em.block(() => {
    const r = packRow(p, v('k'), TN);
    const xs = cols.map((col, j) => em.bind(packValue(p, r, idx(j), col), 'b'));
    rows.forEach((row, i) => {
      const a = em.bind(parts.a(p, row, v('k')), 'a');
      xs.forEach((x, j) => fma(i, j, a, x));
    });
  });
  em.emit(for_('k', idx(0), idx(s.K), tables.size ? step.map((st) => mapStmtExprs(st, (e) => fromRegisters(e, tables))) : step));
}

/**
 * Per-column tables (GemmParts.tables whose size is TN: the weight
 * gradient's channel-plane and tap offsets) as one let per column, computed
 * before the K loop; packValue reads them at constant columns.
 */
function tableRegisters<P, R>(em: Emitter, parts: GemmParts<P, R>, p: P, TN: number): Map<string, Expr[]> {
  const regs = new Map<string, Expr[]>();
  for (const tab of parts.tables ?? []) {
    const cols = tab.arrays.map((): Expr[] => []);
    for (let j = 0; j < TN; j++) {
      tab.values(p, idx(j), TN, v('n0')).forEach((x, i) => {
        const { name, t } = tab.arrays[i];
        em.emit(let_(`${name}_r${j}`, t, x));
        cols[i].push(v(`${name}_r${j}`, t));
      });
    }
    tab.arrays.forEach((a, i) => regs.set(a.name, cols[i]));
  }
  return regs;
}

/**
 * Does the packing read every table at a constant column (so the tables can
 * live in registers)? A 1×1 input gradient has per-column tables too, but
 * reads them at a let-bound offset: it keeps the tiled schedule. Probed in a
 * discarded block, before this schedule emits anything.
 */
function tablesAtConstantColumns<P, R>(em: Emitter, parts: GemmParts<P, R>, TN: number): boolean {
  const names = new Set((parts.tables ?? []).flatMap((tab) => tab.arrays.map((a) => a.name)));
  let constant = true;
  const visit = (e: Expr): Expr => {
    if (e.k === 'lload' && names.has(e.arr) && e.idx.k !== 'const') constant = false;
    return mapChildren(e, visit);
  };
  const probe = em.block(() => {
    const p = parts.setup(v('q'));
    const { packRow, packValue } = packingOf(parts);
    const r = packRow(p, v('k'), TN);
    for (let j = 0; j < TN; j++) em.emit(let_(`probe_${j}`, 'f32', packValue(p, r, idx(j), idx(j))));
  });
  probe.forEach((st) => mapStmtExprs(st, visit));
  return constant;
}

function fromRegisters(e: Expr, regs: ReadonlyMap<string, Expr[]>): Expr {
  if (e.k === 'lload' && regs.has(e.arr)) {
    if (e.idx.k !== 'const') throw new Error(`gemm-direct: table '${e.arr}' read at a column that is not a constant`);
    return regs.get(e.arr)![e.idx.v];
  }
  return mapChildren(e, (c) => fromRegisters(c, regs));
}

/** Bias, then the fused consumers (em.value through the anchor's override), stored per tile element inside M × N. */
function epilogue<P, R>(em: Emitter, anchor: GNode, sinkValue: number, outBuf: number, s: GemmShape, parts: GemmParts<P, R>,
  p: P, TM: number, TN: number, window: ConvWindow | undefined): void {
  const outShape = em.shape(sinkValue);
  const width = window ? window.OW : s.N;
  const colStart = window ? v('ow0') : v('n0');
  for (let i = 0; i < TM; i++) {
    const rowStmts: Stmt[] = em.block(() => {
      em.emit(let_(`row_${i}`, 'i64', add(v('r0'), idx(i))));
      const row = v(`row_${i}`);
      const bias = parts.bias(p, row);
      const b = bias ? em.bind(bias, 'bias') : undefined;
      // Columns are contiguous in the output (GemmParts.outIndex): the row's base plus the column.
      em.emit(let_(`ob_${i}`, 'i64', em.flat(sinkValue, parts.outIndex(p, row, idx(0)))));
      for (let j = 0; j < TN; j++) {
        const element = em.block(() => {
          const col = add(v('n0'), idx(j));
          const at = parts.outIndex(p, row, col);
          em.aliasFlat(outShape, at, add(v(`ob_${i}`), col));
          const value = v(`acc_${i}_${j}`, 'f32');
          em.storeThrough(outBuf, sinkValue, at, anchor.outputs[0], () => (b ? bin('add', value, b) : value));
        });
        // Whole rows of tiles need no column test.
        if (width % TN === 0) for (const st of element) em.emit(st);
        else em.emit(if_(lt(add(colStart, idx(j)), idx(width)), element));
      }
    });
    if (s.M % TM === 0) for (const st of rowStmts) em.emit(st);
    else em.emit(if_(lt(add(v('r0'), idx(i)), idx(s.M)), rowStmts));
  }
}
