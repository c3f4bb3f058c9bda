// Hand-scheduled max3d forward (DeFCN 3D max filtering, notes/kernels.md §2).
// One launch covers every pyramid level: a workgroup is one T×T output tile
// of one (image, channel) plane of one level (the level is picked from the
// workgroup index). Stage A: the threads compute, for each pixel of the tile
// and its halo, the max over the neighbouring levels — the neighbours are
// sampled bilinearly *inside* the kernel, never materialised — into
// workgroup memory; barrier; stage B: each output is the max over its φ×φ
// window of that array. Bilinear taps depend on the row or the column alone,
// so a stage 0 tabulates them per tile row/column and neighbour level. Max is
// order-free for values; the NaN rule of the reference (a NaN wins) holds in
// every stage.
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import { intAttr } from '../ops/attrs.js';
import { neighbourLevels } from '../ops/max3d.js';
import {
  add, and, barrier, bin, div, f32, for_, gid, idx, if_, inRange, let_, lload, lstore, lt, mod, mul, sel, set, store, sub, threadStrided, v,
} from '../kernel/build.js';
import { Emitter, Lowering } from './emit.js';
import { bilinearTap } from './lower-gather.js';
import { Scheduled, finish } from './pointwise.js';

const T = 16;
const WG = 64;

/** m = v when v is larger or a NaN (a NaN replacing a NaN changes no value). */
function maxInto(em: Emitter, m: string, val: Expr): void {
  const cur = v(m, 'f32');
  em.emit(set(m, sel(bin('or', bin('gt', val, cur), bin('ne', val, val)), val, cur)));
}

export function scheduleMax3d(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const tau = intAttr('max3d', node.attrs, 'tau'), phi = intAttr('max3d', node.attrs, 'phi');
  const r = (phi - 1) / 2, S = T + 2 * r;
  const L = node.inputs.length;
  const outBufs = node.outputs.map((o) => em.buf(o, 'w'));
  em.locals.push({ name: 'lvmax', t: 'f32', size: S * S });
  // Tap tables, one set per neighbour offset (level - 1, level + 1, ...), reused by every level.
  const offsets = [...new Set(Array.from({ length: L }, (_, l) => neighbourLevels(l, L, tau).map((k) => k - l)).flat())].filter((d) => d !== 0);
  const tab = (axis: 'r' | 'c', d: number, what: 'i0' | 'i1' | 'w'): string => `${axis}${what}_${d < 0 ? 'm' : 'p'}${Math.abs(d)}`;
  for (const d of offsets) {
    for (const axis of ['r', 'c'] as const) {
      em.locals.push({ name: tab(axis, d, 'i0'), t: 'i64', size: S }, { name: tab(axis, d, 'i1'), t: 'i64', size: S }, { name: tab(axis, d, 'w'), t: 'f32', size: S });
    }
  }
  const levels: { hi: number; body: Stmt[] }[] = [];
  let offset = 0;
  for (let l = 0; l < L; l++) {
    const [B, C, H, W] = em.shape(node.inputs[l]);
    const ty = Math.ceil(H / T), tx = Math.ceil(W / T);
    const lo = offset;
    offset += B * C * ty * tx;
    // Per-segment coordinates: lets do not cross the barrier, so each segment derives them.
    const coords = (): { plane: Expr; y0: Expr; x0: Expr } => {
      em.emit(let_('w', 'i64', sub(gid, idx(lo))));
      em.emit(let_('plane', 'i64', div(v('w'), idx(ty * tx))));
      em.emit(let_('y0', 'i64', mul(mod(div(v('w'), idx(tx)), idx(ty)), idx(T))));
      em.emit(let_('x0', 'i64', mul(mod(v('w'), idx(tx)), idx(T))));
      return { plane: v('plane'), y0: v('y0'), x0: v('x0') };
    };
    const body = em.block(() => {
      const neighbours = neighbourLevels(l, L, tau).filter((k) => k !== l);
      const stage0 = em.block(() => {
        const { y0, x0 } = coords();
        em.emit(threadStrided('e', idx(S), WG, em.block(() => {
          for (const k of neighbours) {
            const [, , Hk, Wk] = em.shape(node.inputs[k]);
            for (const [axis, pos, inSize, outSize] of [['r', add(sub(y0, idx(r)), v('e')), Hk, H], ['c', add(sub(x0, idx(r)), v('e')), Wk, W]] as const) {
              const t = bilinearTap(em, em.bind(pos, axis), inSize, outSize);
              em.emit(lstore(tab(axis, k - l, 'i0'), v('e'), t.i0));
              em.emit(lstore(tab(axis, k - l, 'i1'), v('e'), t.i1));
              em.emit(lstore(tab(axis, k - l, 'w'), v('e'), t.w1));
            }
          }
        })));
      });
      const stageA = em.block(() => {
        const { plane, y0, x0 } = coords();
        em.emit(threadStrided('e', idx(S * S), WG, em.block(() => {
          const y = em.bind(add(sub(y0, idx(r)), div(v('e'), idx(S))), 'y');
          const x = em.bind(add(sub(x0, idx(r)), mod(v('e'), idx(S))), 'x');
          em.emit(let_('m', 'f32', f32(-Infinity)));
          const inside = em.block(() => {
            const b = div(plane, idx(C)), c = mod(plane, idx(C));
            const ly = div(v('e'), idx(S)), lx = mod(v('e'), idx(S));
            for (const k of neighbourLevels(l, L, tau)) {
              if (k === l) { maxInto(em, 'm', em.bind(em.value(node.inputs[k], [b, c, y, x]))); continue; }
              const T0 = (axis: 'r' | 'c', what: 'i0' | 'i1', at: Expr): Expr => em.bind(lload(tab(axis, k - l, what), at, 'i64'));
              const r0 = T0('r', 'i0', ly), r1 = T0('r', 'i1', ly), c0 = T0('c', 'i0', lx), c1 = T0('c', 'i1', lx);
              const wy = em.bind(lload(tab('r', k - l, 'w'), ly, 'f32')), wx = em.bind(lload(tab('c', k - l, 'w'), lx, 'f32'));
              const at = (rr: Expr, cc: Expr): Expr => em.value(node.inputs[k], [b, c, rr, cc]);
              const one = f32(1);
              const top = bin('add', bin('mul', bin('sub', one, wx), at(r0, c0)), bin('mul', wx, at(r0, c1)));
              const bot = bin('add', bin('mul', bin('sub', one, wx), at(r1, c0)), bin('mul', wx, at(r1, c1)));
              maxInto(em, 'm', em.bind(bin('add', bin('mul', bin('sub', one, wy), top), bin('mul', wy, bot))));
            }
          });
          em.emit(if_(and(inRange(y, H), inRange(x, W)), inside));
          em.emit(lstore('lvmax', v('e'), v('m', 'f32')));
        })));
      });
      const stageB = em.block(() => {
        const { plane, y0, x0 } = coords();
        em.emit(threadStrided('o', idx(T * T), WG, em.block(() => {
          const ly = em.bind(div(v('o'), idx(T)), 'ly'), lx = em.bind(mod(v('o'), idx(T)), 'lx');
          const y = em.bind(add(y0, ly), 'y'), x = em.bind(add(x0, lx), 'x');
          const out = em.block(() => {
            em.emit(let_('m', 'f32', f32(-Infinity)));
            em.emit(for_('dh', idx(0), idx(phi), [for_('dw', idx(0), idx(phi),
              em.block(() => maxInto(em, 'm', lload('lvmax', add(mul(add(ly, v('dh')), idx(S)), add(lx, v('dw'))), 'f32'))))]));
            em.emit(store(outBufs[l], add(mul(plane, idx(H * W)), add(mul(y, idx(W)), x)), v('m', 'f32')));
          });
          em.emit(if_(and(lt(y, idx(H)), lt(x, idx(W))), out));
        })));
      });
      if (neighbours.length) {
        for (const s of stage0) em.emit(s);
        em.emit(barrier);
      }
      for (const s of stageA) em.emit(s);
      em.emit(barrier);
      for (const s of stageB) em.emit(s);
    });
    levels.push({ hi: offset, body });
  }
  let chain: Stmt[] = [];
  for (let l = L - 1; l >= 0; l--) chain = [if_(lt(gid, idx(levels[l].hi)), levels[l].body, chain)];
  return finish(em, em.block(() => { for (const s of chain) em.emit(s); }), WG, [], offset);
}
