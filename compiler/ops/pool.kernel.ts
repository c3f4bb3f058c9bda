// The kernels of max_pool2d and its adjoint (pool.ts).
//
// max_pool2d per output element (the lowering below) serves GPUs (one thread
// per output is what they want) and a pool fused into a consumer's group:
// branch-free, a tap outside the image reads a clamped neighbour and counts as
// the lowest value. On the CPU a pool that ends its group anchors a row kernel
// instead (scheduleMaxPool): one workgroup per output row (n, c, oy), its
// maxima kept in a local row. Taps are visited tap by tap (ky, kx), each as
// one loop over the output columns whose tap lies inside the image: those
// column ranges are compile-time constants per kx and the row range per ky is
// two scalars, so the inner loop has no clamps and no branches, and the C
// compiler vectorises it (strided loads, compare, blend). The per-element form
// clamped and tested every tap and decomposed every output index: 0.4 GFLOP/s
// on the ResNet stem.
//
// Same value as the reference: padding is never read (it is the lowest
// value), a NaN anywhere in the window wins (the comparison keeps it once
// taken), and max is order-independent otherwise.
//
// max_pool2d_grad is written as a gather: each input element sums the
// gradients of the windows whose first maximum it is, in a fixed order (no
// atomics, deterministic).
import { Graph } from '../graph.js';
import { Expr, Scalar, Stmt } from '../kernel/ir.js';
import {
  add, and, arg, bin, div, f32, for_, gid, idx, if_, inRange, konst, let_, lload, lstore, lt, max, min, mod, mul, sel, set, store, sub, v,
} from '../kernel/build.js';
import { Emitter, Lowering } from '../schedule/emit.js';
import { Scheduled, finish, schedulePointwise } from '../schedule/pointwise.js';
import { overlappingSteps } from '../schedule/vector-steps.js';
import type { Target } from '../target.js';
import { intsAttr } from './attrs.js';
import type { KernelTable, OpNameOf } from './op.js';
import type { POOL_OPS } from './pool.js';

/** The value padding counts as: below every value of the dtype. */
const lowest = (t: Scalar): Expr => (t === 'f32' ? f32(-Infinity) : konst(t, -2147483648));

const maxPool: Lowering = (em, node, out) => {
  const k = intsAttr('max_pool2d', node.attrs, 'kernel', 2);
  const sRaw = node.attrs.stride as readonly number[] | undefined;
  const s = !sRaw || (Array.isArray(sRaw) && sRaw.length === 0) ? k : intsAttr('max_pool2d', node.attrs, 'stride', 2);
  const p = intsAttr('max_pool2d', node.attrs, 'padding', 2);
  const [, , H, W] = em.inShape(node, 0);
  const t = em.dtype(node.outputs[0]);
  const m = em.fresh('m'), ky = em.fresh('ky'), kx = em.fresh('kx');
  em.emit(let_(m, t, lowest(t)));
  const iy = add(sub(mul(out[2], idx(s[0])), idx(p[0])), v(ky)), ix = add(sub(mul(out[3], idx(s[1])), idx(p[1])), v(kx));
  // Branch-free: a tap outside the image reads a clamped neighbour and counts as the lowest value.
  const body = em.block(() => {
    const yv = em.bind(iy), xv = em.bind(ix);
    const ok = em.bind(bin('and', inRange(yv, H), inRange(xv, W)), 'ok');
    const at = [out[0], out[1], max(idx(0), min(yv, idx(H - 1))), max(idx(0), min(xv, idx(W - 1)))];
    const val = em.bind(sel(ok, em.input(node, 0, at), lowest(t)));
    const better = t === 'f32' ? bin('or', bin('gt', val, v(m, t)), bin('ne', val, val)) : bin('gt', val, v(m, t));
    em.emit(set(m, sel(better, val, v(m, t))));
  });
  em.emit(for_(ky, idx(0), idx(k[0]), [for_(kx, idx(0), idx(k[1]), body)]));
  return v(m, t);
};

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
  em.locals.push({ name: 'row', t, size: OW });
  const vec = t === 'f32' && target.vectorWidth > 1 ? target.vectorWidth : 0;
  const body = em.block(() => {
    const inner = em.block(() => {
      em.emit(let_('n0', 'i64', div(gid, idx(C * OH))));
      em.emit(let_('c0', 'i64', mod(div(gid, idx(OH)), idx(C))));
      em.emit(let_('y0', 'i64', sub(mul(mod(gid, idx(OH)), idx(s[0])), idx(p[0]))));
      // Rows of the window inside the image: ky in [max(0, −y0), min(kH, H − y0)).
      em.emit(let_('kylo', 'i64', max(idx(0), sub(idx(0), v('y0')))));
      em.emit(let_('kyhi', 'i64', min(idx(k[0]), sub(idx(H), v('y0')))));
      overColumns(em, 0, OW, vec, (ox) => [lstore('row', ox, lowest(t))]);
      const taps = em.block(() => {
        const iy = add(v('y0'), v('ky'));
        for (let kx = 0; kx < k[1]; kx++) {
          const [lo, hi] = tapColumns(kx, s[1], p[1], W, OW);
          if (lo >= hi) continue;
          overColumns(em, lo, hi, vec, (ox) => em.block(() => {
            const x = em.bind(em.input(node, 0, [v('n0'), v('c0'), iy, add(mul(ox, idx(s[1])), idx(kx - p[1]))]), 'x');
            const m = em.bind(lload('row', ox, t), 'm');
            const better = t === 'f32' ? bin('or', bin('gt', x, m), bin('ne', x, x)) : bin('gt', x, m);
            em.emit(lstore('row', ox, sel(better, x, m)));
          }));
        }
      });
      em.emit(for_('ky', v('kylo'), v('kyhi'), taps));
      overColumns(em, 0, OW, vec, (ox) => [store(outBuf, add(mul(gid, idx(OW)), ox), lload('row', ox, t))]);
    });
    // args[0]: output rows (N·C·OH), so the batch stays out of the kernel text.
    em.emit(if_(lt(gid, arg(0)), inner));
  });
  return finish(em, body, 1, [N * C * OH], N * C * OH);
}

/**
 * body(ox) for the output columns [lo, hi): `vec` at a time in vector loops
 * (render/vectorize.ts) in overlapping steps where the range holds a vector
 * (each step's work is idempotent: a running maximum, a fill, a copy); else
 * one loop.
 */
function overColumns(em: Emitter, lo: number, hi: number, vec: number, body: (ox: Expr) => readonly Stmt[]): void {
  if (!vec || hi - lo < vec) { em.emit(for_('ox', idx(lo), idx(hi), body(v('ox')))); return; }
  em.emit(overlappingSteps(em, 'oq', lo, hi, vec, (ox0) => em.emit(for_('oj', idx(0), idx(vec), body(add(ox0, v('oj'))), false, vec))));
}

/** dx[iy, ix] = Σ over windows whose first maximum is (iy, ix) of g[window]. */
const maxPoolGrad: Lowering = (em, node, out) => {
  const k = intsAttr('max_pool2d_grad', node.attrs, 'kernel', 2);
  const sRaw = node.attrs.stride as readonly number[] | undefined;
  const s = !sRaw || (Array.isArray(sRaw) && sRaw.length === 0) ? k : intsAttr('max_pool2d_grad', node.attrs, 'stride', 2);
  const p = intsAttr('max_pool2d_grad', node.attrs, 'padding', 2);
  const [, , H, W] = em.inShape(node, 0);
  const [, , OH, OW] = em.inShape(node, 1);
  const [n, c, iy, ix] = out;
  const acc = em.fresh('acc'), ky = em.fresh('ky'), kx = em.fresh('kx');
  em.emit(let_(acc, 'f32', f32(0)));
  const window = em.block(() => {
    // The window that holds (iy, ix) at tap (ky, kx), if the stride lands on it.
    const ny = em.bind(sub(add(iy, idx(p[0])), v(ky)), 'ny'), nx = em.bind(sub(add(ix, idx(p[1])), v(kx)), 'nx');
    const oy = em.bind(div(ny, idx(s[0])), 'oy'), ox = em.bind(div(nx, idx(s[1])), 'ox');
    const lands = and(and(bin('ge', ny, idx(0)), bin('eq', mod(ny, idx(s[0])), idx(0))), and(bin('ge', nx, idx(0)), bin('eq', mod(nx, idx(s[1])), idx(0))));
    const inside = em.block(() => {
      const m = em.fresh('m'), at = em.fresh('at'), wy = em.fresh('wy'), wx = em.fresh('wx');
      em.emit(let_(m, 'f32', f32(-Infinity)));
      em.emit(let_(at, 'i64', idx(-1)));
      const scan = em.block(() => {
        const yy = em.bind(add(sub(mul(oy, idx(s[0])), idx(p[0])), v(wy)), 'yy'), xx = em.bind(add(sub(mul(ox, idx(s[1])), idx(p[1])), v(wx)), 'xx');
        const take = em.block(() => {
          const val = em.bind(em.input(node, 0, [n, c, yy, xx]), 'val');
          const cur = v(m, 'f32');
          const better = bin('or', bin('or', lt(v(at), idx(0)), bin('gt', val, cur)), and(bin('ne', val, val), bin('eq', cur, cur)));
          em.emit(if_(better, [set(m, val), set(at, add(mul(yy, idx(W)), xx))]));
        });
        em.emit(if_(and(inRange(yy, H), inRange(xx, W)), take));
      });
      em.emit(for_(wy, idx(0), idx(k[0]), [for_(wx, idx(0), idx(k[1]), scan)]));
      em.emit(if_(bin('eq', v(at), add(mul(iy, idx(W)), ix)), [set(acc, bin('add', v(acc, 'f32'), em.input(node, 1, [n, c, oy, ox])))]));
    });
    em.emit(if_(and(lands, and(lt(oy, idx(OH)), lt(ox, idx(OW)))), inside));
  });
  em.emit(for_(ky, idx(0), idx(k[0]), [for_(kx, idx(0), idx(k[1]), window)]));
  return v(acc, 'f32');
};

/** The per-element form stays the lowering (a pool inlined into another group, GPUs); the row kernel anchors its own group on the CPU. */
export const POOL_KERNELS: KernelTable<OpNameOf<typeof POOL_OPS>> = {
  max_pool2d: { lower: maxPool, schedule: scheduleMaxPool },
  max_pool2d_grad: { lower: maxPoolGrad },
};
