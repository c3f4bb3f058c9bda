// max3d forward without workgroup memory or barriers, for WebGPU. On
// SwiftShader every invocation of a kernel with a barrier runs as a
// coroutine, and the switches and workgroup-memory traffic of the tiled
// schedule (max3d.ts) cost more than the loads they save. Here each thread
// owns V adjacent output columns of a strip of rows of one plane and walks
// down the strip: per row it takes the max over the frames at the V + φ - 1
// columns its window needs (neighbours sampled bilinearly, column taps
// computed once per thread, row taps once per row), then the φ-wide max
// along the row, and keeps the last φ - 1 row maxima in registers for the
// φ-tall max down the columns. Threads are independent, so a level starts at
// any thread, not at a workgroup boundary. At C 32, P3 32×48 on SwiftShader
// (best of 40, same process) the kernel took ~0.65× the tiled one's time, and
// sharing the upsampled neighbour's source columns took it from ~11 to ~6.6 ms.
// The vertical-then-horizontal interpolation of upsampled neighbours rounds
// differently from the reference's horizontal-then-vertical (an ulp): values
// only; the arg-max (max3d.ts) keeps the reference's order for exact ties.
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import { intAttr } from './attrs.js';
import { neighbourLevels } from './max3d.js';
import { maxOf } from './max3d-rule.kernel.js';
import { bilinearTaps } from './resize.js';
import {
  add, and, bin, div, f32, for_, gid, idx, if_, inRange, let_, lid, lload, load, lstore, lt, max, min, mod, mul, set, store, sub, v,
} from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { bilinearTap } from './resize.kernel.js';
import { Scheduled, byRange, finish } from '../schedule/pointwise.js';

/** Output columns per thread: the window's φ - 1 extra columns are shared by V outputs. */
const V = 4;
/** Output rows per thread: the φ - 1 extra rows at the top are shared by a strip of this many. */
const STRIP = 16;
const WG = 64;


/** One launch over the output levels `levels` (all of them, or a run of max3d-launches.kernel.ts). */
export function scheduleMax3dStream(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, lowerings: Readonly<Record<string, Lowering>>, levels: readonly number[]): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const tau = intAttr(node.op, node.attrs, 'tau'), phi = intAttr(node.op, node.attrs, 'phi');
  const r = (phi - 1) / 2;
  const L = node.inputs.length;
  const outBufs = new Map(levels.map((l) => [l, em.buf(node.outputs[l], 'w')]));
  const ranges: { hi: number; body: Stmt[] }[] = [];
  let offset = 0;
  for (const l of levels) {
    const [B, C, H, W] = em.shape(node.inputs[l]);
    const n = Math.min(STRIP, H);
    const cols = Math.ceil(W / V), strips = Math.ceil(H / n);
    const lo = offset;
    offset += B * C * cols * strips;
    const frames = neighbourLevels(l, L, tau);
    const body = em.block(() => {
      const t = em.bind(sub(v('t'), idx(lo)), 'tl');
      const plane = em.bind(div(t, idx(cols * strips)), 'plane');
      const y0 = em.bind(mul(mod(div(t, idx(cols)), idx(strips)), idx(n)), 'y0');
      const x0 = em.bind(mul(mod(t, idx(cols)), idx(V)), 'x0');
      // Flat offsets by hand (plane base, then a row base per row): SwiftShader's code generator does not
      // share the index arithmetic of the loads by itself.
      const bufOf = new Map(frames.map((k) => [k, em.buf(node.inputs[k], 'r')]));
      const planeBase = new Map(frames.map((k) => {
        const [, , Hk, Wk] = em.shape(node.inputs[k]);
        return [k, em.bind(mul(plane, idx(Hk * Wk)), 'pb')];
      }));
      // The V + φ - 1 input columns: bounds and, per neighbour frame, bilinear taps.
      const colAt = Array.from({ length: V + 2 * r }, (_, j) => {
        const x = em.bind(add(x0, idx(j - r)), 'cx');
        const inside = em.bind(inRange(x, W), 'cin');
        const taps = new Map<number, ReturnType<typeof bilinearTap>>();
        for (const k of frames) if (k !== l) taps.set(k, bilinearTap(em, x, em.shape(node.inputs[k])[3], W));
        return { x, inside, taps };
      });
      // Upsampled neighbours (fewer columns than this level): adjacent columns share source columns, so per row
      // the thread interpolates down the rows once per source column it needs (a register array), then
      // across for each column: 2 loads per source column instead of 4 per output column.
      const shared = new Map<number, { arr: string; cs: Expr; span: number }>();
      for (const k of frames) {
        const Wk = em.shape(node.inputs[k])[3];
        if (k === l || Wk >= W) continue;
        const taps = bilinearTaps(Wk, W);
        let span = 1;
        for (let x0v = 0; x0v < W; x0v += V) {
          const first = Math.max(0, x0v - r), last = Math.min(W - 1, x0v + V - 1 + r);
          span = Math.max(span, taps.i1[last] - taps.i0[first] + 1);
        }
        // One more for a tap that f32 floors one lower than f64 would.
        span = Math.min(Wk, span + 1);
        const arr = em.fresh(`vs${k - l < 0 ? 'm' : 'p'}${Math.abs(k - l)}`);
        em.regs.push({ name: arr, t: 'f32', size: span });
        const firstCol = colAt.find((c) => c)!;
        const cs = em.bind(min(max(idx(0), sub(firstCol.taps.get(k)!.i0, idx(1))), idx(Wk - span)), 'cs');
        shared.set(k, { arr, cs, span });
      }
      const hist = Array.from({ length: phi - 1 }, (_, i) => Array.from({ length: V }, (_, j) => {
        const name = em.fresh(`h${i}`);
        em.emit(let_(name, 'f32', f32(-Infinity)));
        return name;
      }));
      const rows = em.bind(min(idx(n), sub(idx(H), y0)), 'rows');
      const i = em.fresh('i');
      em.emit(for_(i, idx(0), add(rows, idx(2 * r)), em.block(() => {
        const y = em.bind(add(y0, sub(v(i), idx(r))), 'y');
        const lv = colAt.map(() => {
          const name = em.fresh('lv');
          em.emit(let_(name, 'f32', f32(-Infinity)));
          return name;
        });
        em.emit(if_(inRange(y, H), em.block(() => {
          const rowTaps = new Map<number, { w0: Expr; w1: Expr; r0: Expr; r1: Expr }>();
          const selfRow = em.bind(add(planeBase.get(l)!, mul(y, idx(W))), 'rb');
          for (const k of frames) {
            if (k === l) continue;
            const [, , Hk, Wk] = em.shape(node.inputs[k]);
            const t = bilinearTap(em, y, Hk, H);
            const base = planeBase.get(k)!;
            rowTaps.set(k, { w0: t.w0, w1: t.w1, r0: em.bind(add(base, mul(t.i0, idx(Wk))), 'rb'), r1: em.bind(add(base, mul(t.i1, idx(Wk))), 'rb') });
            const sh = shared.get(k);
            if (!sh) continue;
            const ty = rowTaps.get(k)!;
            for (let m = 0; m < sh.span; m++) {
              const cc = add(sh.cs, idx(m));
              const buf = bufOf.get(k)!;
              em.emit(lstore(sh.arr, idx(m), bin('add', bin('mul', ty.w0, load(buf, add(ty.r0, cc), 'f32')), bin('mul', ty.w1, load(buf, add(ty.r1, cc), 'f32')))));
            }
          }
          colAt.forEach((col, j) => {
            em.emit(if_(col.inside, em.block(() => {
              for (const k of frames) {
                const buf = bufOf.get(k)!;
                if (k === l) { em.emit(set(lv[j], maxOf(v(lv[j], 'f32'), em.bind(load(buf, add(selfRow, col.x), 'f32'))))); continue; }
                const ty = rowTaps.get(k)!, tx = col.taps.get(k)!;
                const sh = shared.get(k);
                if (sh) {
                  const at = (c: Expr): Expr => lload(sh.arr, min(max(idx(0), sub(c, sh.cs)), idx(sh.span - 1)), 'f32');
                  em.emit(set(lv[j], maxOf(v(lv[j], 'f32'), em.bind(bin('add', bin('mul', tx.w0, at(tx.i0)), bin('mul', tx.w1, at(tx.i1)))))));
                  continue;
                }
                const at = (row: Expr, cc: Expr): Expr => load(buf, add(row, cc), 'f32');
                const top = bin('add', bin('mul', tx.w0, at(ty.r0, tx.i0)), bin('mul', tx.w1, at(ty.r0, tx.i1)));
                const bot = bin('add', bin('mul', tx.w0, at(ty.r1, tx.i0)), bin('mul', tx.w1, at(ty.r1, tx.i1)));
                em.emit(set(lv[j], maxOf(v(lv[j], 'f32'), em.bind(bin('add', bin('mul', ty.w0, top), bin('mul', ty.w1, bot))))));
              }
            })));
          });
        })));
        // The φ-wide max along the row, then the φ-tall max with the rows kept from before.
        const across = Array.from({ length: V }, (_, j) => {
          let m: Expr = v(lv[j], 'f32');
          for (let d = 1; d < phi; d++) m = em.bind(maxOf(m, v(lv[j + d], 'f32')));
          return m;
        });
        const oy = em.bind(sub(y, idx(r)), 'oy');
        em.emit(if_(and(bin('ge', v(i), idx(2 * r)), lt(oy, idx(H))), em.block(() => {
          for (let j = 0; j < V; j++) {
            let m: Expr = across[j];
            for (const h of hist) m = em.bind(maxOf(v(h[j], 'f32'), m));
            const ox = add(x0, idx(j));
            const st = store(outBufs.get(l)!, add(mul(plane, idx(H * W)), add(mul(oy, idx(W)), ox)), m);
            em.emit(W % V === 0 ? st : if_(lt(ox, idx(W)), [st]));
          }
        })));
        for (let h = 0; h < hist.length; h++) for (let j = 0; j < V; j++) em.emit(set(hist[h][j], h + 1 < hist.length ? v(hist[h + 1][j], 'f32') : across[j]));
      })));
    });
    ranges.push({ hi: offset, body });
  }
  const body = em.block(() => {
    em.emit(let_('t', 'i64', add(mul(gid, idx(WG)), lid)));
    for (const s of byRange(v('t'), ranges)) em.emit(s);
  });
  return finish(em, body, WG, [], Math.ceil(offset / WG));
}
