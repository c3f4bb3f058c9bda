// The two adjoints of conv2d on the same packed GEMM as the forward
// (gemm.ts), so training runs its convolutions at GEMM speed too.
//  - grad input:  dx[c, pixel] = Σ_(o, tap) w[o, c, tap] · g[o, pixel that tap reaches]
//    M = input channels per group, N = input pixels, K = (out channel, tap);
//    a tap contributes only where (ih + pad - k·dil) is a multiple of the stride.
//  - grad weight: dw[o, (c, tap)] = Σ_(n, out pixel) g[n, o, pixel] · x[n, c, pixel's tap]
//    M = output channels per group, N = C/groups × taps, K = batch × out pixels.
import { Graph } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { add, and, bin, div, f32, idx, inRange, let_, lload, mod, mul, sel, sub, v } from '../kernel/build.js';
import { Emitter, Lowering, ScheduleError } from './emit.js';
import { Scheduled } from './pointwise.js';
import { ints, scheduleGemm } from './gemm.js';
import type { Target } from '../target.js';

export function scheduleConvGradInput(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [gv, wv] = node.inputs;
  const [N, O, OH, OW] = em.shape(gv);
  const [, Cg, KH, KW] = em.shape(wv);
  const [, C, H, W] = em.shape(node.outputs[0]);
  const [sh, sw] = ints(node, 'stride', 2, 1), [ph, pw] = ints(node, 'padding', 2, 0), [dh, dw] = ints(node, 'dilation', 2, 1);
  const g = Number(node.attrs.groups ?? 1);
  if (Cg * g !== C) throw new ScheduleError(`conv2d_grad_input node ${node.id}: ${C} channels vs weight ${Cg} × groups ${g}`);
  const og = O / g, taps = KH * KW;
  const gb = em.buf(gv, 'r'), wb = em.buf(wv, 'r');
  /** Output row (or column) reached from input coordinate i by tap offset k: valid when divisible and in range. */
  const reach = (i: Expr, pad: number, k: Expr, dil: number, stride: number, size: number): { at: Expr; ok: Expr } => {
    const num = em.bind(sub(add(i, idx(pad)), mul(k, idx(dil))), 'num');
    const at = em.bind(div(num, idx(stride)), 'at');
    return { at, ok: and(and(bin('ge', num, idx(0)), bin('eq', mod(num, idx(stride)), idx(0))), bin('lt', at, idx(size))) };
  };
  return scheduleGemm(em, graph, node, sink, { problems: N * g, M: Cg, N: H * W, K: og * taps }, {
    setup(problem) {
      em.emit(let_('nimg', 'i64', div(problem, idx(g))));
      em.emit(let_('grp', 'i64', mod(problem, idx(g))));
      em.emit(let_('gbase', 'i64', mul(add(mul(v('nimg'), idx(O)), mul(v('grp'), idx(og))), idx(OH * OW))));
      em.emit(let_('wbase', 'i64', mul(v('grp'), idx(og * Cg * taps))));
    },
    a: (row, k) => em.bufLoad(wb, add(v('wbase'), add(mul(div(k, idx(taps)), idx(Cg * taps)), add(mul(row, idx(taps)), mod(k, idx(taps))))), 'f32'),
    tables: [{
      size: (tn) => taps * tn,
      arrays: [{ name: 'koff', t: 'i64' }, { name: 'kok', t: 'bool' }],
      values(e, tn) {
        const kr = div(e, idx(tn));
        const col = em.bind(add(v('n0'), mod(e, idx(tn))), 'col');
        const y = reach(div(col, idx(W)), ph, div(kr, idx(KW)), dh, sh, OH);
        const x = reach(mod(col, idx(W)), pw, mod(kr, idx(KW)), dw, sw, OW);
        const ok = em.bind(and(bin('lt', col, idx(H * W)), and(y.ok, x.ok)), 'ok');
        return [sel(ok, add(mul(y.at, idx(OW)), x.at), idx(0)), ok];
      },
    }],
    packRow(k, TN) {
      em.emit(let_('tb', 'i64', mul(mod(k, idx(taps)), idx(TN))));
      em.emit(let_('grow', 'i64', add(v('gbase'), mul(div(k, idx(taps)), idx(OH * OW)))));
    },
    packValue(j) {
      const e = add(v('tb'), j);
      return sel(lload('kok', e, 'bool'), em.bufLoad(gb, add(v('grow'), lload('koff', e, 'i64')), 'f32'), f32(0));
    },
    outIndex: (_p, row, col) => [v('nimg'), add(mul(v('grp'), idx(Cg)), row), div(col, idx(W)), mod(col, idx(W))],
    bias: () => undefined,
  }, target);
}

export function scheduleConvGradWeight(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [xv, gv] = node.inputs;
  const [N, C, H, W] = em.shape(xv);
  const [, O, OH, OW] = em.shape(gv);
  const [, Cg, KH, KW] = em.shape(node.outputs[0]);
  const [sh, sw] = ints(node, 'stride', 2, 1), [ph, pw] = ints(node, 'padding', 2, 0), [dh, dw] = ints(node, 'dilation', 2, 1);
  const g = Number(node.attrs.groups ?? 1);
  if (Cg * g !== C) throw new ScheduleError(`conv2d_grad_weight node ${node.id}: ${C} channels vs weight ${Cg} × groups ${g}`);
  const og = O / g, taps = KH * KW, P = OH * OW;
  const xb = em.buf(xv, 'r'), gb = em.buf(gv, 'r');
  return scheduleGemm(em, graph, node, sink, { problems: g, M: og, N: Cg * taps, K: N * P }, {
    setup(problem) {
      em.emit(let_('grp', 'i64', problem));
    },
    a: (row, k) => em.bufLoad(gb, add(mul(div(k, idx(P)), idx(O * P)), add(mul(add(mul(v('grp'), idx(og)), row), idx(P)), mod(k, idx(P)))), 'f32'),
    // Per column (input channel, tap): its plane offset and the tap's row/column shift.
    tables: [{
      size: (tn) => tn,
      arrays: [{ name: 'cplane', t: 'i64' }, { name: 'cdy', t: 'i64' }, { name: 'cdx', t: 'i64' }],
      values(e) {
        const col = em.bind(bin('min', add(v('n0'), e), idx(Cg * taps - 1)), 'col');
        const kr = mod(col, idx(taps));
        return [mul(add(mul(v('grp'), idx(Cg)), div(col, idx(taps))), idx(H * W)), sub(mul(div(kr, idx(KW)), idx(dh)), idx(ph)), sub(mul(mod(kr, idx(KW)), idx(dw)), idx(pw))];
      },
    }],
    packRow(k) {
      em.emit(let_('xn', 'i64', mul(div(k, idx(P)), idx(C * H * W))));
      em.emit(let_('oy', 'i64', mul(div(mod(k, idx(P)), idx(OW)), idx(sh))));
      em.emit(let_('ox', 'i64', mul(mod(k, idx(OW)), idx(sw))));
    },
    packValue(j) {
      const ih = em.bind(add(v('oy'), lload('cdy', j, 'i64')), 'ih'), iw = em.bind(add(v('ox'), lload('cdx', j, 'i64')), 'iw');
      const ok = em.bind(and(inRange(ih, H), inRange(iw, W)), 'ok');
      return sel(ok, em.bufLoad(xb, sel(ok, add(add(v('xn'), lload('cplane', j, 'i64')), add(mul(ih, idx(W)), iw)), idx(0)), 'f32'), f32(0));
    },
    outIndex: (_p, row, col) => [add(mul(v('grp'), idx(og)), row), div(col, idx(taps)), div(mod(col, idx(taps)), idx(KW)), mod(col, idx(KW))],
    bias: () => undefined,
  }, target);
}
