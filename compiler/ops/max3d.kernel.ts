// Hand-scheduled max3d forward (DeFCN 3D max filtering, notes/kernels.md §2).
// One launch covers every pyramid level (or, where the target's storage-buffer
// limit is lower than that launch would bind, each run of levels of
// max3d-launches.kernel.ts): a workgroup is one TH×TW output tile of one
// (image, channel) plane of one level (the level is picked from the
// workgroup index). Stage 0 tabulates the bilinear taps per tile row and
// column and neighbour level (they depend on the row or the column alone).
// Stage A: for each pixel of the tile and its halo, the max over the
// neighbouring levels — neighbours sampled bilinearly *inside* the kernel,
// never materialised, once per pixel — into workgroup memory. Stages B1/B2:
// the φ×φ window, separably (φ along rows into a second array, then φ down
// columns). Threads take runs of adjacent pixels of a row, sharing loads.
// Max is order-free for values; the NaN rule of the reference (a NaN wins)
// holds in every stage.
//
// The same stages give max3d_argmax (compiler/ops/max3d-argmax.ts): each
// stage carries where its maximum came from (frame in stage A, frame and dw
// after B1, frame, dh and dw after B2). The reference's scan order (frames,
// then h, then w; first maximum wins) is a total order on (value, -frame,
// -dh, -dw), so its maximum splits over the stages like the value does: a
// candidate replaces when its value is greater, or equal with an earlier
// frame (an equal frame later in a stage's own scan never replaces).
import { maxInto } from './max3d-rule.kernel.js';
import { GNode, Graph } from '../graph.js';
import { Expr, KArray, Stmt } from '../kernel/ir.js';
import { intAttr } from './attrs.js';
import { neighbourLevels } from './max3d.js';
import {
  add, barrier, bin, cast, div, f32, gid, idx, if_, inRange, let_, lload, lstore, lt, mod, mul, sel, set, store, sub, threadStrided, v,
} from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import type { Target } from '../target.js';
import { bilinearTap } from './resize.kernel.js';
import { scheduleMax3dStream } from './max3d-stream.kernel.js';
import { scheduleMax3dCpu } from './max3d-cpu.kernel.js';
import { forwardRuns } from './max3d-launches.kernel.js';
import { Scheduled, byRange, finish } from '../schedule/pointwise.js';
import type { KernelTable } from './op.js';

// Tile bounds on GPU targets: a level smaller than a tile gets a tile of its
// own size, so the coarse levels (4×4, 8×8) do not pay for a 16×32 halo.
// 18×34 + 18×32 floats plus the tap tables stay far under the 16 KiB
// browsers allow.
const GPU_TILE = { th: 16, tw: 32 };
// Few threads per workgroup: SwiftShader runs every invocation of a kernel
// with barriers as a coroutine, and the switches at each barrier dominated
// (fused vs unfused at 16 channels, P3 32×32: 0.25× with 128 threads, 1.4×
// with 32, 2–4× with 8). A real GPU would rather have a warp's worth (32).
// On WebGPU the forward itself avoids barriers altogether (max3d-stream.kernel.ts:
// at C 32, P3 32×48 its kernel took ~0.65× the time of these tiles); the
// arg-max keeps the tiles.
const GPU_WG = 8;
// CUDA: a block of 128 threads (four warps) per 16×32 tile; each thread takes
// one pixel at a time so a warp's loads of a row are adjacent (coalesced).
const CUDA_WG = 128;
// On the CPU runtime a workgroup's threads are a loop: one thread walks the
// tile's pixels contiguously (no strided thread loop), and a wider tile pays
// less halo. 20×76 divides P3 100×152 and, at φ 3, stays within 16 KiB
// (22×78 + 22×76 floats plus the tap tables). At C 256, P3 100×152 this took
// the fused kernel from ~1.5–1.65× to ~2.1–2.2× the unfused composition;
// whole-plane tiles (100×152, ~125 KB) measured 2.4–2.7× but break the 16 KiB
// bound the tests hold every shape to. The arg-max carries twice the arrays:
// its tile is cut down (rows first) until it fits too.
const CPU_TILE = { th: 20, tw: 76 };
const CPU_WG = 1;
const LOCAL_BYTES = 16384;

interface Profile { th: number; tw: number; wg: number; runs: boolean }

function profile(target: Target): Profile {
  const t = target.name;
  if (t === 'cpu') return { ...CPU_TILE, wg: CPU_WG, runs: true };
  return { ...GPU_TILE, wg: t === 'cuda' ? CUDA_WG : GPU_WG, runs: t !== 'cuda' };
}

/**
 * The workgroup's tile of one level: plane (batch × channel) and top-left
 * corner, from the global workgroup id minus the level's first workgroup lo.
 * Emitted per barrier segment (lets do not cross a barrier).
 */
export function tileCoords(em: Emitter, lo: number, ty: number, tx: number, th: number, tw: number): { plane: Expr; y0: Expr; x0: Expr } {
  em.emit(let_('w', 'i64', sub(gid, idx(lo))));
  em.emit(let_('plane', 'i64', div(v('w'), idx(ty * tx))));
  em.emit(let_('y0', 'i64', mul(mod(div(v('w'), idx(tx)), idx(ty)), idx(th))));
  em.emit(let_('x0', 'i64', mul(mod(v('w'), idx(tx)), idx(tw))));
  return { plane: v('plane'), y0: v('y0'), x0: v('x0') };
}

/** Adjacent pixels one thread takes in a row of n: the largest of 4, 2, 1 dividing n (1 where runs are off). */
function runOf(n: number, runs: boolean): number { return !runs ? 1 : n % 4 === 0 ? 4 : n % 2 === 0 ? 2 : 1; }


/** val beats cur: greater, or the first NaN. */
function beats(val: Expr, cur: Expr): Expr {
  return bin('or', bin('gt', val, cur), bin('and', bin('ne', val, val), bin('eq', cur, cur)));
}

/** val ties cur: equal, or both NaN. */
function ties(val: Expr, cur: Expr): Expr {
  return bin('or', bin('eq', val, cur), bin('and', bin('ne', val, val), bin('ne', cur, cur)));
}

/**
 * Arg-max step: a candidate (val, frame fv) replaces (m, f) when it beats m,
 * or ties it from an earlier frame; `also` are further variables that follow
 * the winner (each name with the candidate's value).
 */
function argInto(em: Emitter, m: string, f: string, val: Expr, fv: Expr, also: [string, Expr][] = []): void {
  const cur = v(m, 'f32');
  const rep = em.bind(bin('or', beats(val, cur), bin('and', ties(val, cur), bin('lt', fv, v(f)))), 'rep');
  em.emit(set(m, sel(rep, val, cur)));
  em.emit(set(f, sel(rep, fv, v(f))));
  for (const [name, e] of also) em.emit(set(name, sel(rep, e, v(name))));
}

interface Tile { th: number; tw: number; sh: number; sw: number }

/** Workgroup arrays (name, type, elements) for these per-level tiles; the arg-max adds a frame (and dw) array per stage. */
function localArrays(tiles: readonly Tile[], offsets: readonly number[], argmax: boolean): KArray[] {
  const most = (f: (t: Tile) => number): number => Math.max(...tiles.map(f));
  const out: KArray[] = [{ name: 'lvmax', t: 'f32', size: most((t) => t.sh * t.sw) }, { name: 'rowmax', t: 'f32', size: most((t) => t.sh * t.tw) }];
  if (argmax) out.push({ name: 'lvfrom', t: 'i64', size: most((t) => t.sh * t.sw) }, { name: 'rowwho', t: 'i64', size: most((t) => t.sh * t.tw) });
  // Tap tables, one set per neighbour offset (level - 1, level + 1, ...), reused by every level.
  for (const d of offsets) {
    for (const axis of ['r', 'c'] as const) {
      const n = most((t) => (axis === 'r' ? t.sh : t.sw));
      out.push({ name: tapTable(axis, d, 'i0'), t: 'i64', size: n }, { name: tapTable(axis, d, 'i1'), t: 'i64', size: n }, { name: tapTable(axis, d, 'w'), t: 'f32', size: n });
    }
  }
  return out;
}

function tapTable(axis: 'r' | 'c', d: number, what: 'i0' | 'i1' | 'w'): string { return `${axis}${what}_${d < 0 ? 'm' : 'p'}${Math.abs(d)}`; }

/** Per-level tiles within the profile's bounds, rows cut (then columns) until the arrays fit in 16 KiB (i64 is i32 in WGSL). */
function fitTiles(sizes: readonly (readonly number[])[], TH: number, TW: number, r: number, offsets: readonly number[], argmax: boolean): Tile[] {
  let th0 = TH, tw0 = TW;
  for (;;) {
    const tiles = sizes.map(([H, W]) => {
      const th = Math.min(th0, H), tw = Math.min(tw0, W);
      return { th, tw, sh: th + 2 * r, sw: tw + 2 * r };
    });
    const bytes = localArrays(tiles, offsets, argmax).reduce((a, l) => a + 4 * l.size, 0);
    if (bytes <= LOCAL_BYTES || (th0 === 1 && tw0 === 1)) return tiles;
    if (th0 > 1) th0 = Math.min(th0, Math.max(...tiles.map((t) => t.th))) - 1;
    else tw0 = Math.max(1, Math.floor(tw0 / 2));
  }
}

/**
 * max3d for `target`: one launch over the pyramid, or runs of levels where one would bind more storage buffers
 * than the target allows (max3d-launches.kernel.ts).
 */
export function scheduleMax3d(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled[] {
  // The strips read the levels straight from their buffers: fusion never inlines a producer into an
  // opaque anchor (fuse.ts), and if it ever did, the tiles (which ask the emitter for values) still work.
  const inlined = graph.nodes[anchorId].inputs.some((x) => nodes.has(graph.values[x].node));
  // The strips keep every window column and row maximum in registers: past φ 3 or 3 frames (τ 2)
  // SwiftShader's shader compiler took minutes on one (τ 4, φ 5), so wider windows take the tiles.
  const tau = intAttr(graph.nodes[anchorId].op, graph.nodes[anchorId].attrs, 'tau'), phi = intAttr(graph.nodes[anchorId].op, graph.nodes[anchorId].attrs, 'phi');
  return forwardRuns(graph, anchorId, tau, target.maxStorageBuffers).map((levels) => {
    if (target.name === 'webgpu' && !inlined && phi <= 3 && tau <= 2) return scheduleMax3dStream(graph, nodes, anchorId, lowerings, levels);
    if (target.name === 'cpu') return scheduleMax3dCpu(graph, nodes, anchorId, lowerings, levels); // row loops (max3d-cpu.kernel.ts)
    return tiledLaunch(graph, nodes, anchorId, lowerings, false, target, levels);
  });
}

/** max3d_argmax: the forward's stages, carrying where each maximum came from; i32 codes out. Runs of levels as max3d's. */
export function scheduleMax3dArgmax(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled[] {
  const tau = intAttr(graph.nodes[anchorId].op, graph.nodes[anchorId].attrs, 'tau');
  return forwardRuns(graph, anchorId, tau, target.maxStorageBuffers).map((levels) => tiledLaunch(graph, nodes, anchorId, lowerings, true, target, levels));
}

/** What every stage of one level's tiles needs: the op, its window, the level, its tile and where its workgroups start. */
interface LevelTiles {
  readonly em: Emitter;
  readonly node: GNode;
  readonly argmax: boolean;
  readonly prof: Profile;
  readonly tau: number;
  readonly phi: number;
  /** (φ - 1) / 2: the window's reach on each side. */
  readonly r: number;
  readonly l: number;
  readonly shape: readonly number[];
  readonly tile: Tile;
  /** The other levels this level's frames are sampled from, ascending. */
  readonly neighbours: readonly number[];
  readonly outBuf: number;
  /** The tile's plane and corner, emitted anew in each barrier segment (lets do not cross a barrier). */
  readonly coords: () => { plane: Expr; y0: Expr; x0: Expr };
}

/** One launch of the tiled schedule over the output levels `levels` (the file comment's stages). */
function tiledLaunch(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, lowerings: Readonly<Record<string, Lowering>>, argmax: boolean, target: Target, levels: readonly number[]): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const prof = profile(target);
  const node = graph.nodes[anchorId];
  const tau = intAttr(node.op, node.attrs, 'tau'), phi = intAttr(node.op, node.attrs, 'phi');
  const r = (phi - 1) / 2;
  const L = node.inputs.length;
  const outBufs = new Map(levels.map((l) => [l, em.buf(node.outputs[l], 'w')]));
  const offsets = [...new Set(levels.map((l) => neighbourLevels(l, L, tau).map((k) => k - l)).flat())].filter((d) => d !== 0);
  const tiles = fitTiles(levels.map((l) => em.shape(node.inputs[l]).slice(2)), prof.th, prof.tw, r, offsets, argmax);
  em.locals.push(...localArrays(tiles, offsets, argmax));
  const ranges: { hi: number; body: Stmt[] }[] = [];
  let offset = 0;
  levels.forEach((l, i) => {
    const shape = em.shape(node.inputs[l]);
    const [B, C, H, W] = shape;
    const tile = tiles[i];
    const { th, tw } = tile;
    const ty = Math.ceil(H / th), tx = Math.ceil(W / tw);
    const lo = offset;
    offset += B * C * ty * tx;
    const body = em.block(() => {
      const neighbours = neighbourLevels(l, L, tau).filter((k) => k !== l);
      const c: LevelTiles = {
        em, node, argmax, prof, tau, phi, r, l, shape, tile, neighbours, outBuf: outBufs.get(l)!,
        coords: () => tileCoords(em, lo, ty, tx, th, tw),
      };
      const stage0 = em.block(() => tapTables(c));
      const stageA = em.block(() => frameMaxima(c));
      const stageB1 = em.block(() => rowWindows(c));
      const stageB2 = em.block(() => columnWindows(c));
      if (neighbours.length) {
        for (const s of stage0) em.emit(s);
        em.emit(barrier);
      }
      for (const s of stageA) em.emit(s);
      em.emit(barrier);
      for (const s of stageB1) em.emit(s);
      em.emit(barrier);
      for (const s of stageB2) em.emit(s);
    });
    ranges.push({ hi: offset, body });
  });
  return finish(em, byRange(gid, ranges), prof.wg, [], offset);
}

/** Stage 0: the bilinear taps of every neighbour level per halo row and column of the tile (they depend on one of them alone). */
function tapTables({ em, node, prof, r, l, shape, tile, neighbours, coords }: LevelTiles): void {
  const [, , H, W] = shape;
  const { y0, x0 } = coords();
  for (const [axis, start, n] of [['r', y0, tile.sh], ['c', x0, tile.sw]] as const) {
    em.emit(threadStrided(`e${axis}`, idx(n), prof.wg, em.block(() => {
      const pos = em.bind(add(sub(start, idx(r)), v(`e${axis}`)), axis);
      for (const k of neighbours) {
        const [, , Hk, Wk] = em.shape(node.inputs[k]);
        const t = axis === 'r' ? bilinearTap(em, pos, Hk, H) : bilinearTap(em, pos, Wk, W);
        em.emit(lstore(tapTable(axis, k - l, 'i0'), v(`e${axis}`), t.i0));
        em.emit(lstore(tapTable(axis, k - l, 'i1'), v(`e${axis}`), t.i1));
        em.emit(lstore(tapTable(axis, k - l, 'w'), v(`e${axis}`), t.w1));
      }
    })));
  }
}

/**
 * Stage A: the max over levels at every halo pixel into lvmax (and its frame into lvfrom); each neighbour's
 * bilinear value is sampled once per pixel. A thread takes a run of adjacent pixels of one row: the row's
 * taps and bounds are read once.
 */
function frameMaxima({ em, node, argmax, prof, tau, r, l, shape, tile, neighbours, coords }: LevelTiles): void {
  const [, C, H, W] = shape;
  const { sh, sw } = tile;
  const L = node.inputs.length;
  const va = runOf(sw, prof.runs), ra = sw / va;
  const { plane, y0, x0 } = coords();
  em.emit(threadStrided('e', idx(sh * ra), prof.wg, em.block(() => {
    const hy = em.bind(div(v('e'), idx(ra)), 'hy'), hx0 = em.bind(mul(mod(v('e'), idx(ra)), idx(va)), 'hx');
    const y = em.bind(add(sub(y0, idx(r)), hy), 'y');
    const base = em.bind(add(mul(hy, idx(sw)), hx0), 'at');
    for (let j = 0; j < va; j++) {
      em.emit(let_(`m${j}`, 'f32', f32(-Infinity)));
      if (argmax) em.emit(let_(`f${j}`, 'i64', idx(-1)));
    }
    const take = (j: number, k: number, val: Expr): void => (argmax ? argInto(em, `m${j}`, `f${j}`, val, idx(k)) : maxInto(em, `m${j}`, val));
    const rowInside = em.block(() => {
      const b = div(plane, idx(C)), c = mod(plane, idx(C));
      const rowTaps = new Map<number, { r0: Expr; r1: Expr; wy: Expr }>();
      for (const k of neighbours) {
        const T0 = (what: 'i0' | 'i1'): Expr => em.bind(lload(tapTable('r', k - l, what), hy, 'i64'));
        rowTaps.set(k, { r0: T0('i0'), r1: T0('i1'), wy: em.bind(lload(tapTable('r', k - l, 'w'), hy, 'f32')) });
      }
      for (let j = 0; j < va; j++) {
        const lx = em.bind(add(hx0, idx(j)), 'hx');
        const x = em.bind(add(sub(x0, idx(r)), lx), 'x');
        const inside = em.block(() => {
          for (const k of neighbourLevels(l, L, tau)) {
            if (k === l) { take(j, k, em.bind(em.value(node.inputs[k], [b, c, y, x]))); continue; }
            const { r0, r1, wy } = rowTaps.get(k)!;
            const c0 = em.bind(lload(tapTable('c', k - l, 'i0'), lx, 'i64')), c1 = em.bind(lload(tapTable('c', k - l, 'i1'), lx, 'i64'));
            const wx = em.bind(lload(tapTable('c', k - l, 'w'), lx, 'f32'));
            const at = (rr: Expr, cc: Expr): Expr => em.value(node.inputs[k], [b, c, rr, cc]);
            const one = f32(1);
            const top = bin('add', bin('mul', bin('sub', one, wx), at(r0, c0)), bin('mul', wx, at(r0, c1)));
            const bot = bin('add', bin('mul', bin('sub', one, wx), at(r1, c0)), bin('mul', wx, at(r1, c1)));
            take(j, k, em.bind(bin('add', bin('mul', bin('sub', one, wy), top), bin('mul', wy, bot))));
          }
        });
        em.emit(if_(inRange(x, W), inside));
      }
    });
    em.emit(if_(inRange(y, H), rowInside));
    for (let j = 0; j < va; j++) {
      em.emit(lstore('lvmax', add(base, idx(j)), v(`m${j}`, 'f32')));
      if (argmax) em.emit(lstore('lvfrom', add(base, idx(j)), v(`f${j}`)));
    }
  })));
}

/**
 * Stage B1, the separable window's first half: φ along each halo row into rowmax (2φ reads per output, not
 * φ²); runs of adjacent outputs share their loads. The arg-max also keeps the frame and the window column
 * (0..φ-1) of each row maximum, as frame·φ + column, in rowwho.
 */
function rowWindows({ em, argmax, prof, phi, tile }: LevelTiles): void {
  const { sh, sw, tw } = tile;
  const vb = runOf(tw, prof.runs), rb = tw / vb;
  em.emit(threadStrided('e', idx(sh * rb), prof.wg, em.block(() => {
    const hy = em.bind(div(v('e'), idx(rb)), 'hy'), lx0 = em.bind(mul(mod(v('e'), idx(rb)), idx(vb)), 'lx');
    const src = em.bind(add(mul(hy, idx(sw)), lx0), 'src'), dst = em.bind(add(mul(hy, idx(tw)), lx0), 'dst');
    const vals = Array.from({ length: vb + phi - 1 }, (_, i) => em.bind(lload('lvmax', add(src, idx(i)), 'f32'), 'lv'));
    const froms = argmax ? Array.from({ length: vb + phi - 1 }, (_, i) => em.bind(lload('lvfrom', add(src, idx(i)), 'i64'), 'lf')) : [];
    for (let j = 0; j < vb; j++) {
      em.emit(let_(`m${j}`, 'f32', vals[j]));
      if (argmax) {
        em.emit(let_(`f${j}`, 'i64', froms[j]));
        em.emit(let_(`d${j}`, 'i64', idx(0)));
        for (let dw = 1; dw < phi; dw++) argInto(em, `m${j}`, `f${j}`, vals[j + dw], froms[j + dw], [[`d${j}`, idx(dw)]]);
        em.emit(lstore('rowwho', add(dst, idx(j)), add(mul(v(`f${j}`), idx(phi)), v(`d${j}`))));
      } else {
        for (let dw = 1; dw < phi; dw++) maxInto(em, `m${j}`, vals[j + dw]);
      }
      em.emit(lstore('rowmax', add(dst, idx(j)), v(`m${j}`, 'f32')));
    }
  })));
}

/** Stage B2: φ down the columns of rowmax, stored; the arg-max stores the code of each maximum instead (max3d-argmax.ts). */
function columnWindows({ em, argmax, prof, phi, r, shape, tile, outBuf, coords }: LevelTiles): void {
  const [, , H, W] = shape;
  const { th, tw } = tile;
  const vb = runOf(tw, prof.runs), rb = tw / vb;
  const { plane, y0, x0 } = coords();
  em.emit(threadStrided('o', idx(th * rb), prof.wg, em.block(() => {
    const ly = em.bind(div(v('o'), idx(rb)), 'ly'), lx0 = em.bind(mul(mod(v('o'), idx(rb)), idx(vb)), 'lx');
    const y = em.bind(add(y0, ly), 'y');
    const row = em.block(() => {
      const src = em.bind(add(mul(ly, idx(tw)), lx0), 'src');
      const dst = em.bind(add(mul(plane, idx(H * W)), add(mul(y, idx(W)), add(x0, lx0))), 'dst');
      for (let j = 0; j < vb; j++) {
        const one = em.block(() => {
          em.emit(let_(`m${j}`, 'f32', lload('rowmax', add(src, idx(j)), 'f32')));
          if (!argmax) {
            for (let dh = 1; dh < phi; dh++) maxInto(em, `m${j}`, em.bind(lload('rowmax', add(src, idx(j + dh * tw)), 'f32')));
            em.emit(store(outBuf, add(dst, idx(j)), v(`m${j}`, 'f32')));
            return;
          }
          const who = (dh: number): Expr => em.bind(lload('rowwho', add(src, idx(j + dh * tw)), 'i64'), 'who');
          em.emit(let_(`w${j}`, 'i64', who(0)));
          em.emit(let_(`f${j}`, 'i64', div(v(`w${j}`), idx(phi))));
          em.emit(let_(`d${j}`, 'i64', idx(0)));
          for (let dh = 1; dh < phi; dh++) {
            const w2 = who(dh);
            argInto(em, `m${j}`, `f${j}`, em.bind(lload('rowmax', add(src, idx(j + dh * tw)), 'f32')), em.bind(div(w2, idx(phi))), [[`w${j}`, w2], [`d${j}`, idx(dh)]]);
          }
          // Nothing above -inf in the window (the only way the maximum stays -inf): no arg-max.
          const ay = add(y, sub(v(`d${j}`), idx(r))), ax = add(add(x0, add(lx0, idx(j))), sub(mod(v(`w${j}`), idx(phi)), idx(r)));
          const code = add(mul(v(`f${j}`), idx(H * W)), add(mul(ay, idx(W)), ax));
          em.emit(store(outBuf, add(dst, idx(j)), cast(sel(bin('eq', v(`m${j}`, 'f32'), f32(-Infinity)), idx(-1), code), 'i32')));
        });
        // A tile dividing W needs no column test.
        for (const st of W % tw === 0 ? one : [if_(lt(add(x0, add(lx0, idx(j))), idx(W)), one)]) em.emit(st);
      }
    });
    for (const st of H % th === 0 ? row : [if_(lt(y, idx(H)), row)]) em.emit(st);
  })));
}

export const MAX3D_KERNELS: KernelTable<'max3d'> = { max3d: { schedule: scheduleMax3d } };
