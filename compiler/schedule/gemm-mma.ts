// conv2d/matmul (and the conv gradients: everything scheduleGemm takes) on
// CUDA tensor cores with mma.sync: TF32 (default, as PyTorch allows for
// convolutions) or BF16 inputs, f32 accumulation, the same fused epilogue as
// the plain GEMM (gemm.ts), fed by the same GemmParts.
//
// A workgroup of 4 warps owns a 64 × 64 output block (rows = M, columns =
// N; 32 × 128 when M ≤ 32), each warp a 32 × 32 part: 2 × 4 mma tiles of
// 16 × 8, 32 f32 accumulators per lane. K goes in chunks of 32 staged
// through workgroup memory: the A tile (block rows × 32 k, weights) and the
// B panel (32 k × block columns, im2col through packRow/packValue) are
// fetched by all 128 threads, consecutive threads on consecutive addresses
// (coalesced; float4 where K or N is a multiple of 4 and the source is
// unit-stride), one chunk ahead into registers while the current chunk's
// mmas run, and stashed into workgroup memory after the barrier; each warp
// then loads its fragments from there and issues its mmas. Row strides are
// padded (36 and TN + 8 floats) so the TF32 fragment reads hit 32 distinct
// banks. Sized for H100-class parts by reasoning, not measurement: no GPU
// was available when it was written.
//
// The choice: the target's cudaMath (tf32, bf16, or f32: this schedule
// declines and the plain f32 GEMM runs; FUSEDET_CUDA_MATH at the edge) and
// its compute capability (below 8.0 declining too: no TF32/BF16 mma.sync
// there). The choice changes the kernel IR, so the structural hash (the
// compile-cache key) covers it.
import type { Graph, GNode } from '../graph.js';
import { Expr, MMA_SHAPES, MmaShape, Stmt, WARP, fragCoord } from '../kernel/ir.js';
import {
  add, barrier, bin, div, f32, for_, gid, idx, if_, let_, lid, lload, lstore, lt, min, mma, mod, mul, v,
} from '../kernel/build.js';
import { Emitter } from './emit.js';
import { letVar, packingOf } from './gemm.js';
import type { GemmParts, GemmShape, GemmTable, TableShape } from './gemm.js';
import type { Target } from '../target.js';
import { Scheduled, finish, unflatten } from './pointwise.js';

/** The mma shape GEMMs use on `target`, or undefined for plain f32 (its math, or a device below sm_80). */
export function tensorCoreShape(target: Target): MmaShape | undefined {
  if (target.name !== 'cuda' || target.cudaMath === 'f32' || target.cudaCapability < 80) return undefined;
  return target.cudaMath === 'tf32' ? 'm16n8k8.tf32' : 'm16n8k16.bf16';
}

const KC = 32, WARP_M = 32, WARP_N = 32, MT = WARP_M / 16, NT = WARP_N / 8;
const AS = KC + 4; // padded row stride of the A tile (the B panel's is TN + 8)

/** A block of MB × TN outputs, warps tiling it WARPS_M × WARPS_N with 32 × 32 each. */
export interface MmaTile { MB: number; TN: number; WARPS_N: number; WG: number; BS: number }
const tileOf = (warpsM: number, warpsN: number): MmaTile =>
  ({ MB: warpsM * WARP_M, TN: warpsN * WARP_N, WARPS_N: warpsN, WG: warpsM * warpsN * WARP, BS: warpsN * WARP_N + 8 });

type Table = TableShape;
const storageBytes = (t: MmaTile, tables: readonly Table[]): number =>
  (t.MB * AS + KC * t.BS) * 4 + tables.reduce((n, tab) => n + tab.arrays.reduce((m, a) => m + tab.size(t.TN) * (a.t === 'i64' ? 8 : 1), 0), 0);

/** 64 × 64 (2 × 2 warps); a GEMM of at most 32 rows (a head's few output channels) 32 × 128 (1 × 4), where it fits. */
export function chooseMmaTile(M: number, tables: readonly Table[], limits: Pick<Target, 'maxWorkgroupStorageBytes' | 'maxInvocations'>): MmaTile | undefined {
  const candidates = M <= WARP_M ? [tileOf(1, 4), tileOf(2, 2)] : [tileOf(2, 2)];
  return candidates.find((t) => storageBytes(t, tables) <= limits.maxWorkgroupStorageBytes && t.WG <= limits.maxInvocations);
}

/** Row or column of fragment element i as an expression of the lane's group g and thread-in-group t (the layouts are affine in both). */
function fragAt(shape: MmaShape, which: 'a' | 'b' | 'c', i: number, g: Expr, t: Expr): [Expr, Expr] {
  const c0 = fragCoord(shape, which, 0, i), cg = fragCoord(shape, which, 4, i), ct = fragCoord(shape, which, 1, i);
  const at = (d: 0 | 1): Expr => add(add(mul(g, idx(cg[d] - c0[d])), mul(t, idx(ct[d] - c0[d]))), idx(c0[d]));
  return [at(0), at(1)];
}

/** What the pieces of one tensor-core GEMM share: its sizes, tile and fetch geometry (fixed once the tile is chosen). */
interface MmaPlan<P, R> {
  em: Emitter; s: GemmShape; parts: GemmParts<P, R>; tables: readonly GemmTable<P>[];
  shape: MmaShape; tile: MmaTile;
  MBlocks: number; NBlocks: number; chunks: number;
  /** Consecutive k of an A row (QA) or columns of a B row (QB) one thread fetches: 4 (a float4) where K or N allows, else 1. */
  QA: number; QB: number;
  /** A quads and B quads per thread per chunk. */
  PA: number; PB: number;
}

/** The workgroup's block and the lane's place in it, recomputed per barrier segment (lets die at barriers). */
interface MmaCoords<P> {
  p: P;
  /** The block's first output row and column. */
  m0: Expr; n0: Expr;
  /** The warp's first row and column within the block. */
  wm: Expr; wn: Expr;
  /** The lane's group (lane / 4) and thread in group (lane % 4), as the fragment layouts use them. */
  lg: Expr; lt: Expr;
}

export function scheduleTensorCoreGemm<P, R>(em: Emitter, graph: Graph, anchor: GNode, sink: number, s: GemmShape, parts: GemmParts<P, R>, target: Target): Scheduled | undefined {
  const shape = tensorCoreShape(target);
  if (!shape) return undefined;
  const tables = parts.tables ?? [];
  const tile = chooseMmaTile(s.M, tables, target);
  if (!tile) return undefined;
  const plan = mmaPlan(em, s, parts, tables, shape, tile);
  const sinkValue = graph.nodes[sink].outputs[0];
  const outBuf = em.buf(sinkValue, 'w');
  declareStorage(plan);
  const body = em.block(() => {
    if (tables.length) fillTables(plan, mmaPrelude(plan));
    em.emit(for_('ai', idx(0), idx(MT * NT * MMA_SHAPES[shape].c), [lstore('acc', v('ai'), f32(0))], true));
    for (const st of em.block(() => fetchChunk(plan, mmaPrelude(plan), idx(0)))) em.emit(st);
    em.emit(for_('c', idx(0), idx(plan.chunks), em.block(() => multiplyChunk(plan))));
    mmaEpilogue(plan, mmaPrelude(plan), anchor, sinkValue, outBuf);
  });
  return finish(em, body, tile.WG, [], s.problems * plan.MBlocks * plan.NBlocks);
}

/**
 * A tile: thread e takes QA consecutive k of row r (e = r·KC/QA + quad, k fastest, so a
 * warp reads consecutive weights); with K a multiple of 4 a quad is all in or all past K
 * and, its source index a multiple of 4, one float4 load (render/cuda.ts). B panel: QB
 * consecutive columns of k row kk (columns fastest: consecutive output pixels); with N a
 * multiple of 4 a quad is all in or all past N, so its columns need no clamp.
 */
function mmaPlan<P, R>(em: Emitter, s: GemmShape, parts: GemmParts<P, R>, tables: readonly GemmTable<P>[], shape: MmaShape, tile: MmaTile): MmaPlan<P, R> {
  const QA = s.K % 4 === 0 ? 4 : 1, QB = s.N % 4 === 0 ? 4 : 1;
  return {
    em, s, parts, tables, shape, tile,
    MBlocks: Math.ceil(s.M / tile.MB), NBlocks: Math.ceil(s.N / tile.TN), chunks: Math.ceil(s.K / KC),
    QA, QB, PA: (tile.MB * KC) / QA / tile.WG, PB: (KC * tile.TN) / QB / tile.WG,
  };
}

/**
 * Workgroup memory (the A tile, the B panel, the tables) and registers (the
 * accumulators, the fragments, and pf: the next chunk is fetched into
 * registers while this one's mmas run, and stashed into workgroup memory
 * after the barrier, so global latency overlaps tensor-core work; loops over
 * pf are unrolled so it stays in registers).
 */
function declareStorage<P, R>({ em, tables, shape, tile: { MB, TN, BS }, QA, QB, PA, PB }: MmaPlan<P, R>): void {
  const sh = MMA_SHAPES[shape];
  em.locals.push({ name: 'atile', t: 'f32', size: MB * AS }, { name: 'panel', t: 'f32', size: KC * BS });
  for (const tab of tables) for (const a of tab.arrays) em.locals.push({ name: a.name, t: a.t, size: tab.size(TN) });
  em.regs.push({ name: 'acc', t: 'f32', size: MT * NT * sh.c }, { name: 'fa', t: 'f32', size: MT * sh.a }, { name: 'fb', t: 'f32', size: NT * sh.b });
  em.regs.push({ name: 'pf', t: 'f32', size: PA * QA + PB * QB });
}

/** The block and lane coordinates (MmaCoords), as lets. */
function mmaPrelude<P, R>({ em, s, parts, tile: { MB, TN, WARPS_N }, MBlocks, NBlocks }: MmaPlan<P, R>): MmaCoords<P> {
  const [problem, mb, nb] = unflatten(em, gid, [s.problems, MBlocks, NBlocks], 'q');
  const p = parts.setup(problem);
  const m0 = letVar(em, 'm0', mul(mb, idx(MB)));
  const n0 = letVar(em, 'n0', mul(nb, idx(TN)));
  const warp = letVar(em, 'warp', div(lid, idx(WARP)));
  const wm = letVar(em, 'wm', mul(div(warp, idx(WARPS_N)), idx(WARP_M)));
  const wn = letVar(em, 'wn', mul(mod(warp, idx(WARPS_N)), idx(WARP_N)));
  const lg = letVar(em, 'lg', div(mod(lid, idx(WARP)), idx(4)));
  const lt = letVar(em, 'lt', mod(lid, idx(4)));
  return { p, m0, n0, wm, wn, lg, lt };
}

/** The tables' values for this block's columns, shared by the workgroup. */
function fillTables<P, R>({ em, tables, tile: { TN, WG } }: MmaPlan<P, R>, { p, n0 }: MmaCoords<P>): void {
  for (const tab of tables) {
    const n = tab.size(TN);
    em.emit(for_('e_k', idx(0), idx(Math.ceil(n / WG)), em.block(() => {
      em.emit(let_('e', 'i64', add(lid, mul(v('e_k'), idx(WG)))));
      em.emit(if_(lt(v('e'), idx(n)), em.block(() => tab.values(p, v('e'), TN, n0).forEach((x, i) => em.emit(lstore(tab.arrays[i].name, v('e'), x))))));
    })));
  }
  em.emit(barrier);
}

/** Chunk c: stash the fetched chunk, then fetch the next one while this one's mmas run. */
function multiplyChunk<P, R>(plan: MmaPlan<P, R>): void {
  const { em, shape, tile: { BS }, chunks } = plan;
  // The stash reads none of these coordinates: their lets only keep the rendered kernels as they were.
  mmaPrelude(plan);
  stashChunk(plan);
  em.emit(barrier);
  const at = mmaPrelude(plan);
  const next = add(v('c'), idx(1));
  if (chunks > 1) em.emit(if_(lt(next, idx(chunks)), em.block(() => fetchChunk(plan, at, mul(next, idx(KC))))));
  em.emit(for_('ks', idx(0), idx(KC / MMA_SHAPES[shape].k), mmaStep(shape, BS, at), true));
  em.emit(barrier);
}

/** Thread's A quad pa: its element index and first k within the chunk. */
function aQuad<P, R>({ em, tile: { WG }, QA }: MmaPlan<P, R>): { ea: Expr; kq: Expr } {
  const ea = letVar(em, 'ea', add(lid, mul(v('pa'), idx(WG))));
  return { ea, kq: letVar(em, 'kq', mul(mod(ea, idx(KC / QA)), idx(QA))) };
}

/** Thread's B quad pb: its element index and first column within the block. */
function bQuad<P, R>({ em, tile: { WG, TN }, QB }: MmaPlan<P, R>): { eb: Expr; jb: Expr } {
  const eb = letVar(em, 'eb', add(lid, mul(v('pb'), idx(WG))));
  return { eb, jb: letVar(em, 'jb', mul(mod(eb, idx(TN / QB)), idx(QB))) };
}

/** Where A quad pa's element q (B quad pb's) waits in pf. */
const pfA = (QA: number, q: Expr): Expr => add(mul(v('pa'), idx(QA)), q);
const pfB = ({ PA, QA, QB }: Pick<MmaPlan<unknown, unknown>, 'PA' | 'QA' | 'QB'>, q: Expr): Expr => add(idx(PA * QA), add(mul(v('pb'), idx(QB)), q));

/** The chunk from k = kbase into pf: the A tile's quads (zeros past K), then the B panel's (zeros past K or N). */
function fetchChunk<P, R>(plan: MmaPlan<P, R>, { p, m0, n0 }: MmaCoords<P>, kbase: Expr): void {
  const { em, s, parts, tile: { TN }, QA, QB, PA, PB } = plan;
  em.emit(for_('pa', idx(0), idx(PA), em.block(() => {
    const { ea, kq } = aQuad(plan);
    const ka = letVar(em, 'ka', add(kbase, kq));
    const row = min(add(m0, div(ea, idx(KC / QA))), idx(s.M - 1));
    const quad = (value: (q: Expr) => Expr): Stmt[] =>
      [for_('qa', idx(0), idx(QA), em.block(() => em.emit(lstore('pf', pfA(QA, v('qa')), value(v('qa'))))), false, QA > 1 ? QA : 0)];
    em.emit(if_(lt(ka, idx(s.K)), em.block(() => quad((q) => parts.a(p, row, add(ka, q))).forEach((st) => em.emit(st))), quad(() => f32(0))));
  }), true));
  em.emit(for_('pb', idx(0), idx(PB), em.block(() => {
    const { eb, jb } = bQuad(plan);
    const kb = letVar(em, 'kb', add(kbase, div(eb, idx(TN / QB))));
    const { packRow, packValue } = packingOf(parts);
    const fill = em.block(() => {
      const r = packRow(p, kb, TN);
      em.emit(for_('qb', idx(0), idx(QB), em.block(() => {
        const j = add(jb, v('qb'));
        const col = QB > 1 ? add(n0, j) : min(add(n0, j), idx(s.N - 1));
        em.emit(lstore('pf', pfB(plan, v('qb')), packValue(p, r, j, col)));
      }), false, QB > 1 ? QB : 0));
    });
    const inside = QB > 1 ? bin('and', lt(kb, idx(s.K)), lt(add(n0, jb), idx(s.N))) : lt(kb, idx(s.K));
    em.emit(if_(inside, fill, [for_('qb', idx(0), idx(QB), [lstore('pf', pfB(plan, v('qb')), f32(0))])]));
  }), true));
}

/** pf into workgroup memory: the A tile (row stride AS) and the B panel (row stride BS). */
function stashChunk<P, R>(plan: MmaPlan<P, R>): void {
  const { em, tile: { TN, BS }, QA, QB, PA, PB } = plan;
  em.emit(for_('pa', idx(0), idx(PA), em.block(() => {
    const { ea, kq } = aQuad(plan);
    const at = add(add(mul(div(ea, idx(KC / QA)), idx(AS)), kq), v('qa'));
    em.emit(for_('qa', idx(0), idx(QA), [lstore('atile', at, lload('pf', pfA(QA, v('qa')), 'f32'))], true));
  }), true));
  em.emit(for_('pb', idx(0), idx(PB), em.block(() => {
    const { eb, jb } = bQuad(plan);
    const at = add(add(mul(div(eb, idx(TN / QB)), idx(BS)), jb), v('qb'));
    em.emit(for_('qb', idx(0), idx(QB), [lstore('panel', at, lload('pf', pfB(plan, v('qb')), 'f32'))], true));
  }), true));
}

/** acc element (mt, nt, i) is output (m0 + wm + 16 mt + crow_i, n0 + wn + 8 nt + ccol_i): bias, the fused consumers, stored inside M × N. */
function mmaEpilogue<P, R>({ em, s, parts, shape }: MmaPlan<P, R>, { p, m0, n0, wm, wn, lg, lt: t }: MmaCoords<P>, anchor: GNode, sinkValue: number, outBuf: number): void {
  const sh = MMA_SHAPES[shape];
  const epi = em.block(() => {
    for (let i = 0; i < sh.c; i++) {
      const [cr, cc] = fragAt(shape, 'c', i, lg, t);
      const inner = em.block(() => {
        const row = letVar(em, `row${i}`, add(add(add(m0, wm), mul(v('emt'), idx(16))), cr));
        const col = letVar(em, `col${i}`, add(add(add(n0, wn), mul(v('ent'), idx(8))), cc));
        const store1 = em.block(() => {
          const at = parts.outIndex(p, row, col);
          em.storeThrough(outBuf, sinkValue, at, anchor.outputs[0], () => {
            const acc = lload('acc', add(mul(add(mul(v('emt'), idx(NT)), v('ent')), idx(sh.c)), idx(i)), 'f32');
            const b = parts.bias(p, row);
            return b ? bin('add', acc, b) : acc;
          });
        });
        em.emit(if_(bin('and', lt(row, idx(s.M)), lt(col, idx(s.N))), store1));
      });
      for (const st of inner) em.emit(st);
    }
  });
  em.emit(for_('emt', idx(0), idx(MT), [for_('ent', idx(0), idx(NT), epi, true)], true));
}

/** One k step of KS: the warp's A fragments (MT of them), B fragments (NT), then MT × NT mmas. */
function mmaStep<P>(shape: MmaShape, BS: number, { wm, wn, lg: g, lt: t }: MmaCoords<P>): Stmt[] {
  const sh = MMA_SHAPES[shape];
  const kb = mul(v('ks'), idx(sh.k));
  const aLoads: Stmt[] = [], bLoads: Stmt[] = [];
  for (let i = 0; i < sh.a; i++) {
    const [r, c] = fragAt(shape, 'a', i, g, t);
    const row = add(add(wm, mul(v('fmt'), idx(16))), r);
    aLoads.push(lstore('fa', add(mul(v('fmt'), idx(sh.a)), idx(i)), lload('atile', add(mul(row, idx(AS)), add(kb, c)), 'f32')));
  }
  for (let i = 0; i < sh.b; i++) {
    const [r, c] = fragAt(shape, 'b', i, g, t);
    const col = add(add(wn, mul(v('fnt'), idx(8))), c);
    bLoads.push(lstore('fb', add(mul(v('fnt'), idx(sh.b)), idx(i)), lload('panel', add(mul(add(kb, r), idx(BS)), col), 'f32')));
  }
  return [
    for_('fmt', idx(0), idx(MT), aLoads, true),
    for_('fnt', idx(0), idx(NT), bLoads, true),
    for_('mt', idx(0), idx(MT), [
      for_('nt', idx(0), idx(NT), [
        mma(shape, 'acc', mul(add(mul(v('mt'), idx(NT)), v('nt')), idx(sh.c)), 'fa', mul(v('mt'), idx(sh.a)), 'fb', mul(v('nt'), idx(sh.b))),
      ], true),
    ], true),
  ];
}
