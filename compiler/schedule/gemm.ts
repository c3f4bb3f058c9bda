// conv2d and matmul as (implicit) GEMM: C[M, N] = A[M, K] · B[K, N] per
// (batch, group), M = output channels (rows of A = the weights), N = output
// pixels, K = input channels × kernel window.
//
// A workgroup owns a strip of TN columns and WGM × TM rows (WGN threads
// across the strip on GPUs, one on the CPU). K is walked in chunks: the
// threads pack the chunk's B panel (im2col of the strip, zeros for padding)
// into workgroup memory, a barrier, then each thread accumulates its
// TM × TNT register tile from the panel (contiguous, so the C compiler
// vectorises the TNT loop) and the weights (one scalar per TNT multiply-adds).
// The fused epilogue (bias, frozen BN, activation, residual: every
// elementwise consumer in the group) runs on the tile before the only store.
// The tile shape comes from the target (chooseTile): workgroup memory stays
// within the target's limit.
// A software WebGPU adapter (Target.software) takes the barrier-free
// register tiles of gemm-direct.ts instead: no panel, no barrier.
import { Graph, GNode } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import {
  add, barrier, bin, div, f32, for_, gid, idx, if_, let_, lid, lload, load, lstore, lt, min, mod, mul, prefetch, store, sub, threadStrided, v,
} from '../kernel/build.js';
import { Emitter, ScheduleError } from './emit.js';
import { Scheduled, finish, unflatten } from './pointwise.js';
import { scheduleTensorCoreGemm } from './gemm-mma.js';
import { ConvWindow, scheduleDirectGemm } from './gemm-direct.js';
import { Target, TargetName } from '../target.js';

/**
 * How the output is tiled. A workgroup owns an MB × TN block: WGM × WGN
 * threads, each a TM × TNT register tile (TNT columns at its column offset);
 * the panel holds KC rows of TN columns.
 */
export interface GemmTile { TM: number; TNT: number; WGM: number; WGN: number; KC: number; TN: number; MB: number }

const CPU_PANEL_FLOATS = 8192; // 32 KiB: L1-resident

export function tileWidth(N: number): number { return N >= 64 ? 64 : N >= 32 ? 32 : N >= 16 ? 16 : 8; }

/** What tile sizing needs of a table: its size and element types. */
export type TableShape = Pick<GemmTable<never>, 'size' | 'arrays'>;
type Table = TableShape;
const elemBytes = (target: TargetName, t: 'f32' | 'i64' | 'u32' | 'bool'): number => (target === 'webgpu' ? 4 : t === 'i64' ? 8 : t === 'bool' ? 1 : 4);

/** Workgroup memory of a tile: the panel plus the per-strip tables. */
export function tileStorageBytes(target: TargetName, tile: Pick<GemmTile, 'KC' | 'TN'>, tables: readonly Table[]): number {
  let bytes = tile.KC * tile.TN * 4;
  for (const tab of tables) for (const a of tab.arrays) bytes += tab.size(tile.TN) * elemBytes(target, a.t);
  return bytes;
}

/**
 * CPU: few threads, each a 6 × 64 register tile (24 of AVX-512's 32 vector
 * registers: 24 FMAs per 6 broadcasts and 4 panel loads), a 32 KiB panel.
 * GPU: up to 256 threads of 4 × 4 tiles, the panel and tables shrunk (K
 * chunk first, then strip width) until they fit the limit.
 */
export function chooseTile(s: GemmShape, tables: readonly Table[], target: Target): GemmTile {
  const fits = (t: GemmTile): boolean => tileStorageBytes(target.name, t, tables) <= target.maxWorkgroupStorageBytes;
  if (target.name === 'cpu') return chooseCpuTile(s, tables, target);
  const TM = target.registerTile.rows, TNT = target.registerTile.cols;
  let WGN = s.N >= 64 ? 16 : s.N >= 32 ? 8 : s.N >= 16 ? 4 : 2;
  for (;;) {
    const WGM = Math.max(1, Math.min(Math.floor(target.maxInvocations / WGN), 16, Math.ceil(s.M / TM)));
    const TN = WGN * TNT;
    for (let KC = Math.min(s.K, 32); ; KC = Math.max(1, KC >> 1)) {
      const tile = { TM, TNT, WGM, WGN, TN, MB: WGM * TM, KC };
      if (fits(tile)) return tile;
      if (KC <= 4) break;
    }
    if (WGN === 1) break;
    WGN >>= 1;
  }
  throw new ScheduleError(`GEMM ${s.M}×${s.N}×${s.K}: no tile fits ${target.maxWorkgroupStorageBytes} bytes of workgroup memory on ${target.name}`);
}

/**
 * Fewest workgroups a CPU GEMM is split into where its rows allow: a conv on
 * a 5×5 map (two strips of 16 columns) is otherwise 2 workgroups, one per
 * thread at best. Splitting rows further costs each row block its own
 * panel packing (measured on one thread, 20×20 and 10×10 maps: 15–20% more
 * CPU time at 16 workgroups), so only the smallest grids are split.
 */
const CPU_MIN_WORKGROUPS = 4;
/** Register tiles per CPU workgroup at most (their accumulators: 64 × 1.5 KiB at 6 × 64). */
const CPU_MAX_TILES = 64;

/**
 * The CPU tile: one thread per strip row, a TM × TNT register tile from the
 * target (TNT halved while the per-strip tables leave no room for a K chunk
 * of 64). Rows are split into row blocks of equal tile counts (86 tiles are
 * 43 + 43, not 64 + 22: even workgroups for the threads), as few as
 * CPU_MAX_TILES and CPU_MIN_WORKGROUPS allow.
 */
function chooseCpuTile(s: GemmShape, tables: readonly Table[], target: Target): GemmTile {
  const { rows: TM, cols: TNmax } = cpuRegisterTile(s, target);
  // Panel and tables share 32 KiB counted in 4-byte words, as WGSL stores
  // them: CPU-shaped programs also load on SwiftShader (32 KiB) unchanged.
  const kcFor = (TN: number): number => {
    const tableWords = tables.reduce((n, tab) => n + tab.size(TN) * tab.arrays.length, 0);
    return Math.min(s.K, Math.floor((CPU_PANEL_FLOATS - tableWords) / TN));
  };
  let TN = Math.min(tileWidth(s.N), TNmax);
  while (TN > 8 && kcFor(TN) < Math.min(s.K, 64)) TN >>= 1;
  const rowTiles = Math.ceil(s.M / TM);
  const colBlocks = s.problems * Math.ceil(s.N / TN);
  const fewest = Math.ceil(rowTiles / Math.min(CPU_MAX_TILES, target.maxInvocations));
  const rowBlocks = Math.min(rowTiles, Math.max(fewest, Math.ceil(CPU_MIN_WORKGROUPS / colBlocks)));
  const WGM = Math.ceil(rowTiles / rowBlocks);
  return { TM, TNT: TN, WGM, WGN: 1, TN, MB: WGM * TM, KC: Math.max(1, kcFor(TN)) };
}

/**
 * The register tile for one GEMM: the target's (6 × 64 on AVX-512), or the
 * same accumulators as twice the rows and half the columns (12 × 32) where
 * that pads fewer columns: on a 20 × 20 map (N = 400) strips of 64 compute
 * 448 columns, strips of 32 416, and a strip fewer than the threads can
 * share evenly matters more on a small grid. Both shapes run at the FMA
 * peak from L1 in a micro-benchmark on this project's AVX-512 machine (the
 * 6 broadcasts and 4 loads of a 6 × 64 step, or 12 and 2, per 24
 * multiply-adds), but not inside a convolution: the tall tile is taken only
 * where it saves TALL_TILE_SAVING of the padded work.
 */
const TALL_TILE_SAVING = 0.96;

export function cpuRegisterTile(s: Pick<GemmShape, 'M' | 'N'>, target: Target): { rows: number; cols: number } {
  const wide = target.registerTile;
  const tall = { rows: wide.rows * 2, cols: wide.cols / 2 };
  if (tall.cols < target.vectorWidth || tall.cols % target.vectorWidth !== 0) return wide;
  const padded = (t: { rows: number; cols: number }): number => {
    const TN = Math.min(tileWidth(s.N), t.cols); // as chooseCpuTile narrows it
    return Math.ceil(s.M / t.rows) * t.rows * Math.ceil(s.N / TN) * TN;
  };
  // Measured in place the tall tile is slower where both pad alike (a 256 -> 80 conv on
  // 100 x 152: 270 vs 300 GFLOP/s, 0.2% fewer columns), so it must save 4% of the work
  // (R50 layer3 on 20 x 20, 5%: 10-15% faster per conv with it).
  return padded(tall) <= TALL_TILE_SAVING * padded(wide) ? tall : wide;
}

/** One run of a panel row (GemmParts.packRun). */
export interface PackRun {
  contiguous: Expr;
  load(lane: Expr): Expr;
  /** Prefetches of the source this run reads `columns` output columns later (one per cache line), where that is a fixed shift. */
  ahead?(columns: number): Stmt[];
}

/**
 * The run of a panel row stored whole at `rowBase` of `buf`, `cols` columns
 * long (an input plane of a 1×1 convolution, a row of transposed weights or
 * of Winograd's V): a copy wherever the run ends inside the row.
 */
export function rowRun(buf: number, rowBase: Expr, n0: Expr, group: Expr, vg: number, cols: number): PackRun {
  const c0 = add(n0, mul(group, idx(vg)));
  return {
    contiguous: bin('le', add(c0, idx(vg)), idx(cols)),
    load: (lane) => load(buf, add(add(rowBase, c0), lane), 'f32'),
    ahead: (columns) => [prefetch(buf, add(add(rowBase, c0), idx(columns)))],
  };
}

/**
 * How far ahead of its strip a CPU packing prefetches its source. A row of
 * strips walks every one of its K source rows 128 or 256 bytes at a time
 * (576 streams for a 64-channel 3×3 convolution), more streams than the
 * hardware prefetchers follow, so on maps that come from memory the
 * packing waited on each line. Two 64-column strips ahead, into L1,
 * measured best on a 64-channel 3×3 convolution at 200 × 304 (16.0 -> 13.5
 * ms; one strip ahead 14.8, three or four 13.9-14.6, into L2 only 14.1);
 * on 20 × 20 maps, whose inputs are still in cache, it neither gains nor loses.
 */
const PREFETCH_COLUMNS = 128;

export interface GemmShape {
  /** Independent problems (batch × groups). */
  problems: number;
  M: number;
  N: number;
  K: number;
}

/**
 * A table in workgroup memory computed once per workgroup before packing:
 * entry e's values, given the problem's bases, TN and the strip's first column n0.
 */
export interface GemmTable<P> {
  size(TN: number): number;
  arrays: { name: string; t: 'i64' | 'u32' | 'bool' }[];
  values(p: P, e: Expr, TN: number, n0: Expr): Expr[];
}

/**
 * What a GEMM reads and where it writes, for the GEMM schedules (this file,
 * gemm-mma.ts, gemm-direct.ts). Values flow through returns: `setup` gives
 * the problem's bases P (emitted again in each barrier segment, lets dying at
 * barriers), `packRow` a panel row's values R; the other callbacks receive them.
 */
export interface GemmParts<P, R> {
  /** Lets/loads computing problem-level bases, given the problem index; returns them. */
  setup(problem: Expr): P;
  /** The weight A[row, k] (row clamped by the caller). */
  a(p: P, row: Expr, k: Expr): Expr;
  tables?: GemmTable<P>[];
  /**
   * Where a run of VG panel columns of row r is a contiguous, in-bounds
   * stretch of the input, its flag and source offset: that run is copied
   * with vector loads instead of column by column.
   */
  packRun?(p: P, r: R, n0: Expr, group: Expr, VG: number, TN: number): PackRun;
  /** Lets for one panel row k (k < K guaranteed), hoisted out of the column loop; returns them. Absent only where `panels` holds B (packingOf). */
  packRow?(p: P, k: Expr, TN: number): R;
  /** The panel value of row r at column j (col = its clamped output column). Absent only where `panels` holds B. */
  packValue?(p: P, r: R, j: Expr, col: Expr): Expr;
  /** Output index of (row, col) in the anchor's output, for the epilogue; columns must be contiguous (flat(row, col) = flat(row, 0) + col) unless stridedColumns. */
  outIndex(p: P, row: Expr, col: Expr): Expr[];
  /** Columns land apart in the output (a phase of a strided convolution's input gradient): the epilogue indexes each (the CPU tiled schedule only). */
  stridedColumns?: boolean;
  /**
   * The GEMM writes its accumulators (plus bias) to buffer `buf` at index(row, col) instead of
   * the group's fused output: a schedule of several launches handing a product to the next one
   * through its workspace (Scheduled.scratch; conv-winograd.kernel.ts). CPU tiled schedule only.
   */
  rawOutput?: { buf: number; index(p: P, row: Expr, col: Expr): Expr };
  /** Value added to the accumulator before the epilogue (conv bias). */
  bias(p: P, row: Expr): Expr | undefined;
  /** A bias by column instead (a GEMM whose columns are output channels: ops/conv-transposed.kernel.ts). CPU tiled schedule only. */
  columnBias?(p: P, col: Expr): Expr;
  /**
   * The CPU's row-vector tiling (rowVectorTile): A read transposed, Aᵀ[k][row] at
   * base(p) + k·stride + row, rows across the vector lanes, each thread a transposed
   * register tile (rowVectorShape). M must be a multiple of its rows.
   */
  rowVectors?: { buf: number; base(p: P): Expr; stride: number };
  /**
   * B stored as the panels themselves (CPU tiled schedule only): strip n0's K rows
   * of TN columns at base(p, n0) + k·TN + j, zero past N; the GEMM multiplies
   * from there instead of packing, with no barriers (nothing is shared): weights
   * laid out once by a prologue launch (ops/conv-transposed.kernel.ts, Winograd's
   * U in ops/conv-winograd.kernel.ts). TN must be the tile's (chooseTile).
   */
  panels?: { buf: number; TN: number; base(p: P, n0: Expr): Expr };
  /** A convolution's geometry, for schedules that walk its window directly instead of packing im2col panels (gemm-direct.ts). */
  window?: ConvWindow;
}

/** The packing callbacks of a GEMM that packs its B panels: every one but a CPU GEMM reading stored panels (GemmParts.panels). */
export function packingOf<P, R>(parts: GemmParts<P, R>): { packRow(p: P, k: Expr, TN: number): R; packValue(p: P, r: R, j: Expr, col: Expr): Expr } {
  const { packRow, packValue } = parts;
  if (!packRow || !packValue) throw new ScheduleError('GEMM parts without packRow / packValue: only stored panels (GemmParts.panels, read by the CPU tiled GEMM) may leave them out');
  return { packRow, packValue };
}

/** let name: t = e, and the variable: for GemmParts callbacks returning what they bind. */
export function letVar(em: Emitter, name: string, e: Expr, t: 'i64' | 'u32' | 'f32' = 'i64'): Expr {
  em.emit(let_(name, t, e));
  return v(name, t);
}

export function scheduleGemm<P, R>(em: Emitter, graph: Graph, anchor: GNode, sink: number, s: GemmShape, parts: GemmParts<P, R>, target: Target): Scheduled {
  if (parts.rawOutput && target.name !== 'cpu') throw new ScheduleError(`GEMM ${s.M}×${s.N}×${s.K}: a workspace output is scheduled on the CPU only, not on ${target.name}`);
  if (parts.panels && (target.name !== 'cpu' || parts.rowVectors)) throw new ScheduleError(`GEMM ${s.M}×${s.N}×${s.K}: stored panels are read by the CPU's usual tiling only, not on ${target.name}`);
  if (parts.columnBias && target.name !== 'cpu') throw new ScheduleError(`GEMM ${s.M}×${s.N}×${s.K}: a bias by column is scheduled on the CPU only, not on ${target.name}`);
  if (parts.rowVectors) {
    const rows = rowVectorShape(target).rows;
    if (target.name !== 'cpu' || s.M % rows !== 0) throw new ScheduleError(`GEMM ${s.M}×${s.N}×${s.K}: the row-vector tiling needs the CPU and rows in multiples of ${rows}`);
    return scheduleTiledGemm(em, graph, anchor, sink, s, parts, rowVectorTile(s, parts.tables ?? [], target), target);
  }
  // CUDA may take the tensor-core path (gemm-mma.ts); it declines (undefined) where it does not apply.
  const tensorCore = target.name === 'cuda' ? scheduleTensorCoreGemm(em, graph, anchor, sink, s, parts, target) : undefined;
  if (tensorCore) return tensorCore;
  const direct = target.name === 'webgpu' && target.software ? scheduleDirectGemm(em, graph, anchor, sink, s, parts, target.maxInvocations) : undefined;
  if (direct) return direct;
  return scheduleTiledGemm(em, graph, anchor, sink, s, parts, chooseTile(s, parts.tables ?? [], target), target);
}

/** The workgroup's coordinates, recomputed per barrier segment (the C rendering splits the thread loop there, ending lets). */
interface Coords<P> { problem: Expr; p: P; n0: Expr; r0: Expr }

/** The packed-panel GEMM of the file comment, on `tile`. */
function scheduleTiledGemm<P, R>(em: Emitter, graph: Graph, anchor: GNode, sink: number, s: GemmShape, parts: GemmParts<P, R>, tile: GemmTile, target: Target): Scheduled {
  const { TM, TNT, WGN, TN, MB, KC } = tile;
  const WG = tile.WGM * WGN;
  const MBlocks = Math.ceil(s.M / MB), NBlocks = Math.ceil(s.N / TN);
  const chunks = Math.ceil(s.K / KC);
  const sinkValue = graph.nodes[sink].outputs[0];
  const outBuf = parts.rawOutput ? parts.rawOutput.buf : em.buf(sinkValue, 'w');
  if (parts.panels && parts.panels.TN !== TN) throw new ScheduleError(`GEMM ${s.M}×${s.N}×${s.K}: stored panels of ${parts.panels.TN} columns for a ${TN}-column tile`);
  if (!parts.panels) em.locals.push({ name: 'panel', t: 'f32', size: KC * TN });
  for (const tab of parts.tables ?? []) for (const a of tab.arrays) em.locals.push({ name: a.name, t: a.t, size: tab.size(TN) });
  em.regs.push({ name: 'acc', t: 'f32', size: TM * TNT }, { name: 'wv', t: 'f32', size: parts.rowVectors ? TNT : TM });
  const prelude = (): Coords<P> => {
    const [problem, mb, nb] = unflatten(em, gid, [s.problems, MBlocks, NBlocks], 'q');
    const p = parts.setup(problem);
    const n0 = letVar(em, 'n0', mul(nb, idx(TN)));
    if (WGN === 1) return { problem, p, n0, r0: letVar(em, 'r0', add(mul(mb, idx(MB)), mul(lid, idx(TM)))) };
    const r0 = letVar(em, 'r0', add(mul(mb, idx(MB)), mul(div(lid, idx(WGN)), idx(TM))));
    em.emit(let_('nt0', 'i64', mul(mod(lid, idx(WGN)), idx(TNT))));
    return { problem, p, n0, r0 };
  };
  const body = em.block(() => {
    if (parts.tables) {
      const { p, n0 } = prelude();
      for (const tab of parts.tables) {
        em.emit(threadStrided('e', idx(tab.size(TN)), WG, em.block(() => {
          tab.values(p, v('e'), TN, n0).forEach((x, i) => em.emit(lstore(tab.arrays[i].name, v('e'), x)));
        })));
      }
      em.emit(barrier);
    }
    em.emit(for_('ii', idx(0), idx(TM * TNT), [lstore('acc', v('ii'), f32(0))], true));
    const epilogue = (at: Coords<P>): void => (parts.rowVectors ? rowVectorEpilogue : tiledEpilogue)(em, anchor, sinkValue, outBuf, s, parts, tile, at);
    // Stored panels need no packing, so no barrier guards a shared panel.
    const chunkLoop = (from: number, to: number, last: boolean): void => em.emit(for_('c', idx(from), idx(to), em.block(() => {
      if (!parts.panels) {
        packChunk(em, s, parts, tile, prelude(), target);
        em.emit(barrier);
      }
      const at = prelude();
      (parts.rowVectors ? multiplyRowVectors : multiplyChunk)(em, s, parts, tile, chunks, at, target);
      if (last) epilogue(at);
      else if (!parts.panels) em.emit(barrier);
    })));
    // The CPU peels the last chunk: its multiply and the epilogue share one
    // segment (no barrier between: the epilogue reads only the thread's own
    // accumulators), so the C compiler keeps the accumulators in registers
    // from the last multiply-add to the store (1×1 64 -> 256 conv on 80 × 80:
    // 0.87 -> 0.72 ms). GPU threads keep theirs in registers anyway; there
    // the copy would only double the unrolled code.
    const peel = target.name === 'cpu' && chunks > 0;
    const looped = peel ? chunks - 1 : chunks; // chunks before the epilogue's segment
    if (looped > 0) chunkLoop(0, looped, false);
    if (peel) chunkLoop(looped, chunks, true);
    else epilogue(prelude());
  });
  return finish(em, body, WG, [], s.problems * MBlocks * NBlocks);
}

/** The thread's first column within the strip (one thread per strip row on the CPU). */
const colOf = (tile: GemmTile, j: Expr): Expr => (tile.WGN === 1 ? j : add(v('nt0'), j));

/**
 * Columns per contiguous packing run (GemmParts.packRun): the target's vector
 * width on the CPU, 16 on GPUs (vectorWidth 1, where the copy is only
 * unrolled). A GemmParts whose tables index runs must size them with this.
 */
export function packRunWidth(target: Target, TN: number): number {
  return Math.min(target.vectorWidth > 1 ? target.vectorWidth : 16, TN);
}

/** Pack: the threads share chunk c's KC rows of the panel (im2col of the strip; zeros past K). */
function packChunk<P, R>(em: Emitter, s: GemmShape, parts: GemmParts<P, R>, { TN, KC, WGM, WGN }: GemmTile, { p, n0 }: Coords<P>, target: Target): void {
  const KK = v('kk'), J = v('j');
  const k0 = mul(v('c'), idx(KC));
  const VG = packRunWidth(target, TN);
  const { packRow, packValue } = packingOf(parts);
  const pack = em.block(() => {
    em.emit(let_('kg', 'i64', add(k0, KK)));
    const fill = em.block(() => {
      const r = packRow(p, v('kg'), TN);
      const column = (j: Expr): void => em.emit(lstore('panel', add(mul(KK, idx(TN)), j), packValue(p, r, j, min(add(n0, j), idx(s.N - 1)))));
      if (!parts.packRun) {
        em.emit(for_('j', idx(0), idx(TN), em.block(() => column(J))));
        return;
      }
      const run = parts.packRun;
      em.emit(for_('g', idx(0), idx(TN / VG), em.block(() => {
        const { contiguous, load, ahead } = run(p, r, n0, v('g'), VG, TN);
        if (ahead && target.name === 'cpu') ahead(PREFETCH_COLUMNS).forEach((st) => em.emit(st));
        const jj = v('jj');
        const fast = [for_('jj', idx(0), idx(VG), [
          lstore('panel', add(add(mul(KK, idx(TN)), mul(v('g'), idx(VG))), jj), load(jj)),
        ], false, (target.vectorWidth > 1 ? VG >= 4 : VG >= 8) ? VG : undefined)];
        // A packing whose every run is a (masked) copy says so with a constant true: no per-column path.
        if (contiguous.k === 'const' && contiguous.v === 1) { fast.forEach((st) => em.emit(st)); return; }
        const slow = em.block(() => em.emit(for_('jj', idx(0), idx(VG), em.block(() => column(add(mul(v('g'), idx(VG)), jj))))));
        em.emit(if_(contiguous, fast, slow));
      })));
    });
    const zero = [for_('j', idx(0), idx(TN), [lstore('panel', add(mul(KK, idx(TN)), J), f32(0))])];
    em.emit(if_(lt(v('kg'), idx(s.K)), fill, zero));
  });
  em.emit(threadStrided('kk', idx(KC), WGM * WGN, pack));
}

/** Each thread's TM × TNT register tile accumulates chunk c: a weight per row, times the panel's row (vectorised on the CPU). */
function multiplyChunk<P, R>(em: Emitter, s: GemmShape, parts: GemmParts<P, R>, tile: GemmTile, chunks: number, { p, n0, r0 }: Coords<P>, target: Target): void {
  const { TM, TNT, TN, KC } = tile;
  const I = v('ii'), J = v('j'), KK = v('kk');
  const k0 = mul(v('c'), idx(KC));
  const stored = parts.panels ? { buf: parts.panels.buf, base: em.bind(add(parts.panels.base(p, n0), mul(k0, idx(TN))), 'pbase') } : undefined;
  const panelAt = (i: Expr): Expr => (stored ? load(stored.buf, add(stored.base, i), 'f32') : lload('panel', i, 'f32'));
  const VT = target.vectorWidth > 1 && TNT >= 8 ? Math.min(target.vectorWidth, TNT) : undefined; // C vector width of a thread's row (GPU tiles stay scalar)
  const step = em.block(() => {
    em.emit(for_('ii', idx(0), idx(TM), [lstore('wv', I, parts.a(p, min(add(r0, I), idx(s.M - 1)), add(k0, KK)))], true));
    em.emit(for_('ii', idx(0), idx(TM), [
      let_('w', 'f32', lload('wv', I, 'f32')),
      for_('j', idx(0), idx(TNT), [
        lstore('acc', add(mul(I, idx(TNT)), J), bin('add', lload('acc', add(mul(I, idx(TNT)), J), 'f32'), bin('mul', v('w', 'f32'), panelAt(add(mul(KK, idx(TN)), colOf(tile, J)))))),
      ], true, VT),
    ], true));
  });
  const kEnd = chunks === 1 ? idx(KC) : min(idx(KC), sub(idx(s.K), k0));
  em.emit(if_(lt(r0, idx(s.M)), [for_('kk', idx(0), kEnd, step)]));
}

/** An accumulator plus the GEMM's bias, by row or by column, where it has one. */
function biased<P, R>(parts: GemmParts<P, R>, p: P, acc: Expr, row: Expr, col: Expr): Expr {
  const b = parts.bias(p, row) ?? parts.columnBias?.(p, col);
  return b ? bin('add', acc, b) : acc;
}

/** Bias, then the fused consumers (the anchor's value overridden by the tile), stored inside M × N. */
function tiledEpilogue<P, R>(em: Emitter, anchor: GNode, sinkValue: number, outBuf: number, s: GemmShape, parts: GemmParts<P, R>, tile: GemmTile, { p, n0, r0 }: Coords<P>): void {
  const { TM, TNT, WGN, TN } = tile;
  const I = v('ii'), J = v('j');
  const outShape = em.shape(sinkValue);
  // Columns are contiguous in the output (GemmParts.outIndex), so the flat
  // offset is the row's base plus the column: operands shaped like the
  // output are then read at an index the C compiler sees is unit-stride.
  const epiStore = (guardCol: boolean): Stmt[] => em.block(() => {
    em.emit(let_('cn', 'i64', add(n0, colOf(tile, J))));
    const inner = em.block(() => {
      const acc = (): Expr => biased(parts, p, lload('acc', add(mul(I, idx(TNT)), J), 'f32'), v('row'), v('cn'));
      if (parts.rawOutput) { em.emit(store(outBuf, parts.rawOutput.index(p, v('row'), v('cn')), acc())); return; }
      const at = parts.outIndex(p, v('row'), v('cn'));
      if (WGN === 1 && !parts.stridedColumns) em.aliasFlat(outShape, at, add(em.flat(sinkValue, parts.outIndex(p, v('row'), idx(0))), v('cn')));
      em.storeThrough(outBuf, sinkValue, at, anchor.outputs[0], acc);
    });
    if (guardCol) em.emit(if_(lt(v('cn'), idx(s.N)), inner));
    else for (const st of inner) em.emit(st);
  });
  const rowEpi = em.block(() => {
    em.emit(let_('row', 'i64', add(r0, I)));
    // A full strip stores without a per-column test, so the C compiler vectorises the epilogue;
    // the last, partial strip stops its loop at the last column instead of testing each one (a
    // test would keep the loop scalar and, FP ops not being speculated past it, recompute the
    // fused row-invariant work, a frozen BN's 1/sqrt(var + eps), per element).
    const full = s.N % TN === 0 ? [for_('j', idx(0), idx(TNT), epiStore(false))]
      : [if_(bin('le', add(n0, idx(TN)), idx(s.N)), [for_('j', idx(0), idx(TNT), epiStore(false))], [for_('j', idx(0), sub(idx(s.N), n0), epiStore(false))])];
    em.emit(if_(lt(v('row'), idx(s.M)), WGN === 1 ? full : [for_('j', idx(0), idx(TNT), epiStore(true))]));
  });
  em.emit(for_('ii', idx(0), idx(TM), rowEpi));
}

/**
 * A thread's register tile in the row-vector tiling: the target's register
 * tile transposed, its columns (64 on AVX-512: 4 vectors) as rows across the
 * vector lanes, its rows (6) as columns broadcast from the panel.
 */
export function rowVectorShape(target: Target): { rows: number; cols: number } {
  return { rows: target.registerTile.cols, cols: target.registerTile.rows };
}

/**
 * The row-vector tiling of a CPU GEMM with few columns (a convolution on a
 * small map: columns are pixels). A strip of TN columns (48 or 96: whole
 * register-tile columns and packing runs) is packed as usual and each thread
 * takes rowVectorShape's rows × columns of it, so 25 columns pad to 30
 * instead of 32, in full vectors instead of one 16-lane vector per row.
 * Row blocks as few as give the threads 4 workgroups.
 */
export function rowVectorTile(s: GemmShape, tables: readonly TableShape[], target: Target): GemmTile {
  const { rows, cols } = rowVectorShape(target);
  const TN = s.N > 48 ? 96 : 48;
  if (TN % cols !== 0 || TN % packRunWidth(target, TN) !== 0) throw new ScheduleError(`GEMM ${s.M}×${s.N}×${s.K}: a ${TN}-column strip does not split into ${cols}-column tiles and packing runs`);
  const tableWords = tables.reduce((n, tab) => n + tab.size(TN) * tab.arrays.length, 0);
  const KC = Math.max(1, Math.min(s.K, Math.floor((CPU_PANEL_FLOATS - tableWords) / TN)));
  const rowTiles = s.M / rows, colBlocks = s.problems * Math.ceil(s.N / TN);
  const rowBlocks = Math.min(rowTiles, Math.max(1, Math.ceil(CPU_MIN_WORKGROUPS / colBlocks)));
  const WGM = Math.ceil(rowTiles / rowBlocks), WGN = TN / cols;
  if (WGM * WGN > target.maxInvocations) throw new ScheduleError(`GEMM ${s.M}×${s.N}×${s.K}: ${WGM * WGN} row-vector threads per workgroup`);
  return { TM: rows, TNT: cols, WGM, WGN, KC, TN, MB: WGM * rows };
}

/** Chunk c in the row-vector tiling: per k, the thread's 6 panel values broadcast against 64 rows of Aᵀ (vector loads). */
function multiplyRowVectors<P, R>(em: Emitter, s: GemmShape, parts: GemmParts<P, R>, tile: GemmTile, chunks: number, { p, n0, r0 }: Coords<P>, target: Target): void {
  const rv = parts.rowVectors!;
  const { TM, TNT, TN, KC } = tile;
  const J = v('jj'), I = v('ii'), KK = v('kk');
  const k0 = mul(v('c'), idx(KC));
  const VT = target.vectorWidth > 1 ? Math.min(target.vectorWidth, TM) : undefined;
  const step = em.block(() => {
    em.emit(for_('jj', idx(0), idx(TNT), [lstore('wv', J, lload('panel', add(mul(KK, idx(TN)), colOf(tile, J)), 'f32'))], true));
    const at = em.bind(add(rv.base(p), add(mul(add(k0, KK), idx(rv.stride)), r0)), 'arow');
    em.emit(for_('jj', idx(0), idx(TNT), [
      let_('b', 'f32', lload('wv', J, 'f32')),
      for_('ii', idx(0), idx(TM), [
        lstore('acc', add(mul(J, idx(TM)), I), bin('add', lload('acc', add(mul(J, idx(TM)), I), 'f32'), bin('mul', v('b', 'f32'), load(rv.buf, add(at, I), 'f32')))),
      ], true, VT),
    ], true));
  });
  const kEnd = chunks === 1 ? idx(KC) : min(idx(KC), sub(idx(s.K), k0));
  em.emit(if_(bin('and', lt(r0, idx(s.M)), lt(add(n0, colOf(tile, idx(0))), idx(s.N))), [for_('kk', idx(0), kEnd, step)]));
}

/** Bias, then the fused consumers, per element of the thread's 6 columns × 64 rows (rows lie a column count apart in the output). */
function rowVectorEpilogue<P, R>(em: Emitter, anchor: GNode, sinkValue: number, outBuf: number, s: GemmShape, parts: GemmParts<P, R>, tile: GemmTile, { p, n0, r0 }: Coords<P>): void {
  const { TM } = tile;
  const J = v('jj'), I = v('ii');
  const column = em.block(() => {
    em.emit(let_('cn', 'i64', add(n0, colOf(tile, J))));
    em.emit(if_(lt(v('cn'), idx(s.N)), [for_('ii', idx(0), idx(TM), em.block(() => {
      em.emit(let_('row', 'i64', add(r0, I)));
      em.storeThrough(outBuf, sinkValue, parts.outIndex(p, v('row'), v('cn')), anchor.outputs[0], () => biased(parts, p, lload('acc', add(mul(J, idx(TM)), I), 'f32'), v('row'), v('cn')));
    }))]));
  });
  em.emit(if_(lt(r0, idx(s.M)), [for_('jj', idx(0), idx(tile.TNT), column)]));
}
