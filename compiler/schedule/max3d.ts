// Hand-scheduled max3d forward (DeFCN 3D max filtering, notes/kernels.md §2):
// one launch covers every pyramid level (the flat index picks the level);
// each output element takes the max over the (tau+1) neighbouring levels ×
// phi × phi window, sampling the neighbours bilinearly *inside* the kernel —
// the resized levels and the stacked volume are never materialised.
// Order and NaN rule as the reference: levels ascending, then h, then w;
// strictly greater or a NaN replaces.
import { Graph } from '../graph.js';
import { Stmt } from '../kernel/ir.js';
import { intAttr } from '../ops/attrs.js';
import { neighbourLevels } from '../ops/max3d.js';
import { add, and, arg, bin, f32, for_, gid, idx, if_, inRange, let_, lid, lt, mul, sel, set, store, sub, v } from '../kernel/build.js';
import { numel } from '../types.js';
import { Emitter, Lowering } from './emit.js';
import { bilinearSample } from './lower-gather.js';
import { Scheduled, finish, unflatten, POINTWISE_WG } from './pointwise.js';

export function scheduleMax3d(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const tau = intAttr('max3d', node.attrs, 'tau'), phi = intAttr('max3d', node.attrs, 'phi');
  const r = (phi - 1) / 2;
  const L = node.inputs.length;
  const outBufs = node.outputs.map((o) => em.buf(o, 'w'));
  const sizes = node.outputs.map((o) => numel(em.shape(o)));
  const total = sizes.reduce((a, b) => a + b, 0);
  const body = em.block(() => {
    em.emit(let_('i', 'i64', add(mul(gid, idx(POINTWISE_WG)), lid)));
    const levelBlocks: { hi: number; body: Stmt[] }[] = [];
    let offset = 0;
    for (let l = 0; l < L; l++) {
      const lo = offset;
      offset += sizes[l];
      const [, , H, W] = em.shape(node.inputs[l]);
      levelBlocks.push({
        hi: offset,
        body: em.block(() => {
          em.emit(let_('li', 'i64', sub(v('i'), idx(lo))));
          const [b, c, h, w] = unflatten(em, v('li'), em.shape(node.outputs[l]), 'c');
          em.emit(let_('m', 'f32', f32(-Infinity)));
          for (const k of neighbourLevels(l, L, tau)) {
            const window = em.block(() => {
              const y = em.bind(add(h, v('dh'))), x = em.bind(add(w, v('dw')));
              const inner = em.block(() => {
                const val = em.bind(k === l ? em.value(node.inputs[k], [b, c, y, x]) : bilinearSample(em, node.inputs[k], [b, c], y, x, H, W));
                const m = v('m', 'f32');
                em.emit(set('m', sel(bin('or', bin('gt', val, m), and(bin('ne', val, val), bin('eq', m, m))), val, m)));
              });
              em.emit(if_(and(inRange(y, H), inRange(x, W)), inner));
            });
            em.emit(for_('dh', idx(-r), idx(r + 1), [for_('dw', idx(-r), idx(r + 1), window)]));
          }
          em.emit(store(outBufs[l], v('li'), v('m', 'f32')));
        }),
      });
    }
    let chain: Stmt[] = [];
    for (let l = L - 1; l >= 0; l--) chain = [if_(lt(v('i'), idx(levelBlocks[l].hi)), levelBlocks[l].body, chain)];
    em.emit(if_(lt(v('i'), arg(0)), chain));
  });
  return finish(em, body, POINTWISE_WG, [total], Math.ceil(total / POINTWISE_WG));
}
