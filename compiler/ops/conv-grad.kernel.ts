// The convolution's two adjoints as implicit GEMMs on the generic GEMM
// schedule (see conv.kernel.ts for their shapes): the input gradient (on the
// CPU by masked runs at stride 1, and one GEMM per phase at stride 2), and
// the weight gradient.
import { Graph, GNode } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { add, and, bin, div, f32, idx, inRange, lload, mod, mul, sel, sub } from '../kernel/build.js';
import { Emitter, Lowering, ScheduleError } from '../schedule/emit.js';
import { Scheduled } from '../schedule/pointwise.js';
import { letVar, scheduleGemm } from '../schedule/gemm.js';
import { type MaskedRow, ints, maskedRunPacking } from './conv-packing.kernel.js';
import type { Target } from '../target.js';

/** The input gradient's geometry: gradient [N, O, OH, OW], weights [O, Cg, KH, KW], input [N, C, H, W]. */
interface GradInputGeometry {
  N: number; O: number; OH: number; OW: number; Cg: number; KH: number; KW: number; C: number; H: number; W: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number; g: number; og: number; taps: number;
}

/** The problem's image, group, and the bases of its gradient planes and weights. */
interface GradBases { nimg: Expr; grp: Expr; gbase: Expr; wbase: Expr }

function gradInputGeometry(em: Emitter, node: GNode): GradInputGeometry {
  const [gv, wv] = node.inputs;
  const [N, O, OH, OW] = em.shape(gv);
  const [, Cg, KH, KW] = em.shape(wv);
  const [, C, H, W] = em.shape(node.outputs[0]);
  const [sh, sw] = ints(node, 'stride', 2, 1), [ph, pw] = ints(node, 'padding', 2, 0), [dh, dw] = ints(node, 'dilation', 2, 1);
  const g = Number(node.attrs.groups ?? 1);
  if (Cg * g !== C) throw new ScheduleError(`conv2d_grad_input node ${node.id}: ${C} channels vs weight ${Cg} × groups ${g}`);
  return { N, O, OH, OW, Cg, KH, KW, C, H, W, sh, sw, ph, pw, dh, dw, g, og: O / g, taps: KH * KW };
}

/** GemmParts.setup of every input-gradient GEMM (the single one and each phase's). */
function gradInputSetup(em: Emitter, { g, O, og, OH, OW, Cg, taps }: GradInputGeometry): (problem: Expr) => GradBases {
  return (problem) => {
    const nimg = letVar(em, 'nimg', div(problem, idx(g)));
    const grp = letVar(em, 'grp', mod(problem, idx(g)));
    const gbase = letVar(em, 'gbase', mul(add(mul(nimg, idx(O)), mul(grp, idx(og))), idx(OH * OW)));
    return { nimg, grp, gbase, wbase: letVar(em, 'wbase', mul(grp, idx(og * Cg * taps))) };
  };
}

/** Output-gradient plane `o` of the problem: maskedRunPacking's source plane. */
const gradPlane = ({ OH, OW }: GradInputGeometry) => (p: GradBases, o: Expr): Expr => add(p.gbase, mul(o, idx(OH * OW)));

export function scheduleConvGradInput(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled | Scheduled[] {
  const phased = target.name === 'cpu' ? scheduleGradInputPhases(graph, nodes, anchorId, sink, lowerings, target) : undefined;
  if (phased) return phased;
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [gv, wv] = node.inputs;
  const geo = gradInputGeometry(em, node);
  const { N, OH, OW, Cg, KH, KW, H, W, sh, sw, ph, pw, dh, dw, g, og, taps } = geo;
  const gb = em.buf(gv, 'r'), wb = em.buf(wv, 'r');
  /** Output row (or column) reached from input coordinate i by tap offset k: valid when divisible and in range. */
  const reach = (i: Expr, pad: number, k: Expr, dil: number, stride: number, size: number): { at: Expr; ok: Expr } => {
    const num = em.bind(sub(add(i, idx(pad)), mul(k, idx(dil))), 'num');
    const at = em.bind(div(num, idx(stride)), 'at');
    return { at, ok: and(and(bin('ge', num, idx(0)), bin('eq', mod(num, idx(stride)), idx(0))), bin('lt', at, idx(size))) };
  };
  const shape = { problems: N * g, M: Cg, N: H * W, K: og * taps };
  const common = {
    setup: gradInputSetup(em, geo),
    a: (p: GradBases, row: Expr, k: Expr) => em.bufLoad(wb, add(p.wbase, add(mul(div(k, idx(taps)), idx(Cg * taps)), add(mul(row, idx(taps)), mod(k, idx(taps))))), 'f32'),
    outIndex: (p: GradBases, row: Expr, col: Expr) => [p.nimg, add(mul(p.grp, idx(Cg)), row), div(col, idx(W)), mod(col, idx(W))],
    bias: () => undefined,
  };
  if (target.name === 'cpu' && sh === 1 && sw === 1 && OW === W) {
    // Input pixel c reaches the output gradient at c + (ph - ky·dh)·W + (pw - kx·dw): masked runs, as the forward's.
    return scheduleGemm(em, graph, node, sink, shape, {
      ...common,
      ...maskedRunPacking<GradBases>(em, {
        buf: gb, srcH: OH, srcW: OW, cols: H * W, KH, KW,
        shift: (ky, kx) => [sub(idx(ph), mul(ky, idx(dh))), sub(idx(pw), mul(kx, idx(dw)))],
        plane: gradPlane(geo),
      }, target),
    }, target);
  }
  return scheduleGemm(em, graph, node, sink, shape, {
    ...common,
    tables: [{
      size: (tn) => taps * tn,
      arrays: [{ name: 'koff', t: 'i64' }, { name: 'kok', t: 'bool' }],
      values(_p, e, tn, n0) {
        const kr = div(e, idx(tn));
        const col = em.bind(add(n0, mod(e, idx(tn))), 'col');
        const y = reach(div(col, idx(W)), ph, div(kr, idx(KW)), dh, sh, OH);
        const x = reach(mod(col, idx(W)), pw, mod(kr, idx(KW)), dw, sw, OW);
        const ok = em.bind(and(bin('lt', col, idx(H * W)), and(y.ok, x.ok)), 'ok');
        return [sel(ok, add(mul(y.at, idx(OW)), x.at), idx(0)), ok];
      },
    }],
    packRow(p, k, TN) {
      const tb = letVar(em, 'tb', mul(mod(k, idx(taps)), idx(TN)));
      return { tb, grow: letVar(em, 'grow', add(p.gbase, mul(div(k, idx(taps)), idx(OH * OW)))) };
    },
    packValue(_p, r, j) {
      const e = add(r.tb, j);
      return sel(lload('kok', e, 'bool'), em.bufLoad(gb, add(r.grow, lload('koff', e, 'i64')), 'f32'), f32(0));
    },
  }, target);
}

/**
 * A strided convolution's input gradient on the CPU, one GEMM per phase.
 * At stride s only the taps with (i + pad - k) divisible by s reach input
 * row i: at stride 2 a 3×3 kernel gives each input pixel 1, 2 or 4 of its 9
 * taps, and the single GEMM over all taps multiplies zeros three times in
 * four (R50's stride-2 convs ran their input gradients at ~75 GFLOP/s of
 * useful work). The input pixels split into s × s phases by (row, column)
 * mod s; every pixel of a phase takes the same taps, and within a phase a
 * tap reads the output gradient at a constant shift: a stride-1 masked-run
 * GEMM (maskedRunPacking) over the phase's pixels, whose rows are as wide as
 * the gradient's where W = s · OW. Each phase is a launch writing its own
 * pixels (every other column of every other row at stride 2) through the
 * fused epilogue; a phase no tap reaches (a 1×1 stride-2 conv's odd rows
 * and columns) stores the epilogue of zeros. Undefined (the single GEMM)
 * unless stride > 1, dilation 1, and the sizes divide so.
 */
function scheduleGradInputPhases(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled[] | undefined {
  const node = graph.nodes[anchorId];
  const [gv, wv] = node.inputs;
  const geo = gradInputGeometry(new Emitter(graph, nodes, lowerings), node);
  const { N, OH, OW, Cg, KH, KW, H, W, sh, sw, ph, pw, dh, dw, g, og, taps } = geo;
  if ((sh === 1 && sw === 1) || dh !== 1 || dw !== 1) return undefined;
  if (H % sh !== 0 || W % sw !== 0 || W / sw !== OW) return undefined;
  const Hp = H / sh, Wp = W / sw;
  const out: Scheduled[] = [];
  for (let py = 0; py < sh; py++) for (let px = 0; px < sw; px++) {
    // Taps ky ≡ py + ph (mod sh), ky = ky0 + sh·u; they read gradient row i + qy - u for phase row i.
    const ky0 = (py + ph) % sh, kx0 = (px + pw) % sw;
    // A phase no tap reaches (a 1×1 stride-2 conv's odd rows and columns) is a GEMM of K = 0: zeros through the epilogue.
    const ty = Math.max(0, Math.ceil((KH - ky0) / sh)), tx = Math.max(0, Math.ceil((KW - kx0) / sw));
    const qy = (py + ph - ky0) / sh, qx = (px + pw - kx0) / sw;
    const em = new Emitter(graph, nodes, lowerings);
    const gb = em.buf(gv, 'r'), wb = em.buf(wv, 'r');
    out.push(scheduleGemm(em, graph, node, sink, { problems: N * g, M: Cg, N: Hp * Wp, K: og * ty * tx }, {
      setup: gradInputSetup(em, geo),
      // Panel row k: output channel k / (ty·tx), tap (u, v) = its remainder's row and column.
      a: (p, row, k) => {
        const t = mod(k, idx(ty * tx));
        const ky = add(idx(ky0), mul(div(t, idx(tx)), idx(sh))), kx = add(idx(kx0), mul(mod(t, idx(tx)), idx(sw)));
        return em.bufLoad(wb, add(p.wbase, add(mul(div(k, idx(ty * tx)), idx(Cg * taps)), add(mul(row, idx(taps)), add(mul(ky, idx(KW)), kx)))), 'f32');
      },
      ...(ty * tx === 0
        ? { packRow: (): MaskedRow => ({ tb: idx(0), xrow: idx(0), vg: 1 }), packValue: () => f32(0) } // K = 0: the chunk loop never runs
        : maskedRunPacking<GradBases>(em, {
          buf: gb, srcH: OH, srcW: OW, cols: Hp * Wp, KH: ty, KW: tx,
          shift: (u, v) => [sub(idx(qy), u), sub(idx(qx), v)],
          plane: gradPlane(geo),
        }, target)),
      outIndex: (p, row, col) => [p.nimg, add(mul(p.grp, idx(Cg)), row), add(idx(py), mul(div(col, idx(Wp)), idx(sh))), add(idx(px), mul(mod(col, idx(Wp)), idx(sw)))],
      stridedColumns: true,
      bias: () => undefined,
    }, target));
  }
  return out;
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
    setup: (problem) => letVar(em, 'grp', problem),
    a: (grp, row, k) => em.bufLoad(gb, add(mul(div(k, idx(P)), idx(O * P)), add(mul(add(mul(grp, idx(og)), row), idx(P)), mod(k, idx(P)))), 'f32'),
    // Per column (input channel, tap): its plane offset and the tap's row/column shift.
    tables: [{
      size: (tn) => tn,
      arrays: [{ name: 'cplane', t: 'i64' }, { name: 'cdy', t: 'i64' }, { name: 'cdx', t: 'i64' }],
      values(grp, e, _tn, n0) {
        const col = em.bind(bin('min', add(n0, e), idx(Cg * taps - 1)), 'col');
        const kr = mod(col, idx(taps));
        return [mul(add(mul(grp, idx(Cg)), div(col, idx(taps))), idx(H * W)), sub(mul(div(kr, idx(KW)), idx(dh)), idx(ph)), sub(mul(mod(kr, idx(KW)), idx(dw)), idx(pw))];
      },
    }],
    packRow(_grp, k) {
      const xn = letVar(em, 'xn', mul(div(k, idx(P)), idx(C * H * W)));
      const oy = letVar(em, 'oy', mul(div(mod(k, idx(P)), idx(OW)), idx(sh)));
      return { xn, oy, ox: letVar(em, 'ox', mul(mod(k, idx(OW)), idx(sw))) };
    },
    packValue(_grp, r, j) {
      const ih = em.bind(add(r.oy, lload('cdy', j, 'i64')), 'ih'), iw = em.bind(add(r.ox, lload('cdx', j, 'i64')), 'iw');
      const ok = em.bind(and(inRange(ih, H), inRange(iw, W)), 'ok');
      return sel(ok, em.bufLoad(xb, sel(ok, add(add(r.xn, lload('cplane', j, 'i64')), add(mul(ih, idx(W)), iw)), idx(0)), 'f32'), f32(0));
    },
    outIndex: (grp, row, col) => [add(mul(grp, idx(og)), row), div(col, idx(taps)), div(mod(col, idx(taps)), idx(KW)), mod(col, idx(KW))],
    bias: () => undefined,
  }, target);
}
