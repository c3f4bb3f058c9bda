// max3d forward on the CPU runtime (notes/kernels.md §2): row loops the C
// compiler vectorises, the way max_pool2d's CPU kernel (pool.kernel.ts) does.
// The tiled kernel (max3d.kernel.ts) decomposed a flat pixel index, tested
// bounds and read the tap tables per pixel; once the unfused composition got
// a row-oriented pool it ran at 0.4–0.55× of it.
//
// A workgroup is one band of TH output rows of one (image, channel) plane of
// one level, the whole width. Per workgroup:
// 1. column taps of every neighbour level (i0, i1, λ; notes §2.1), once;
// 2. for each of the band's TH + φ − 1 halo rows, the max over the frames
//    (levels ascending) into a local row of lv. A neighbour's row is the
//    vertical blend of two horizontally interpolated source rows; those are
//    computed once per source row into a two-slot cache (slot = row parity:
//    the two rows a destination row needs are adjacent, so they never share a
//    slot, and the rows needed only move down), which halves the gathers of
//    an upsampled (coarser) neighbour. Halo rows outside the image are −∞;
// 3. the window, separably: φ rows of lv per column into vm (a row padded
//    with (φ−1)/2 −∞ on each side), then φ columns of vm, stored.
// Every inner loop runs over 0..W with compile-time bounds and no clamps or
// branches (the padding is −∞ in the arrays, never a test), so GCC vectorises
// them (contiguous loads, compare, blend; the horizontal interpolation
// gathers). −∞ padding never wins (the reference skips those positions: same
// value), a NaN wins wherever it is (the comparison keeps it once taken), and
// the interpolation is the same f32 expression, taps and order as the tiled
// kernel and the composition's resize, so the values are the same bits.
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import { add, arg, bin, cast, div, f32, for_, gid, idx, if_, inRange, let_, lload, lstore, lt, mod, mul, sel, set, store, sub, v } from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { bilinearTap } from './resize.kernel.js';
import { Scheduled, byRange, finish } from '../schedule/pointwise.js';
import { intAttr } from './attrs.js';
import { neighbourLevels } from './max3d.js';
import { maxInto } from './max3d-rule.kernel.js';

// Workgroup arrays per band. 16 KiB keeps the band's rows in L1 and is the
// bound the max3d tests hold every target's kernel to; at C 256, P3 100×152
// it gives bands of 13 rows at P3 (15 halo rows: 15% recomputed halo).
const LOCAL_BYTES = 16384;
// Fewer rows than this pay more halo than the L1 saves: wide levels go over the budget instead.
const MIN_BAND = 4;

// Local-array accesses go through a base offset read at run time (args[0], always 0). GCC 12
// (-O3 -march=native, AVX-512) otherwise "forces" 32-byte alignment on a local array it sees at
// a constant offset, vectorises with aligned stores, and then places the array at 16 mod 32: the
// first such store faulted (halo row 0 of the lv band, P3 100×152). With a base it cannot see,
// the vectoriser assumes nothing and peels or uses unaligned moves, which cost the same here.
const BASE = v('o');
function ld(arr: string, i: Expr, t: 'f32' | 'i32'): Expr { return lload(arr, add(BASE, i), t); }
function st(arr: string, i: Expr, val: Expr): Stmt { return lstore(arr, add(BASE, i), val); }

function name(what: string, d: number): string { return `${what}_${d < 0 ? 'm' : 'p'}${Math.abs(d)}`; }


/** One launch over the output levels `levels` (all of them, or a run of max3d-launches.kernel.ts). */
export function scheduleMax3dCpu(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, lowerings: Readonly<Record<string, Lowering>>, levels: readonly number[]): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const tau = intAttr(node.op, node.attrs, 'tau'), phi = intAttr(node.op, node.attrs, 'phi');
  const r = (phi - 1) / 2;
  const L = node.inputs.length;
  const shapes = node.inputs.map((x) => em.shape(x));
  const outBufs = new Map(levels.map((l) => [l, em.buf(node.outputs[l], 'w')]));
  const frames = (l: number): number[] => neighbourLevels(l, L, tau);
  const offsets = [...new Set(levels.flatMap((l) => frames(l).map((k) => k - l)))].filter((d) => d !== 0);
  const Wmax = Math.max(...levels.map((l) => shapes[l][3]));
  // Fixed arrays: vm, and per neighbour offset the column taps (i32 i0, i1; f32 λ) and the two cached source rows.
  const fixed = 4 * (Wmax + 2 * r) + offsets.length * 4 * Wmax * 5;
  const bands = shapes.map(([, , H, W]) => Math.min(H, Math.max(MIN_BAND, Math.floor((LOCAL_BYTES - fixed) / (4 * W)) - 2 * r)));
  em.locals.push({ name: 'lv', t: 'f32', size: Math.max(...levels.map((l) => (bands[l] + 2 * r) * shapes[l][3])) });
  em.locals.push({ name: 'vm', t: 'f32', size: Wmax + 2 * r });
  for (const d of offsets) {
    em.locals.push({ name: name('ci0', d), t: 'i32', size: Wmax }, { name: name('ci1', d), t: 'i32', size: Wmax }, { name: name('cw', d), t: 'f32', size: Wmax });
    em.locals.push({ name: name('hz', d), t: 'f32', size: 2 * Wmax });
  }
  const one = f32(1), lowest = f32(-Infinity);
  const ranges: { hi: number; body: ReturnType<Emitter['block']> }[] = [];
  let offset = 0;
  for (const l of levels) {
    const [B, C, H, W] = shapes[l];
    const th = bands[l], nb = Math.ceil(H / th);
    const lo = offset;
    offset += B * C * nb;
    const neighbours = frames(l).filter((k) => k !== l);
    const body = em.block(() => {
      em.emit(let_('o', 'i64', arg(0)));
      const w = em.bind(sub(gid, idx(lo)), 'w');
      const plane = em.bind(div(w, idx(nb)), 'plane'), y0 = em.bind(mul(mod(w, idx(nb)), idx(th)), 'y0');
      const b = em.bind(div(plane, idx(C)), 'b'), c = em.bind(mod(plane, idx(C)), 'c');
      for (let i = 0; i < r; i++) {
        em.emit(st('vm', idx(i), lowest));
        em.emit(st('vm', idx(W + r + i), lowest));
      }
      // 1. Column taps, and an empty row cache, per neighbour.
      for (const k of neighbours) {
        const d = k - l, Wk = shapes[k][3];
        em.emit(for_('x', idx(0), idx(W), em.block(() => {
          const t = bilinearTap(em, v('x'), Wk, W);
          em.emit(st(name('ci0', d), v('x'), cast(t.i0, 'i32')));
          em.emit(st(name('ci1', d), v('x'), cast(t.i1, 'i32')));
          em.emit(st(name('cw', d), v('x'), t.w1));
        })));
        em.emit(let_(name('held0', d), 'i64', idx(-1)));
        em.emit(let_(name('held1', d), 'i64', idx(-1)));
      }
      // 2. Max over the frames, one halo row at a time.
      em.emit(for_('e', idx(0), idx(th + 2 * r), em.block(() => {
        const hy = em.bind(add(sub(y0, idx(r)), v('e')), 'hy');
        const lvRow = em.bind(mul(v('e'), idx(W)), 'lr');
        const inside = em.block(() => {
          const rows = new Map<number, { s0: Expr; s1: Expr; wy: Expr }>();
          for (const k of neighbours) {
            const d = k - l, Hk = shapes[k][2];
            const t = bilinearTap(em, hy, Hk, H);
            for (const sr of [t.i0, t.i1]) {
              // Interpolate source row sr along x into its slot unless it is already there.
              const par = em.bind(mod(sr, idx(2)), 'par');
              const even = bin('eq', par, idx(0));
              const held = sel(even, v(name('held0', d)), v(name('held1', d)));
              const fill = em.block(() => {
                const slot = em.bind(mul(par, idx(W)), 'slot');
                em.emit(for_('x', idx(0), idx(W), em.block(() => {
                  const c0 = cast(ld(name('ci0', d), v('x'), 'i32'), 'i64'), c1 = cast(ld(name('ci1', d), v('x'), 'i32'), 'i64');
                  const wx = em.bind(ld(name('cw', d), v('x'), 'f32'), 'wx');
                  const at = (cc: Expr): Expr => em.value(node.inputs[k], [b, c, sr, cc]);
                  em.emit(st(name('hz', d), add(slot, v('x')), bin('add', bin('mul', bin('sub', one, wx), at(c0)), bin('mul', wx, at(c1)))));
                })));
                em.emit(set(name('held0', d), sel(even, sr, v(name('held0', d)))));
                em.emit(set(name('held1', d), sel(even, v(name('held1', d)), sr)));
              });
              em.emit(if_(bin('ne', sr, held), fill));
            }
            rows.set(k, { s0: em.bind(mul(mod(t.i0, idx(2)), idx(W)), 's0'), s1: em.bind(mul(mod(t.i1, idx(2)), idx(W)), 's1'), wy: t.w1 });
          }
          em.emit(for_('x', idx(0), idx(W), em.block(() => {
            const m = em.fresh('m');
            em.emit(let_(m, 'f32', lowest));
            for (const k of frames(l)) {
              if (k === l) { maxInto(em, m, em.bind(em.value(node.inputs[l], [b, c, hy, v('x')]))); continue; }
              const { s0, s1, wy } = rows.get(k)!;
              const top = ld(name('hz', k - l), add(s0, v('x')), 'f32'), bot = ld(name('hz', k - l), add(s1, v('x')), 'f32');
              maxInto(em, m, em.bind(bin('add', bin('mul', bin('sub', one, wy), top), bin('mul', wy, bot))));
            }
            em.emit(st('lv', add(lvRow, v('x')), v(m, 'f32')));
          })));
        });
        em.emit(if_(inRange(hy, H), inside, [for_('x', idx(0), idx(W), [st('lv', add(lvRow, v('x')), lowest)])]));
      })));
      // 3. The φ×φ window: φ rows per column into vm, then φ columns per output.
      em.emit(for_('j', idx(0), idx(th), em.block(() => {
        const y = em.bind(add(y0, v('j')), 'y');
        const row = em.block(() => {
          em.emit(for_('x', idx(0), idx(W), em.block(() => {
            const m = em.fresh('m');
            em.emit(let_(m, 'f32', ld('lv', add(mul(v('j'), idx(W)), v('x')), 'f32')));
            for (let dh = 1; dh < phi; dh++) maxInto(em, m, ld('lv', add(mul(add(v('j'), idx(dh)), idx(W)), v('x')), 'f32'));
            em.emit(st('vm', add(v('x'), idx(r)), v(m, 'f32')));
          })));
          const dst = em.bind(add(mul(plane, idx(H * W)), mul(y, idx(W))), 'dst');
          em.emit(for_('x', idx(0), idx(W), em.block(() => {
            const m = em.fresh('m');
            em.emit(let_(m, 'f32', ld('vm', v('x'), 'f32')));
            for (let dw = 1; dw < phi; dw++) maxInto(em, m, ld('vm', add(v('x'), idx(dw)), 'f32'));
            em.emit(store(outBufs.get(l)!, add(dst, v('x')), v(m, 'f32')));
          })));
        });
        for (const st of H % th === 0 ? row : [if_(lt(y, idx(H)), row)]) em.emit(st);
      })));
    });
    ranges.push({ hi: offset, body });
  }
  return finish(em, byRange(gid, ranges), 1, [0], offset);
}
