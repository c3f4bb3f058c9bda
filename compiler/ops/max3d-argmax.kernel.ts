// max3d_argmax_grad: max3d's input gradients from the arg-max codes of
// max3d_argmax (compiler/ops/max3d-argmax.ts), as a gather — one thread per
// input element, no atomics, a fixed summation order. A workgroup owns a
// tile of one level k. Pass 1, per output level l ≠ k that samples level k:
// the gradient reaching each level-l sample position (y, x) that reads the
// tile — the sum over the φ×φ outputs around it whose code names
// (frame k, y, x) — into workgroup memory. Barrier. Pass 2: each input
// element adds the gradients of level k's own outputs around it whose code
// names it, then, level by level, the sample gradients of the positions
// whose bilinear taps read it, times the tap weight. Every check is one
// integer compare: the arg-max search happened once, in max3d_argmax.
// One launch covers every level where the target's storage-buffer limit
// allows (codes and gradients of every level, and the outputs: 15 over five
// levels); else runs of levels (max3d-launches.kernel.ts), and a level that
// alone binds more (τ 4 under 8) takes its sources over several launches,
// each adding its terms, in the same order, onto the f32 sum the previous
// one stored: the same additions, so the same bits.
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import { intAttr } from './attrs.js';
import { neighbourLevels } from './max3d.js';
import { bilinearTaps } from './resize.js';
import {
  add, and, barrier, bin, cast, div, f32, for_, gid, idx, if_, inRange, let_, lload, load, lstore, lt, max, mod, mul, sel, set, store, sub, threadStrided, v,
} from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import type { Target } from '../target.js';
import { bilinearTap } from './resize.kernel.js';
import { Scheduled, byRange, finish } from '../schedule/pointwise.js';
import { scheduleMax3dArgmax } from './max3d.kernel.js';
import { levelRuns, levelTooWide } from './max3d-launches.kernel.js';
import type { KernelTable } from './op.js';

// Profiles as in max3d.ts: a loop of one thread per workgroup on the CPU, 8
// threads under SwiftShader (barriers make each invocation a coroutine),
// 128 (four warps, one element each, rows adjacent: coalesced) on CUDA.
const CPU = { th: 16, tw: 64, wg: 1 };
const WEBGPU = { th: 16, tw: 32, wg: 8 };
const CUDA = { th: 16, tw: 32, wg: 128 };
/**
 * A level's window sums are unrolled while they stay small: φ × φ taps
 * (φ ≤ 3) in at most 3 sums (its own outputs and 2 sampling levels, τ ≤ 2);
 * past that they loop, so the code does not grow with φ or τ.
 */
const UNROLL_PHI = 3, UNROLL_SUMS = 3;
/** Bilinear readers (rows × columns) of a sample region unrolled per input element; more loop. */
const UNROLL_READERS = 9;
/** Sample-gradient floats per workgroup: 16 KiB, what browsers allow. */
const LOCAL_FLOATS = 4096;

/**
 * Positions of a size-outSize bilinear resize (from inSize) whose taps can
 * read input row q: within [start(q), start(q) + count). A position y reads
 * q only if its first tap i0(y) >= q - 1, i.e. y >= (q - 1/2)·outSize/inSize
 * - 1/2: start(q) is that bound's ceiling, in integers. The kernel computes
 * the taps in f32, which can floor one lower where the source coordinate is
 * exactly an integer: where that happens for these sizes, one row of slack.
 * count is measured here over every q; the weight test in the kernel drops
 * positions that do not read q.
 */
function readerSpan(inSize: number, outSize: number): { start: (q: number) => number; slack: number; count: number } {
  let slack = 0;
  for (let y = 0; y < outSize; y++) if ((((2 * y + 1) * inSize - outSize) % (2 * outSize)) === 0) slack = 1;
  const start = (q: number): number => Math.max(0, Math.trunc(((2 * q - 1) * outSize + inSize - 1) / (2 * inSize)) - slack);
  const taps = bilinearTaps(inSize, outSize);
  let count = 1;
  for (let q = 0; q < inSize; q++) {
    let lo = outSize, hi = -1;
    // Taps of weight 0 (the clamped border) carry nothing and need not be visited.
    for (let y = 0; y < outSize; y++) if ((taps.i0[y] === q && taps.w0[y] !== 0) || (taps.i1[y] === q && taps.w1[y] !== 0)) { lo = Math.min(lo, y); hi = Math.max(hi, y); }
    if (hi < 0) continue;
    if (start(q) > Math.max(0, lo - slack)) throw new Error(`max3d_argmax_grad: reader start ${start(q)} past ${lo} (${inSize} -> ${outSize}, q ${q})`);
    count = Math.max(count, Math.min(outSize - 1, hi + slack) - start(q) + 1);
  }
  return { start, slack, count: Math.min(count, outSize) };
}

function startExpr(em: Emitter, q: Expr, inSize: number, outSize: number, slack: number): Expr {
  const num = add(mul(sub(mul(q, idx(2)), idx(1)), idx(outSize)), idx(inSize - 1));
  return em.bind(max(idx(0), sub(div(num, idx(2 * inSize)), idx(slack))), 'rs');
}

/** Rows (or columns) of level l's sample-gradient region for a tile of n at t0 of level k: the most over all tiles. */
function regionSpan(inSize: number, outSize: number, n: number): number {
  const { start, count } = readerSpan(inSize, outSize);
  let most = 1;
  for (let t0 = 0; t0 < inSize; t0 += n) most = Math.max(most, Math.min(outSize, start(Math.min(t0 + n, inSize) - 1) + count) - start(t0));
  return most;
}

interface Region { l: number; rh: number; rw: number; at: number }

/**
 * A rows × cols grid shared by the workgroup's threads; body gets the flat
 * index and the row and column. One thread (the CPU) walks it as two loops:
 * no div/mod per element, and what depends on the row alone stays outside
 * the column loop.
 */
function grid(em: Emitter, name: string, rows: number, cols: number, wg: number, body: (e: Expr, r: Expr, c: Expr) => void): void {
  if (wg === 1) {
    em.emit(for_(`${name}r`, idx(0), idx(rows), [for_(`${name}c`, idx(0), idx(cols), em.block(() => {
      body(em.bind(add(mul(v(`${name}r`), idx(cols)), v(`${name}c`)), name), v(`${name}r`), v(`${name}c`));
    }))]));
    return;
  }
  em.emit(threadStrided(name, idx(rows * cols), wg, em.block(() => body(v(name), em.bind(div(v(name), idx(cols)), `${name}r`), em.bind(mod(v(name), idx(cols)), `${name}c`)))));
}

/**
 * Part of level k's gradient one launch computes: the sample gradients of the
 * levels `sources` (ascending), added after its own outputs' when `first`,
 * else onto what an earlier launch stored (the level alone binds more
 * buffers than the target allows: max3d-launches.kernel.ts).
 */
interface Part { readonly k: number; readonly sources: readonly number[]; readonly first: boolean }

/** Level k's tile and the regions of the part's sources, the tile cut until the regions fit. */
function layout(sizes: readonly (readonly number[])[], part: Part, TH: number, TW: number): { th: number; tw: number; regions: Region[] } {
  const [Hk, Wk] = sizes[part.k];
  let th = Math.min(TH, Hk), tw = Math.min(TW, Wk);
  for (;;) {
    let at = 0;
    const regions = part.sources.map((l) => {
      const [H, W] = sizes[l];
      const g = { l, rh: regionSpan(Hk, H, th), rw: regionSpan(Wk, W, tw), at };
      at += g.rh * g.rw;
      return g;
    });
    if (at <= LOCAL_FLOATS || (th === 1 && tw === 1)) return { th, tw, regions };
    if (th >= tw / 2 && th > 1) th = Math.ceil(th / 2);
    else tw = Math.ceil(tw / 2);
  }
}

/**
 * The launches of the gradient for a target allowing `limit` storage
 * buffers, each a list of parts: runs of whole levels (one launch when all
 * fit); a level that alone binds more is split over its sources, in order,
 * the first launch with its own outputs, the later ones adding on.
 */
function gradLaunches(L: number, tau: number, limit: number, valuesOf: (l: number) => readonly number[]): Part[][] {
  const sourcesOf = (k: number): number[] => neighbourLevels(k, L, tau).filter((l) => l !== k);
  const binds = (parts: readonly Part[]): number =>
    new Set(parts.flatMap((p) => [...(p.first ? [p.k] : []), ...p.sources].flatMap(valuesOf))).size + new Set(parts.map((p) => p.k)).size;
  const whole = (k: number): Part => ({ k, sources: sourcesOf(k), first: true });
  const launches: Part[][] = [];
  for (const run of levelRuns(L, limit, (levels) => binds(levels.map(whole)))) {
    if (binds(run.map(whole)) <= limit) { launches.push(run.map(whole)); continue; }
    const k = run[0];
    let part: Part = { k, sources: [], first: true };
    if (binds([part]) > limit) throw levelTooWide('max3d_argmax_grad', k, binds([whole(k)]), tau, limit);
    for (const l of sourcesOf(k)) {
      const grown = { ...part, sources: [...part.sources, l] };
      if (binds([grown]) <= limit) { part = grown; continue; }
      launches.push([part]);
      part = { k, sources: [l], first: false };
      if (binds([part]) > limit) throw levelTooWide('max3d_argmax_grad', k, binds([whole(k)]), tau, limit);
    }
    launches.push([part]);
  }
  return launches;
}

export function scheduleMax3dArgmaxGrad(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled[] {
  const node = graph.nodes[anchorId];
  const tau = intAttr(node.op, node.attrs, 'tau');
  const L = node.inputs.length / 2;
  const valuesOf = (l: number): number[] => [node.inputs[l], node.inputs[L + l]];
  return gradLaunches(L, tau, target.maxStorageBuffers, valuesOf).map((parts) => gradLaunch(graph, nodes, anchorId, lowerings, target, parts));
}

/** One launch of the gather over `parts` (the file comment's passes). */
function gradLaunch(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, lowerings: Readonly<Record<string, Lowering>>, target: Target, parts: readonly Part[]): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const prof = target.name === 'cpu' ? CPU : target.name === 'cuda' ? CUDA : WEBGPU;
  const WG = prof.wg;
  const node = graph.nodes[anchorId];
  const phi = intAttr(node.op, node.attrs, 'phi');
  const r = (phi - 1) / 2;
  const L = node.inputs.length / 2;
  const codes = node.inputs.slice(0, L), grads = node.inputs.slice(L);
  const outBufs = new Map(parts.map((p) => [p.k, em.buf(node.outputs[p.k], 'w')]));
  const sizes = codes.map((c) => em.shape(c).slice(2));
  const plan = parts.map((p) => layout(sizes, p, prof.th, prof.tw));
  const sgSize = Math.max(1, ...plan.map((p) => p.regions.reduce((a, g) => a + g.rh * g.rw, 0)));
  if (plan.some((p) => p.regions.length)) em.locals.push({ name: 'sgrad', t: 'f32', size: sgSize });

  /** Sum of the gradients of level l's outputs within r of (y, x) whose code names (frame k, y, x). */
  const routed = (l: number, k: number, lead: Expr[], y: Expr, x: Expr, unroll: boolean): Expr => {
    const [H, W] = sizes[l];
    const acc = em.fresh('acc');
    em.emit(let_(acc, 'f32', f32(0)));
    const want = em.bind(add(idx(k * H * W), add(mul(y, idx(W)), x)), 'want');
    const tap = (dh: Expr, dw: Expr, looped: boolean): void => {
      const oy = looped ? em.bind(add(y, dh), 'oy') : add(y, dh), ox = looped ? em.bind(add(x, dw), 'ox') : add(x, dw);
      const hit = em.block(() => {
        const code = em.bind(cast(em.value(codes[l], [...lead, oy, ox]), 'i64'), 'code');
        em.emit(if_(bin('eq', code, want), [set(acc, bin('add', v(acc, 'f32'), em.value(grads[l], [...lead, oy, ox])))]));
      });
      em.emit(if_(and(inRange(oy, H), inRange(ox, W)), hit));
    };
    // Small windows unroll; a wider one is a loop (same order: rows, then
    // columns), so the kernel's code does not grow with φ² — at φ 5 and τ 4
    // the unrolled form took SwiftShader ~15 minutes to build.
    if (unroll) {
      for (let dh = -r; dh <= r; dh++) for (let dw = -r; dw <= r; dw++) tap(idx(dh), idx(dw), false);
    } else {
      const dh = em.fresh('dh'), dw = em.fresh('dw');
      em.emit(for_(dh, idx(-r), idx(r + 1), [for_(dw, idx(-r), idx(r + 1), em.block(() => tap(v(dh), v(dw), true)))]));
    }
    return v(acc, 'f32');
  };

  const ranges: { hi: number; body: Stmt[] }[] = [];
  let offset = 0;
  parts.forEach(({ k, first }, pi) => {
    const [B, C] = em.shape(codes[k]);
    const [Hk, Wk] = sizes[k];
    const { th, tw, regions } = plan[pi];
    const unrolled = phi <= UNROLL_PHI && regions.length + 1 <= UNROLL_SUMS;
    const ty = Math.ceil(Hk / th), tx = Math.ceil(Wk / tw);
    const lo = offset;
    offset += B * C * ty * tx;
    const coords = (): { plane: Expr; lead: Expr[]; y0: Expr; x0: Expr } => {
      em.emit(let_('w', 'i64', sub(gid, idx(lo))));
      em.emit(let_('plane', 'i64', div(v('w'), idx(ty * tx))));
      em.emit(let_('y0', 'i64', mul(mod(div(v('w'), idx(tx)), idx(ty)), idx(th))));
      em.emit(let_('x0', 'i64', mul(mod(v('w'), idx(tx)), idx(tw))));
      return { plane: v('plane'), lead: [div(v('plane'), idx(C)), mod(v('plane'), idx(C))], y0: v('y0'), x0: v('x0') };
    };
    const origin = (g: Region, y0: Expr, x0: Expr): { sy: Expr; sx: Expr } => {
      const [H, W] = sizes[g.l];
      return { sy: startExpr(em, y0, Hk, H, readerSpan(Hk, H).slack), sx: startExpr(em, x0, Wk, W, readerSpan(Wk, W).slack) };
    };
    const pass1 = em.block(() => {
      const { lead, y0, x0 } = coords();
      for (const g of regions) {
        const [H, W] = sizes[g.l];
        const { sy, sx } = origin(g, y0, x0);
        grid(em, 'e', g.rh, g.rw, WG, (e, er, ec) => {
          const y = em.bind(add(sy, er), 'y'), x = em.bind(add(sx, ec), 'x');
          em.emit(let_('s', 'f32', f32(0)));
          em.emit(if_(and(lt(y, idx(H)), lt(x, idx(W))), em.block(() => em.emit(set('s', routed(g.l, k, lead, y, x, unrolled))))));
          em.emit(lstore('sgrad', add(idx(g.at), e), v('s', 'f32')));
        });
      }
    });
    const pass2 = em.block(() => {
      const { plane, lead, y0, x0 } = coords();
      const origins = regions.map((g) => origin(g, y0, x0));
      grid(em, 'q', th, tw, WG, (_q, qr, qc) => {
        const qy = em.bind(add(y0, qr), 'qy'), qx = em.bind(add(x0, qc), 'qx');
        const at = add(mul(plane, idx(Hk * Wk)), add(mul(qy, idx(Wk)), qx));
        em.emit(if_(and(lt(qy, idx(Hk)), lt(qx, idx(Wk))), em.block(() => {
          // A later part adds on to the f32 sum an earlier launch stored: the same additions in the same order.
          em.emit(let_('g', 'f32', first ? routed(k, k, lead, qy, qx, unrolled) : storedSum(em, node.outputs[k], at)));
          regions.forEach((g, gi) => addSampleGradients(em, g, origins[gi], sizes, k, qy, qx));
          em.emit(store(outBufs.get(k)!, at, v('g', 'f32')));
        })));
      });
    });
    const body = em.block(() => {
      if (regions.length) {
        for (const st of pass1) em.emit(st);
        em.emit(barrier);
      }
      for (const st of pass2) em.emit(st);
    });
    ranges.push({ hi: offset, body });
  });
  return finish(em, byRange(gid, ranges), WG, [], offset);
}

/** What an earlier launch stored for this element of the output (read back as f32). */
function storedSum(em: Emitter, out: number, at: Expr): Expr {
  const dt = em.dtype(out);
  const stored = load(em.buf(out, 'r'), at, dt);
  return dt === 'f32' ? stored : cast(stored, 'f32');
}

/**
 * Pass 2's terms from one sampling level: the sample gradients in sgrad of the positions whose bilinear taps
 * read input element (qy, qx) of level k, times the tap weights, added to g.
 */
function addSampleGradients(em: Emitter, g: Region, { sy, sx }: { sy: Expr; sx: Expr }, sizes: readonly (readonly number[])[], k: number, qy: Expr, qx: Expr): void {
  const [Hk, Wk] = sizes[k];
  const [H, W] = sizes[g.l];
  const rows = readerSpan(Hk, H), cols = readerSpan(Wk, W);
  const ry = startExpr(em, qy, Hk, H, rows.slack), rx = startExpr(em, qx, Wk, W, cols.slack);
  /** Weight of input q in the taps of sample position p (0 when it is not read). */
  const weight = (p: Expr, q: Expr, inS: number, outS: number): Expr => {
    const t = bilinearTap(em, p, inS, outS);
    return em.bind(add(sel(bin('eq', t.i0, q), t.w0, f32(0)), sel(bin('eq', t.i1, q), t.w1, f32(0))), 'wt');
  };
  const column = (x: Expr): Expr => em.bind(sel(lt(x, idx(W)), weight(x, qx, Wk, W), f32(0)), 'wx');
  const add1 = (wy: Expr, row: Expr, x: Expr, w: Expr): void => {
    const s = lload('sgrad', add(idx(g.at), add(row, sub(x, sx))), 'f32');
    em.emit(if_(bin('ne', w, f32(0)), [set('g', bin('add', v('g', 'f32'), bin('mul', bin('mul', wy, w), s)))]));
  };
  /** Row i of the sample positions that may read (qy, qx): `columns` adds its terms. */
  const readerRow = (i: Expr, columns: (wy: Expr, row: Expr) => void): void => {
    const y = em.bind(add(ry, i), 'syp');
    em.emit(if_(lt(y, idx(H)), em.block(() => {
      const wy = weight(y, qy, Hk, H);
      em.emit(if_(bin('ne', wy, f32(0)), em.block(() => columns(wy, em.bind(mul(sub(y, sy), idx(g.rw)), 'srow')))));
    })));
  };
  if (rows.count * cols.count <= UNROLL_READERS) {
    // Few readers: unrolled, each column's weight computed once for all rows.
    const wxs = Array.from({ length: cols.count }, (_, j) => {
      const x = em.bind(add(rx, idx(j)), 'sxp');
      return { x, w: column(x) };
    });
    for (let i = 0; i < rows.count; i++) readerRow(idx(i), (wy, row) => { for (const { x, w } of wxs) add1(wy, row, x, w); });
  } else {
    // Levels far apart (τ 4) give many readers: loops, in the same order, so the code does not grow with them.
    const i = em.fresh('ri'), j = em.fresh('rj');
    em.emit(for_(i, idx(0), idx(rows.count), em.block(() => readerRow(v(i), (wy, row) => {
      em.emit(for_(j, idx(0), idx(cols.count), em.block(() => {
        const x = em.bind(add(rx, v(j)), 'sxp');
        add1(wy, row, x, column(x));
      })));
    }))));
  }
}

export const MAX3D_ARGMAX_KERNELS: KernelTable<'max3d_argmax' | 'max3d_argmax_grad'> = {
  // The forward's tiles carrying where each maximum came from (max3d.kernel.ts).
  max3d_argmax: { schedule: scheduleMax3dArgmax },
  max3d_argmax_grad: { schedule: scheduleMax3dArgmaxGrad },
};
