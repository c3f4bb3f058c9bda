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
import type { GemmParts, GemmShape, TableShape } from './gemm.js';
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

export function scheduleTensorCoreGemm<P, R>(em: Emitter, graph: Graph, anchor: GNode, sink: number, s: GemmShape, parts: GemmParts<P, R>, target: Target): Scheduled | undefined {
  const shape = tensorCoreShape(target);
  if (!shape) return undefined;
  const tables = parts.tables ?? [];
  const tile = chooseMmaTile(s.M, tables, target);
  if (!tile) return undefined;
  const { MB, TN, WARPS_N, WG, BS } = tile;
  const sh = MMA_SHAPES[shape];
  const MBlocks = Math.ceil(s.M / MB), NBlocks = Math.ceil(s.N / TN), chunks = Math.ceil(s.K / KC);
  const sinkValue = graph.nodes[sink].outputs[0];
  const outBuf = em.buf(sinkValue, 'w');
  em.locals.push({ name: 'atile', t: 'f32', size: MB * AS }, { name: 'panel', t: 'f32', size: KC * BS });
  for (const tab of tables) for (const a of tab.arrays) em.locals.push({ name: a.name, t: a.t, size: tab.size(TN) });
  em.regs.push({ name: 'acc', t: 'f32', size: MT * NT * sh.c }, { name: 'fa', t: 'f32', size: MT * sh.a }, { name: 'fb', t: 'f32', size: NT * sh.b });

  // Lets die at barriers: each segment recomputes the block and lane coordinates.
  const prelude = (): P => {
    const [problem, mb, nb] = unflatten(em, gid, [s.problems, MBlocks, NBlocks], 'q');
    const p = parts.setup(problem);
    em.emit(let_('m0', 'i64', mul(mb, idx(MB))));
    em.emit(let_('n0', 'i64', mul(nb, idx(TN))));
    em.emit(let_('warp', 'i64', div(lid, idx(WARP))));
    em.emit(let_('wm', 'i64', mul(div(v('warp'), idx(WARPS_N)), idx(WARP_M))));
    em.emit(let_('wn', 'i64', mul(mod(v('warp'), idx(WARPS_N)), idx(WARP_N))));
    em.emit(let_('lg', 'i64', div(mod(lid, idx(WARP)), idx(4))));
    em.emit(let_('lt', 'i64', mod(lid, idx(4))));
    return p;
  };
  // A tile: thread e takes QA consecutive k of row r (e = r·KC/QA + quad, k fastest, so a
  // warp reads consecutive weights); with K a multiple of 4 a quad is all in or all past K
  // and, its source index a multiple of 4, one float4 load (render/cuda.ts). B panel: QB
  // consecutive columns of k row kk (columns fastest: consecutive output pixels); with N a
  // multiple of 4 a quad is all in or all past N, so its columns need no clamp.
  const QA = s.K % 4 === 0 ? 4 : 1, QB = s.N % 4 === 0 ? 4 : 1;
  const PA = (MB * KC) / QA / WG, PB = (KC * TN) / QB / WG;
  // The next chunk is fetched into registers (pf) while this one's mmas run,
  // and stashed into workgroup memory after the barrier: global latency
  // overlaps tensor-core work. Loops over pf are unrolled so it stays in registers.
  em.regs.push({ name: 'pf', t: 'f32', size: PA * QA + PB * QB });
  const aQuad = (): void => {
    em.emit(let_('ea', 'i64', add(lid, mul(v('pa'), idx(WG)))));
    em.emit(let_('kq', 'i64', mul(mod(v('ea'), idx(KC / QA)), idx(QA))));
  };
  const bQuad = (): void => {
    em.emit(let_('eb', 'i64', add(lid, mul(v('pb'), idx(WG)))));
    em.emit(let_('jb', 'i64', mul(mod(v('eb'), idx(TN / QB)), idx(QB))));
  };
  const pfA = (q: Expr): Expr => add(mul(v('pa'), idx(QA)), q);
  const pfB = (q: Expr): Expr => add(idx(PA * QA), add(mul(v('pb'), idx(QB)), q));
  const fetch = (p: P, kbase: Expr): void => {
    em.emit(for_('pa', idx(0), idx(PA), em.block(() => {
      aQuad();
      em.emit(let_('ka', 'i64', add(kbase, v('kq'))));
      const row = min(add(v('m0'), div(v('ea'), idx(KC / QA))), idx(s.M - 1));
      const quad = (value: (q: Expr) => Expr): Stmt[] =>
        [for_('qa', idx(0), idx(QA), em.block(() => em.emit(lstore('pf', pfA(v('qa')), value(v('qa'))))), false, QA > 1 ? QA : 0)];
      em.emit(if_(lt(v('ka'), idx(s.K)), em.block(() => quad((q) => parts.a(p, row, add(v('ka'), q))).forEach((st) => em.emit(st))), quad(() => f32(0))));
    }), true));
    em.emit(for_('pb', idx(0), idx(PB), em.block(() => {
      bQuad();
      em.emit(let_('kb', 'i64', add(kbase, div(v('eb'), idx(TN / QB)))));
      const fill = em.block(() => {
        const r = parts.packRow(p, v('kb'), TN);
        em.emit(for_('qb', idx(0), idx(QB), em.block(() => {
          const j = add(v('jb'), v('qb'));
          const col = QB > 1 ? add(v('n0'), j) : min(add(v('n0'), j), idx(s.N - 1));
          em.emit(lstore('pf', pfB(v('qb')), parts.packValue(p, r, j, col)));
        }), false, QB > 1 ? QB : 0));
      });
      const inside = QB > 1 ? bin('and', lt(v('kb'), idx(s.K)), lt(add(v('n0'), v('jb')), idx(s.N))) : lt(v('kb'), idx(s.K));
      em.emit(if_(inside, fill, [for_('qb', idx(0), idx(QB), [lstore('pf', pfB(v('qb')), f32(0))])]));
    }), true));
  };
  const stash = (): void => {
    em.emit(for_('pa', idx(0), idx(PA), em.block(() => {
      aQuad();
      const at = add(add(mul(div(v('ea'), idx(KC / QA)), idx(AS)), v('kq')), v('qa'));
      em.emit(for_('qa', idx(0), idx(QA), [lstore('atile', at, lload('pf', pfA(v('qa')), 'f32'))], true));
    }), true));
    em.emit(for_('pb', idx(0), idx(PB), em.block(() => {
      bQuad();
      const at = add(add(mul(div(v('eb'), idx(TN / QB)), idx(BS)), v('jb')), v('qb'));
      em.emit(for_('qb', idx(0), idx(QB), [lstore('panel', at, lload('pf', pfB(v('qb')), 'f32'))], true));
    }), true));
  };
  const body = em.block(() => {
    if (tables.length) {
      const p = prelude();
      for (const tab of tables) {
        const n = tab.size(TN);
        em.emit(for_('e_k', idx(0), idx(Math.ceil(n / WG)), em.block(() => {
          em.emit(let_('e', 'i64', add(lid, mul(v('e_k'), idx(WG)))));
          em.emit(if_(lt(v('e'), idx(n)), em.block(() => tab.values(p, v('e'), TN, v('n0')).forEach((x, i) => em.emit(lstore(tab.arrays[i].name, v('e'), x))))));
        })));
      }
      em.emit(barrier);
    }
    em.emit(for_('ai', idx(0), idx(MT * NT * sh.c), [lstore('acc', v('ai'), f32(0))], true));
    for (const st of em.block(() => fetch(prelude(), idx(0)))) em.emit(st);
    const chunk = em.block(() => {
      prelude();
      stash();
      em.emit(barrier);
      const p = prelude();
      const next = add(v('c'), idx(1));
      if (chunks > 1) em.emit(if_(lt(next, idx(chunks)), em.block(() => fetch(p, mul(next, idx(KC))))));
      em.emit(for_('ks', idx(0), idx(KC / sh.k), mmaStep(shape, BS), true));
      em.emit(barrier);
    });
    em.emit(for_('c', idx(0), idx(chunks), chunk));
    const p = prelude();
    // acc element (mt, nt, i) is output (m0 + wm + 16 mt + crow_i, n0 + wn + 8 nt + ccol_i).
    const epi = em.block(() => {
      for (let i = 0; i < sh.c; i++) {
        const [cr, cc] = fragAt(shape, 'c', i, v('lg'), v('lt'));
        const inner = em.block(() => {
          em.emit(let_(`row${i}`, 'i64', add(add(add(v('m0'), v('wm')), mul(v('emt'), idx(16))), cr)));
          em.emit(let_(`col${i}`, 'i64', add(add(add(v('n0'), v('wn')), mul(v('ent'), idx(8))), cc)));
          const store1 = em.block(() => {
            const row = v(`row${i}`), col = v(`col${i}`);
            const at = parts.outIndex(p, row, col);
            em.storeThrough(outBuf, sinkValue, at, anchor.outputs[0], () => {
              const acc = lload('acc', add(mul(add(mul(v('emt'), idx(NT)), v('ent')), idx(sh.c)), idx(i)), 'f32');
              const b = parts.bias(p, row);
              return b ? bin('add', acc, b) : acc;
            });
          });
          em.emit(if_(bin('and', lt(v(`row${i}`), idx(s.M)), lt(v(`col${i}`), idx(s.N))), store1));
        });
        for (const st of inner) em.emit(st);
      }
    });
    em.emit(for_('emt', idx(0), idx(MT), [for_('ent', idx(0), idx(NT), epi, true)], true));
  });
  return finish(em, body, WG, [], s.problems * MBlocks * NBlocks);
}

/** One k step of KS: the warp's A fragments (MT of them), B fragments (NT), then MT × NT mmas. */
function mmaStep(shape: MmaShape, BS: number): Stmt[] {
  const sh = MMA_SHAPES[shape];
  const g = v('lg'), t = v('lt'), kb = mul(v('ks'), idx(sh.k));
  const aLoads: Stmt[] = [], bLoads: Stmt[] = [];
  for (let i = 0; i < sh.a; i++) {
    const [r, c] = fragAt(shape, 'a', i, g, t);
    const row = add(add(v('wm'), mul(v('fmt'), idx(16))), r);
    aLoads.push(lstore('fa', add(mul(v('fmt'), idx(sh.a)), idx(i)), lload('atile', add(mul(row, idx(AS)), add(kb, c)), 'f32')));
  }
  for (let i = 0; i < sh.b; i++) {
    const [r, c] = fragAt(shape, 'b', i, g, t);
    const col = add(add(v('wn'), mul(v('fnt'), idx(8))), c);
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
