// max_pool2d's CPU kernel: one workgroup per output row (n, c, oy), its
// maxima kept in a local row. Taps are visited tap by tap (ky, kx), each as
// one loop over the output columns whose tap lies inside the image: those
// column ranges are compile-time constants per kx and the row range per ky is
// two scalars, so the inner loop has no clamps and no branches, and the C
// compiler vectorises it (strided loads, compare, blend). The generic
// one-thread-per-output lowering (schedule/lower-gather.ts) clamped and
// tested every tap and decomposed every output index: 0.4 GFLOP/s on the
// ResNet stem. GPUs keep that lowering (one thread per output is what they
// want), and so does a pool fused into a consumer's group.
//
// Same value as the reference: padding is never read (it is the lowest
// value), a NaN anywhere in the window wins (the comparison keeps it once
// taken), and max is order-independent otherwise.
import { Graph } from '../graph.js';
import { add, arg, bin, div, f32, for_, gid, idx, if_, konst, let_, lload, lstore, lt, max, min, mod, mul, sel, store, sub, v } from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { Scheduled, finish, schedulePointwise } from '../schedule/pointwise.js';
import type { Target } from '../target.js';
import { intsAttr } from './attrs.js';
import type { KernelTable } from './op.js';
import { GATHER_LOWERINGS } from '../schedule/lower-gather.js';

/** Output columns [lo, hi) whose tap kx (ix = ox·s − p + kx) lies in [0, W). */
export function tapColumns(kx: number, s: number, p: number, W: number, OW: number): [number, number] {
  const lo = Math.max(0, Math.ceil((p - kx) / s));
  const hi = Math.min(OW, Math.floor((W - 1 + p - kx) / s) + 1);
  return [lo, Math.max(lo, hi)];
}

export function scheduleMaxPool(graph: Graph, nodes: ReadonlySet<number>, anchor: number, sink: number,
  lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const node = graph.nodes[anchor];
  const t = graph.values[node.outputs[0]].type.dtype;
  // Only as the group's last op on the CPU; an epilogue or a GPU keeps the generic form.
  if (target.name !== 'cpu' || anchor !== sink || (t !== 'f32' && t !== 'i32')) return schedulePointwise(graph, nodes, sink, lowerings);
  const em = new Emitter(graph, nodes, lowerings);
  const k = intsAttr('max_pool2d', node.attrs, 'kernel', 2);
  const sRaw = node.attrs.stride as readonly number[] | undefined;
  const s = !sRaw || (Array.isArray(sRaw) && sRaw.length === 0) ? k : intsAttr('max_pool2d', node.attrs, 'stride', 2);
  const p = intsAttr('max_pool2d', node.attrs, 'padding', 2);
  const [, C, H, W] = em.inShape(node, 0);
  const [N, , OH, OW] = em.outShape(node);
  const outBuf = em.buf(node.outputs[0], 'w');
  const lowest = t === 'f32' ? f32(-Infinity) : konst('i32', -2147483648);
  em.locals.push({ name: 'row', t, size: OW });
  const body = em.block(() => {
    const inner = em.block(() => {
      em.emit(let_('n0', 'i64', div(gid, idx(C * OH))));
      em.emit(let_('c0', 'i64', mod(div(gid, idx(OH)), idx(C))));
      em.emit(let_('y0', 'i64', sub(mul(mod(gid, idx(OH)), idx(s[0])), idx(p[0]))));
      // Rows of the window inside the image: ky in [max(0, −y0), min(kH, H − y0)).
      em.emit(let_('kylo', 'i64', max(idx(0), sub(idx(0), v('y0')))));
      em.emit(let_('kyhi', 'i64', min(idx(k[0]), sub(idx(H), v('y0')))));
      em.emit(for_('ox', idx(0), idx(OW), [lstore('row', v('ox'), lowest)]));
      const taps = em.block(() => {
        const iy = add(v('y0'), v('ky'));
        for (let kx = 0; kx < k[1]; kx++) {
          const [lo, hi] = tapColumns(kx, s[1], p[1], W, OW);
          if (lo >= hi) continue;
          const step = em.block(() => {
            const x = em.bind(em.input(node, 0, [v('n0'), v('c0'), iy, add(mul(v('ox'), idx(s[1])), idx(kx - p[1]))]), 'x');
            const m = lload('row', v('ox'), t);
            const better = t === 'f32' ? bin('or', bin('gt', x, m), bin('ne', x, x)) : bin('gt', x, m);
            em.emit(lstore('row', v('ox'), sel(better, x, m)));
          });
          em.emit(for_('ox', idx(lo), idx(hi), step));
        }
      });
      em.emit(for_('ky', v('kylo'), v('kyhi'), taps));
      em.emit(for_('ox', idx(0), idx(OW), [store(outBuf, add(mul(gid, idx(OW)), v('ox')), lload('row', v('ox'), t))]));
    });
    // args[0]: output rows (N·C·OH), so the batch stays out of the kernel text.
    em.emit(if_(lt(gid, arg(0)), inner));
  });
  return finish(em, body, 1, [N * C * OH], N * C * OH);
}

/** The per-element form stays the lowering (a pool inlined into another group, GPUs); the row kernel anchors its own group on the CPU. */
export const POOL_KERNELS: KernelTable<'max_pool2d'> = {
  max_pool2d: { lower: GATHER_LOWERINGS.max_pool2d, schedule: scheduleMaxPool },
};
