// max3d_grad as a two-pass gather inside one launch (notes/kernels.md §2.3,
// "v2: D per tile in workgroup memory"). A workgroup owns a tile of input
// pixels q of one level k. Pass 1: the arg-max code (frame, position) of
// every output that can route gradient into the tile — level k's outputs in
// the tile and its φ halo, and for each neighbour level l the rectangle of
// outputs around the level-l positions whose bilinear taps read the tile —
// is computed once, with the forward's exact order (levels ascending, then
// h, then w; strictly greater or NaN replaces), into workgroup memory.
// Barrier. Pass 2: each q sums, in a fixed order, the gradients of the
// outputs whose code names q itself or a resized sample that reads q
// (through its bilinear weight). Deterministic and atomics-free. Codes stay
// in the workgroup because a schedule is one kernel with no scratch buffer,
// so each tile re-derives the arg-max of every output around it: autodiff
// uses the two-op form instead (max3d_argmax, then max3d_argmax_grad in
// max3d-argmax-grad.ts; at R50-FPN 320 sizes, C 256, ~18× less time).
import { Graph, GNode } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import { intAttr } from '../ops/attrs.js';
import { neighbourLevels } from '../ops/max3d.js';
import {
  add, and, barrier, bin, div, f32, for_, gid, idx, if_, inRange, let_, lload, lstore, lt, max, mod, mul, sel, set, store, sub, threadStrided, v,
} from '../kernel/build.js';
import { Emitter, Lowering } from './emit.js';
import { bilinearSample, bilinearTap } from './lower-gather.js';
import { tileCoords } from './max3d.js';
import { Scheduled, byRange, finish } from './pointwise.js';

/** Emits the arg-max of output (oy, ox) of level l; returns the names of its frame and position variables. */
function argmax(em: Emitter, node: GNode, l: number, L: number, tau: number, r: number, lead: Expr[], oy: Expr, ox: Expr): { from: string; ay: string; ax: string } {
  const [, , H, W] = em.shape(node.inputs[l]);
  const m = em.fresh('am'), from = em.fresh('af'), ay = em.fresh('ay'), ax = em.fresh('ax');
  em.emit(let_(m, 'f32', f32(-Infinity)));
  em.emit(let_(from, 'i64', idx(-1)));
  em.emit(let_(ay, 'i64', idx(0)));
  em.emit(let_(ax, 'i64', idx(0)));
  for (const k of neighbourLevels(l, L, tau)) {
    const dh = em.fresh('dh'), dw = em.fresh('dw');
    const body = em.block(() => {
      const y = em.bind(add(oy, v(dh)), 'y'), x = em.bind(add(ox, v(dw)), 'x');
      const inner = em.block(() => {
        const val = em.bind(k === l ? em.value(node.inputs[k], [...lead, y, x]) : bilinearSample(em, node.inputs[k], lead, y, x, H, W), 'val');
        const cur = v(m, 'f32');
        em.emit(if_(bin('or', bin('gt', val, cur), and(bin('ne', val, val), bin('eq', cur, cur))), [set(m, val), set(from, idx(k)), set(ay, y), set(ax, x)]));
      });
      em.emit(if_(and(inRange(y, H), inRange(x, W)), inner));
    });
    em.emit(for_(dh, idx(-r), idx(r + 1), [for_(dw, idx(-r), idx(r + 1), body)]));
  }
  return { from, ay, ax };
}

/** Output rows of a size-`outSize` resize (from `inSize`) that can read input row q: [start, start + count). */
function readers(em: Emitter, q: Expr, inSize: number, outSize: number): { start: Expr; count: number } {
  return { start: em.bind(max(idx(0), sub(div(mul(sub(q, idx(1)), idx(outSize)), idx(inSize)), idx(2))), 'rs'), count: Math.ceil((3 * outSize) / inSize) + 6 };
}

const T = 16;
const WG = 8;

export function scheduleMax3dGrad(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const tau = intAttr('max3d_grad', node.attrs, 'tau'), phi = intAttr('max3d_grad', node.attrs, 'phi');
  const r = (phi - 1) / 2, half = tau / 2;
  const L = node.inputs.length / 2;
  const outBufs = node.outputs.map((o) => em.buf(o, 'w'));
  // Per (input level k, output level l) pair: the rectangle of level-l outputs whose arg-max codes a tile of k needs.
  interface Region { l: number; rh: number; rw: number; arr: string }
  const regionOf = (k: number, l: number, th: number, tw: number): Region => {
    const [, , Hk, Wk] = em.shape(node.inputs[k]);
    const [, , H, W] = em.shape(node.inputs[l]);
    const span = (n: number, inS: number, outS: number): number => (l === k ? n + 2 * r : Math.ceil(((n - 1) * outS) / inS) + 1 + Math.ceil((3 * outS) / inS) + 6 + 2 * r);
    return { l, rh: span(th, Hk, H), rw: span(tw, Wk, W), arr: `code_${l - k < 0 ? 'm' : 'p'}${Math.abs(l - k)}` };
  };
  const sizes = new Map<string, number>();
  const levelsOut: { hi: number; body: Stmt[] }[] = [];
  let offset = 0;
  for (let k = 0; k < L; k++) {
    const [B, C, Hk, Wk] = em.shape(node.inputs[k]);
    const th = Math.min(T, Hk), tw = Math.min(T, Wk);
    const ty = Math.ceil(Hk / th), tx = Math.ceil(Wk / tw);
    const lo = offset;
    offset += B * C * ty * tx;
    const coords = (): { plane: Expr; y0: Expr; x0: Expr } => tileCoords(em, lo, ty, tx, th, tw);
    const ls = Array.from({ length: L }, (_, l) => l).filter((l) => neighbourLevels(l, L, tau).includes(k));
    const regions = ls.map((l) => regionOf(k, l, th, tw));
    for (const g of regions) sizes.set(g.arr, Math.max(sizes.get(g.arr) ?? 0, g.rh * g.rw));
    /** Top-left output of level l's region for the tile at (y0, x0) of level k. */
    const origin = (g: Region, y0: Expr, x0: Expr): { oy: Expr; ox: Expr } => {
      if (g.l === k) return { oy: em.bind(sub(y0, idx(r)), 'oy'), ox: em.bind(sub(x0, idx(r)), 'ox') };
      const [, , H, W] = em.shape(node.inputs[g.l]);
      return { oy: em.bind(sub(readers(em, y0, Hk, H).start, idx(r)), 'oy'), ox: em.bind(sub(readers(em, x0, Wk, W).start, idx(r)), 'ox') };
    };
    const codeOf = (l: number, from: Expr, ay: Expr, ax: Expr): Expr => {
      const [, , H, W] = em.shape(node.inputs[l]);
      return add(mul(add(sub(from, idx(l)), idx(half)), idx(H * W)), add(mul(ay, idx(W)), ax));
    };
    // Pass 1: the arg-max code of every output in the regions (-1 outside the image), in workgroup memory.
    const pass1 = em.block(() => {
      const { plane, y0, x0 } = coords();
      const lead = [div(plane, idx(C)), mod(plane, idx(C))];
      for (const g of regions) {
        const [, , H, W] = em.shape(node.inputs[g.l]);
        const { oy, ox } = origin(g, y0, x0);
        em.emit(threadStrided('e', idx(g.rh * g.rw), WG, em.block(() => {
          const y = em.bind(add(oy, div(v('e'), idx(g.rw))), 'y'), x = em.bind(add(ox, mod(v('e'), idx(g.rw))), 'x');
          em.emit(let_('code', 'i64', idx(-1)));
          em.emit(if_(and(inRange(y, H), inRange(x, W)), em.block(() => {
            const a = argmax(em, node, g.l, L, tau, r, lead, y, x);
            em.emit(if_(bin('ge', v(a.from), idx(0)), [set('code', codeOf(g.l, v(a.from), v(a.ay), v(a.ax)))]));
          })));
          em.emit(lstore(g.arr, v('e'), v('code')));
        })));
      }
    });
    // Pass 2: each input pixel gathers, in a fixed order, the gradients of the outputs whose code names it.
    const pass2 = em.block(() => {
      const { plane, y0, x0 } = coords();
      const lead = [div(plane, idx(C)), mod(plane, idx(C))];
      const origins = regions.map((g) => origin(g, y0, x0));
      em.emit(threadStrided('q', idx(th * tw), WG, em.block(() => {
        const qy = em.bind(add(y0, div(v('q'), idx(tw))), 'qy'), qx = em.bind(add(x0, mod(v('q'), idx(tw))), 'qx');
        em.emit(if_(and(lt(qy, idx(Hk)), lt(qx, idx(Wk))), em.block(() => {
          em.emit(let_('acc', 'f32', f32(0)));
          regions.forEach((g, gi) => {
            const l = g.l, { oy: ry, ox: rx } = origins[gi];
            const gr = node.inputs[L + l];
            const [, , H, W] = em.shape(node.inputs[l]);
            const codeAt = (oy: Expr, ox: Expr): Expr => lload(g.arr, add(mul(sub(oy, ry), idx(g.rw)), sub(ox, rx)), 'i64');
            if (l === k) {
              const oh = em.fresh('oh'), ow = em.fresh('ow');
              em.emit(for_(oh, idx(-r), idx(r + 1), [for_(ow, idx(-r), idx(r + 1), em.block(() => {
                const oy = em.bind(add(qy, v(oh)), 'oy'), ox = em.bind(add(qx, v(ow)), 'ox');
                em.emit(if_(and(inRange(oy, H), inRange(ox, W)), em.block(() => {
                  em.emit(if_(bin('eq', codeAt(oy, ox), codeOf(l, idx(k), qy, qx)), [set('acc', bin('add', v('acc', 'f32'), em.value(gr, [...lead, oy, ox])))]));
                })));
              }))]));
              return;
            }
            const rdy = readers(em, qy, Hk, H), rdx = readers(em, qx, Wk, W);
            const ty2 = em.fresh('ty'), tx2 = em.fresh('tx');
            em.emit(for_(ty2, idx(0), idx(rdy.count), [for_(tx2, idx(0), idx(rdx.count), em.block(() => {
              const y = em.bind(add(rdy.start, v(ty2)), 'py'), x = em.bind(add(rdx.start, v(tx2)), 'px');
              em.emit(if_(and(lt(y, idx(H)), lt(x, idx(W))), em.block(() => {
                const thp = bilinearTap(em, y, Hk, H), twp = bilinearTap(em, x, Wk, W);
                const wy = em.bind(add(sel(bin('eq', thp.i0, qy), thp.w0, f32(0)), sel(bin('eq', thp.i1, qy), thp.w1, f32(0))), 'wy');
                const wx = em.bind(add(sel(bin('eq', twp.i0, qx), twp.w0, f32(0)), sel(bin('eq', twp.i1, qx), twp.w1, f32(0))), 'wx');
                const oh = em.fresh('oh'), ow = em.fresh('ow');
                const around = em.block(() => {
                  const oy = em.bind(add(y, v(oh)), 'oy'), ox = em.bind(add(x, v(ow)), 'ox');
                  em.emit(if_(and(inRange(oy, H), inRange(ox, W)), em.block(() => {
                    em.emit(if_(bin('eq', codeAt(oy, ox), codeOf(l, idx(k), y, x)),
                      [set('acc', bin('add', v('acc', 'f32'), bin('mul', bin('mul', wy, wx), em.value(gr, [...lead, oy, ox]))))]));
                  })));
                });
                em.emit(if_(bin('ne', bin('mul', wy, wx), f32(0)), [for_(oh, idx(-r), idx(r + 1), [for_(ow, idx(-r), idx(r + 1), around)])]));
              })));
            }))]));
          });
          em.emit(store(outBufs[k], add(mul(plane, idx(Hk * Wk)), add(mul(qy, idx(Wk)), qx)), v('acc', 'f32')));
        })));
      })));
    });
    const body = em.block(() => {
      for (const st of pass1) em.emit(st);
      em.emit(barrier);
      for (const st of pass2) em.emit(st);
    });
    levelsOut.push({ hi: offset, body });
  }
  for (const [name, size] of sizes) em.locals.push({ name, t: 'i64', size });
  return finish(em, byRange(gid, levelsOut), WG, [], offset);
}
