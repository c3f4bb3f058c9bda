// max3d_grad as a gather (first version): every input pixel q of level k sums
// the gradients of the outputs whose arg-max is q itself (same level) or a
// resized-neighbour sample that reads q (through its bilinear weight). The
// arg-max of each candidate output is recomputed with the forward's exact
// order (levels ascending, then h, then w; strictly greater or NaN replaces).
// Deterministic and atomics-free, but it recomputes every candidate's window:
// fine for small maps; the two-pass form of notes/kernels.md §2.3 (arg-max
// codes in a buffer, then the gather) is the fast version.
import { Graph, GNode } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import { intAttr } from '../ops/attrs.js';
import { neighbourLevels } from '../ops/max3d.js';
import {
  add, and, arg, bin, div, f32, for_, gid, idx, if_, inRange, let_, lid, lt, max, mul, sel, set, store, sub, v,
} from '../kernel/build.js';
import { Emitter, Lowering } from './emit.js';
import { bilinearSample, bilinearTap } from './lower-gather.js';
import { Scheduled, finish, unflatten, POINTWISE_WG } from './pointwise.js';

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

export function scheduleMax3dGrad(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const tau = intAttr('max3d_grad', node.attrs, 'tau'), phi = intAttr('max3d_grad', node.attrs, 'phi');
  const r = (phi - 1) / 2;
  const L = node.inputs.length / 2;
  const outBufs = node.outputs.map((o) => em.buf(o, 'w'));
  const sizes = node.outputs.map((o) => em.shape(o).reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  const body = em.block(() => {
    em.emit(let_('i', 'i64', add(mul(gid, idx(POINTWISE_WG)), lid)));
    const blocks: { hi: number; body: Stmt[] }[] = [];
    let offset = 0;
    for (let k = 0; k < L; k++) {
      const lo = offset;
      offset += sizes[k];
      const [, , Hk, Wk] = em.shape(node.inputs[k]);
      blocks.push({
        hi: offset,
        body: em.block(() => {
          const [b, c, qy, qx] = unflatten(em, sub(v('i'), idx(lo)), em.shape(node.outputs[k]), 'c');
          const lead = [b, c];
          em.emit(let_('acc', 'f32', f32(0)));
          for (let l = 0; l < L; l++) {
            if (!neighbourLevels(l, L, tau).includes(k)) continue;
            const g = node.inputs[L + l];
            const [, , H, W] = em.shape(node.inputs[l]);
            if (l === k) {
              // Outputs whose window holds q; their gradient comes here when the arg-max is q at level k.
              const oh = em.fresh('oh'), ow = em.fresh('ow');
              em.emit(for_(oh, idx(-r), idx(r + 1), [for_(ow, idx(-r), idx(r + 1), em.block(() => {
                const oy = em.bind(add(qy, v(oh)), 'oy'), ox = em.bind(add(qx, v(ow)), 'ox');
                em.emit(if_(and(inRange(oy, H), inRange(ox, W)), em.block(() => {
                  const a = argmax(em, node, l, L, tau, r, lead, oy, ox);
                  const hit = and(bin('eq', v(a.from), idx(k)), and(bin('eq', v(a.ay), qy), bin('eq', v(a.ax), qx)));
                  em.emit(if_(hit, [set('acc', bin('add', v('acc', 'f32'), em.value(g, [...lead, oy, ox])))]));
                })));
              }))]));
              continue;
            }
            // Positions (y, x) of level l whose bilinear sample of level k reads q, then the outputs around them.
            const ry = readers(em, qy, Hk, H), rx = readers(em, qx, Wk, W);
            const ty = em.fresh('ty'), tx = em.fresh('tx');
            em.emit(for_(ty, idx(0), idx(ry.count), [for_(tx, idx(0), idx(rx.count), em.block(() => {
              const y = em.bind(add(ry.start, v(ty)), 'py'), x = em.bind(add(rx.start, v(tx)), 'px');
              em.emit(if_(and(lt(y, idx(H)), lt(x, idx(W))), em.block(() => {
                const th = bilinearTap(em, y, Hk, H), tw = bilinearTap(em, x, Wk, W);
                const wy = em.bind(add(sel(bin('eq', th.i0, qy), th.w0, f32(0)), sel(bin('eq', th.i1, qy), th.w1, f32(0))), 'wy');
                const wx = em.bind(add(sel(bin('eq', tw.i0, qx), tw.w0, f32(0)), sel(bin('eq', tw.i1, qx), tw.w1, f32(0))), 'wx');
                const oh = em.fresh('oh'), ow = em.fresh('ow');
                const around = em.block(() => {
                  const oy = em.bind(add(y, v(oh)), 'oy'), ox = em.bind(add(x, v(ow)), 'ox');
                  em.emit(if_(and(inRange(oy, H), inRange(ox, W)), em.block(() => {
                    const a = argmax(em, node, l, L, tau, r, lead, oy, ox);
                    const hit = and(bin('eq', v(a.from), idx(k)), and(bin('eq', v(a.ay), y), bin('eq', v(a.ax), x)));
                    em.emit(if_(hit, [set('acc', bin('add', v('acc', 'f32'), bin('mul', bin('mul', wy, wx), em.value(g, [...lead, oy, ox]))))]));
                  })));
                });
                em.emit(if_(bin('ne', bin('mul', wy, wx), f32(0)), [for_(oh, idx(-r), idx(r + 1), [for_(ow, idx(-r), idx(r + 1), around)])]));
              })));
            }))]));
          }
          em.emit(store(outBufs[k], sub(v('i'), idx(lo)), v('acc', 'f32')));
        }),
      });
    }
    let chain: Stmt[] = [];
    for (let k = L - 1; k >= 0; k--) chain = [if_(lt(v('i'), idx(blocks[k].hi)), blocks[k].body, chain)];
    em.emit(if_(lt(v('i'), arg(0)), chain));
  });
  return finish(em, body, POINTWISE_WG, [total], Math.ceil(total / POINTWISE_WG));
}
