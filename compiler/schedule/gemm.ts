// conv2d and matmul as (implicit) GEMM with a register tile per thread:
// TM output channels (rows) × TN output pixels (columns) accumulate in a
// per-thread array, so each loaded weight is reused TN times and each input
// value TM times. The fused epilogue (bias, frozen BN, activation, residual
// add: every elementwise consumer in the group) runs on the accumulator
// before the single store.
import { Graph, GNode } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import {
  add, and, arg, div, f32, for_, gid, idx, if_, inRange, let_, lid, lload, lstore, lt, min, mod, mul, sel, store, sub, v,
} from '../kernel/build.js';
import { numel } from '../types.js';
import { Emitter, Lowering, ScheduleError } from './emit.js';
import { broadcastAt } from './lower-elementwise.js';
import { Scheduled, finish, unflatten } from './pointwise.js';

export const GEMM_WG = 32;
const TN = 8;

function ints(node: GNode, name: string, n: number, fallback: number): number[] {
  const a = node.attrs[name];
  const list = a === undefined ? [fallback] : Array.isArray(a) ? (a as number[]) : [a as number];
  return list.length === 1 ? new Array<number>(n).fill(Number(list[0])) : list.map(Number);
}

/** The epilogue: the sink's value at `at`, with the anchor's output read from the accumulator. */
function epilogue(em: Emitter, anchor: GNode, sinkValue: number, accAt: Expr, bias: (at: readonly Expr[]) => Expr | undefined, at: Expr[], outBuf: number): Stmt[] {
  return em.block(() => {
    em.overrides.set(anchor.outputs[0], (o) => {
      const acc = lload('acc', accAt, 'f32');
      const b = bias(o);
      return b ? add(acc, b) : acc;
    });
    em.emit(store(outBuf, em.flat(sinkValue, at), em.value(sinkValue, at)));
    em.overrides.delete(anchor.outputs[0]);
  });
}

export function scheduleConv(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [xv, wv, bv] = node.inputs;
  const [N, C, H, W] = em.shape(xv);
  const [O, Cg, KH, KW] = em.shape(wv);
  const [, , OH, OW] = em.shape(node.outputs[0]);
  const [sh, sw] = ints(node, 'stride', 2, 1), [ph, pw] = ints(node, 'padding', 2, 0), [dh, dw] = ints(node, 'dilation', 2, 1);
  const g = Number(node.attrs.groups ?? 1);
  if (Cg * g !== C) throw new ScheduleError(`conv2d node ${node.id}: ${C} channels vs weight ${Cg} × groups ${g}`);
  const og = O / g, TM = Math.min(4, og), P = OH * OW;
  const PT = Math.ceil(P / TN), MT = Math.ceil(og / TM), total = N * g * MT * PT;
  const sinkValue = graph.nodes[sink].outputs[0];
  const outBuf = em.buf(sinkValue, 'w');
  const xb = em.buf(xv, 'r'), wb = em.buf(wv, 'r');
  const bb = bv !== undefined && bv >= 0 ? em.buf(bv, 'r') : -1;
  em.regs.push({ name: 'acc', t: 'f32', size: TM * TN }, { name: 'wv', t: 'f32', size: TM },
    { name: 'ihb', t: 'i64', size: TN }, { name: 'iwb', t: 'i64', size: TN });
  const T = v('t'), J = v('j'), I = v('ii');
  const body = em.block(() => {
    em.emit(let_('t', 'i64', add(mul(gid, idx(GEMM_WG)), lid)));
    em.emit(if_(lt(T, arg(0)), em.block(() => {
      const [n, grp, mt, pt] = unflatten(em, T, [N, g, MT, PT], 'q');
      em.emit(let_('co0', 'i64', add(mul(grp, idx(og)), mul(mt, idx(TM)))));
      em.emit(let_('p0', 'i64', mul(pt, idx(TN))));
      em.emit(let_('coMax', 'i64', add(mul(grp, idx(og)), idx(og - 1))));
      em.emit(for_('j', idx(0), idx(TN), [
        let_('pj', 'i64', min(add(v('p0'), J), idx(P - 1))),
        lstore('ihb', J, sub(mul(div(v('pj'), idx(OW)), idx(sh)), idx(ph))),
        lstore('iwb', J, sub(mul(mod(v('pj'), idx(OW)), idx(sw)), idx(pw))),
      ], true));
      em.emit(for_('ii', idx(0), idx(TM * TN), [lstore('acc', I, f32(0))], true));
      em.emit(let_('xbase', 'i64', mul(add(mul(n, idx(C)), mul(grp, idx(Cg))), idx(H * W))));
      const wIdx = add(mul(min(add(v('co0'), I), v('coMax')), idx(Cg * KH * KW)), add(mul(v('ci'), idx(KH * KW)), add(mul(v('kh'), idx(KW)), v('kw'))));
      const ih = add(lload('ihb', J, 'i64'), mul(v('kh'), idx(dh)));
      const iw = add(lload('iwb', J, 'i64'), mul(v('kw'), idx(dw)));
      const inner: Stmt[] = [
        for_('ii', idx(0), idx(TM), [lstore('wv', I, em.bufLoad(wb, wIdx, 'f32'))], true),
        for_('j', idx(0), idx(TN), [
          let_('ih', 'i64', ih), let_('iw', 'i64', iw),
          let_('ok', 'bool', and(inRange(v('ih'), H), inRange(v('iw'), W))),
          let_('xi', 'i64', sel(v('ok', 'bool'), add(v('xbase'), add(mul(v('ci'), idx(H * W)), add(mul(v('ih'), idx(W)), v('iw')))), idx(0))),
          let_('xv', 'f32', sel(v('ok', 'bool'), em.bufLoad(xb, v('xi'), 'f32'), f32(0))),
          for_('ii', idx(0), idx(TM), [
            lstore('acc', add(mul(I, idx(TN)), J), add(lload('acc', add(mul(I, idx(TN)), J), 'f32'), mul(lload('wv', I, 'f32'), v('xv', 'f32')))),
          ], true),
        ], true),
      ];
      em.emit(for_('ci', idx(0), idx(Cg), [for_('kh', idx(0), idx(KH), [for_('kw', idx(0), idx(KW), inner)])]));
      const co = add(v('co0'), I), p = add(v('p0'), J);
      const epi = em.block(() => {
        em.emit(let_('co', 'i64', co));
        em.emit(let_('p', 'i64', p));
        em.emit(if_(and(lt(v('co'), add(v('coMax'), idx(1))), lt(v('p'), idx(P))), epilogue(em, node, sinkValue, add(mul(I, idx(TN)), J),
          (o) => (bb >= 0 ? em.bufLoad(bb, o[1], 'f32') : undefined),
          [n, v('co'), div(v('p'), idx(OW)), mod(v('p'), idx(OW))], outBuf)));
      });
      em.emit(for_('ii', idx(0), idx(TM), [for_('j', idx(0), idx(TN), epi)]));
    })));
  });
  return finish(em, body, GEMM_WG, [total], Math.ceil(total / GEMM_WG));
}

export function scheduleMatmul(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [av, bv] = node.inputs;
  const aS = em.shape(av), bS = em.shape(bv), oS = em.shape(node.outputs[0]);
  const M = aS[aS.length - 2], K = aS[aS.length - 1], Nn = bS[bS.length - 1];
  const batch = oS.slice(0, -2), nb = numel(batch);
  const TM = Math.min(4, M);
  const MT = Math.ceil(M / TM), NT = Math.ceil(Nn / TN), total = nb * MT * NT;
  const sinkValue = graph.nodes[sink].outputs[0];
  const outBuf = em.buf(sinkValue, 'w');
  const ab = em.buf(av, 'r'), bb = em.buf(bv, 'r');
  const dt = em.dtype(av);
  if (dt !== 'f32') throw new ScheduleError(`matmul node ${node.id}: only f32 is scheduled (got ${dt})`);
  em.regs.push({ name: 'acc', t: 'f32', size: TM * TN }, { name: 'wv', t: 'f32', size: TM });
  const T = v('t'), J = v('j'), I = v('ii');
  const body = em.block(() => {
    em.emit(let_('t', 'i64', add(mul(gid, idx(GEMM_WG)), lid)));
    em.emit(if_(lt(T, arg(0)), em.block(() => {
      const [bt, mt, nt] = unflatten(em, T, [nb, MT, NT], 'q');
      const bIdx = unflatten(em, bt, batch, 'b');
      const aBatch = broadcastAt(aS.slice(0, -2), bIdx), bBatch = broadcastAt(bS.slice(0, -2), bIdx);
      em.emit(let_('abase', 'i64', em.flat(av, [...aBatch, idx(0), idx(0)])));
      em.emit(let_('bbase', 'i64', em.flat(bv, [...bBatch, idx(0), idx(0)])));
      em.emit(let_('m0', 'i64', mul(mt, idx(TM))));
      em.emit(let_('n0', 'i64', mul(nt, idx(TN))));
      em.emit(for_('ii', idx(0), idx(TM * TN), [lstore('acc', I, f32(0))], true));
      const row = min(add(v('m0'), I), idx(M - 1)), col = min(add(v('n0'), J), idx(Nn - 1));
      em.emit(for_('kk', idx(0), idx(K), [
        for_('ii', idx(0), idx(TM), [lstore('wv', I, em.bufLoad(ab, add(v('abase'), add(mul(row, idx(K)), v('kk'))), 'f32'))], true),
        for_('j', idx(0), idx(TN), [
          let_('bv', 'f32', em.bufLoad(bb, add(v('bbase'), add(mul(v('kk'), idx(Nn)), col)), 'f32')),
          for_('ii', idx(0), idx(TM), [
            lstore('acc', add(mul(I, idx(TN)), J), add(lload('acc', add(mul(I, idx(TN)), J), 'f32'), mul(lload('wv', I, 'f32'), v('bv', 'f32')))),
          ], true),
        ], true),
      ]));
      const epi = em.block(() => {
        em.emit(let_('r', 'i64', add(v('m0'), I)));
        em.emit(let_('cc', 'i64', add(v('n0'), J)));
        em.emit(if_(and(lt(v('r'), idx(M)), lt(v('cc'), idx(Nn))),
          epilogue(em, node, sinkValue, add(mul(I, idx(TN)), J), () => undefined, [...bIdx, v('r'), v('cc')], outBuf)));
      });
      em.emit(for_('ii', idx(0), idx(TM), [for_('j', idx(0), idx(TN), epi)]));
    })));
  });
  return finish(em, body, GEMM_WG, [total], Math.ceil(total / GEMM_WG));
}
