// conv2d and its two adjoints as implicit GEMMs on the generic GEMM schedule
// (schedule/gemm.ts), each described by its GemmParts: where A (the
// weights) and B (im2col of the input, through per-strip tap tables) come
// from, and where the output goes. Training runs its convolutions at GEMM
// speed too.
//  - forward:     y[o, pixel] = Σ_(c, tap) w[o, c, tap] · x[c, pixel's tap]
//    M = output channels per group, N = output pixels, K = C/groups × taps.
//  - grad input:  dx[c, pixel] = Σ_(o, tap) w[o, c, tap] · g[o, pixel that tap reaches]
//    M = input channels per group, N = input pixels, K = (out channel, tap);
//    a tap contributes only where (ih + pad - k·dil) is a multiple of the stride.
//  - grad weight: dw[o, (c, tap)] = Σ_(n, out pixel) g[n, o, pixel] · x[n, c, pixel's tap]
//    M = output channels per group, N = C/groups × taps, K = batch × out pixels.
import { Graph, GNode } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { add, and, bin, bitor, bitSet, bool, cast, div, f32, for_, idx, inRange, let_, lload, min, mod, mul, sel, set, shl, sub, u32, v } from '../kernel/build.js';
import { Emitter, Lowering, ScheduleError } from '../schedule/emit.js';
import { Scheduled } from '../schedule/pointwise.js';
import { type GemmParts, type GemmShape, letVar, packRunWidth, scheduleGemm } from '../schedule/gemm.js';
import { ConvWindow } from '../schedule/gemm-direct.js';
import type { KernelTable } from './op.js';
import type { Target } from '../target.js';

export function ints(node: GNode, name: string, n: number, fallback: number): number[] {
  const a = node.attrs[name];
  const list = a === undefined ? [fallback] : Array.isArray(a) ? (a as number[]) : [a as number];
  return list.length === 1 ? new Array<number>(n).fill(Number(list[0])) : list.map(Number);
}

/** The problem's image, group and the bases of its input planes and weights. */
interface Bases { nimg: Expr; grp: Expr; xbase: Expr; wbase: Expr }

/** What the forward convolution's three packings share: its geometry, its input buffer, the GEMM shape and the problem-level parts. */
interface ConvGemm {
  em: Emitter;
  geo: ConvWindow;
  xb: number;
  shape: GemmShape;
  common: Pick<GemmParts<Bases, unknown>, 'setup' | 'a' | 'outIndex' | 'bias' | 'window'>;
}

function convGemm(em: Emitter, node: GNode): ConvGemm {
  const [xv, wv, bv] = node.inputs;
  const [N, C, H, W] = em.shape(xv);
  const [O, Cg, KH, KW] = em.shape(wv);
  const [, , OH, OW] = em.shape(node.outputs[0]);
  const [sh, sw] = ints(node, 'stride', 2, 1), [ph, pw] = ints(node, 'padding', 2, 0), [dh, dw] = ints(node, 'dilation', 2, 1);
  const g = Number(node.attrs.groups ?? 1);
  if (Cg * g !== C) throw new ScheduleError(`conv2d node ${node.id}: ${C} channels vs weight ${Cg} × groups ${g}`);
  if (em.dtype(xv) !== 'f32') throw new ScheduleError(`conv2d node ${node.id}: only f32 is scheduled`);
  const og = O / g, K = Cg * KH * KW;
  const xb = em.buf(xv, 'r'), wb = em.buf(wv, 'r');
  const bb = bv !== undefined && bv >= 0 ? em.buf(bv, 'r') : -1;
  const window: ConvWindow = { x: xb, w: wb, C: Cg, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw };
  return {
    em, xb, geo: window, shape: { problems: N * g, M: og, N: OH * OW, K },
    common: {
      window,
      setup: (problem) => {
        const nimg = letVar(em, 'nimg', div(problem, idx(g)));
        const grp = letVar(em, 'grp', mod(problem, idx(g)));
        const xbase = letVar(em, 'xbase', mul(add(mul(nimg, idx(C)), mul(grp, idx(Cg))), idx(H * W)));
        return { nimg, grp, xbase, wbase: letVar(em, 'wbase', mul(grp, idx(og * K))) };
      },
      a: (p, row, k) => em.bufLoad(wb, add(p.wbase, add(mul(row, idx(K)), k)), 'f32'),
      outIndex: (p, row, col) => [p.nimg, add(mul(p.grp, idx(og)), row), div(col, idx(OW)), mod(col, idx(OW))],
      bias: (p, row) => (bb >= 0 ? em.bufLoad(bb, add(mul(p.grp, idx(og)), row), 'f32') : undefined),
    },
  };
}

export function scheduleConv(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const node = graph.nodes[anchorId];
  const c = convGemm(new Emitter(graph, nodes, lowerings), node);
  const { KH, KW, sh, sw, ph, pw } = c.geo;
  const run = <R>(parts: Omit<GemmParts<Bases, R>, keyof ConvGemm['common']>): Scheduled =>
    scheduleGemm(c.em, graph, node, sink, c.shape, { ...c.common, ...parts } as GemmParts<Bases, R>, target);
  if (KH === 1 && KW === 1 && sh === 1 && sw === 1 && ph === 0 && pw === 0) return run(plainPacking(c));
  // The CPU packs panel rows by runs of its vector width (see the tables);
  // GPUs keep per-(tap, column) offsets, read by their threads in parallel.
  if (target.name !== 'cpu') return run(tapPacking(c, target));
  if (sh === 1 && sw === 1 && c.geo.OW === c.geo.W) {
    const { H, W, OH, OW, dh, dw } = c.geo;
    return run(maskedRunPacking<Bases>(c.em, {
      buf: c.xb, srcH: H, srcW: W, cols: OH * OW, KH, KW,
      shift: (ky, kx) => [sub(mul(ky, idx(dh)), idx(ph)), sub(mul(kx, idx(dw)), idx(pw))],
      plane: (p, ch) => add(p.xbase, mul(ch, idx(H * W))),
    }, target));
  }
  return run(runPacking(c, target));
}

/** A 1×1 convolution is a plain GEMM: the input plane is B itself, no tap tables. */
function plainPacking({ em, xb, geo: { H, W, OH, OW } }: ConvGemm): Omit<GemmParts<Bases, Expr>, keyof ConvGemm['common']> {
  return {
    packRow: (p, k) => letVar(em, 'xrow', add(p.xbase, mul(k, idx(H * W)))),
    packValue: (_p, xrow, _j, col) => em.bufLoad(xb, add(xrow, col), 'f32'),
    packRun: (_p, xrow, n0, group, vg) => {
      const c0 = add(n0, mul(group, idx(vg)));
      return { contiguous: bin('le', add(c0, idx(vg)), idx(OH * OW)), load: (lane) => em.bufLoad(xb, add(add(xrow, c0), lane), 'f32') };
    },
  };
}

/** A panel row k on the CPU: its kernel tap, the tap's first entry in the run table, the input channel plane's base, the tap's row and column shifts. */
interface RunRow { tb: Expr; xrow: Expr; dy: Expr; dx: Expr }

/**
 * The CPU's packing. Per (kernel tap, run of VG output columns): whether the
 * run's inputs are one output row's worth inside the image (every sw-th
 * element from kbase on), so packing it is a strided copy. Other runs (image
 * edges, runs across row ends: most of them on a 10×10 map) are packed column
 * by column from the per-column table: the column's first input row and
 * column, to which packing adds the tap's shifts. Both tables together are a
 * fraction of per-(tap, column) offsets, and so is the index arithmetic each
 * workgroup does before its first chunk.
 */
function runPacking({ em, xb, geo: { H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw } }: ConvGemm, target: Target): Omit<GemmParts<Bases, RunRow>, keyof ConvGemm['common']> {
  const runWidth = (TN: number): number => packRunWidth(target, TN);
  return {
    tables: [{
      size: (TN) => KH * KW * (TN / runWidth(TN)),
      arrays: [{ name: 'kbase', t: 'i64' }, { name: 'kcont', t: 'bool' }],
      values(_p, e, TN, n0) {
        const vg = runWidth(TN), groups = TN / vg;
        const kr = div(e, idx(groups));
        const c0 = em.bind(add(n0, mul(mod(e, idx(groups)), idx(vg))), 'c0');
        const c1 = add(c0, idx(vg - 1));
        const ih = em.bind(add(sub(mul(div(c0, idx(OW)), idx(sh)), idx(ph)), mul(div(kr, idx(KW)), idx(dh))), 'ih');
        const iw0 = em.bind(add(sub(mul(mod(c0, idx(OW)), idx(sw)), idx(pw)), mul(mod(kr, idx(KW)), idx(dw))), 'iw');
        const cont = em.bind(and(and(bin('le', c1, idx(OH * OW - 1)), bin('eq', div(c0, idx(OW)), div(c1, idx(OW)))),
          and(inRange(ih, H), and(bin('ge', iw0, idx(0)), bin('lt', add(iw0, idx((vg - 1) * sw)), idx(W))))), 'cont');
        return [sel(cont, add(mul(ih, idx(W)), iw0), idx(0)), cont];
      },
    }, {
      size: (TN) => TN,
      arrays: [{ name: 'colh', t: 'i64' }, { name: 'colw', t: 'i64' }],
      values(_p, e, _TN, n0) {
        const col = em.bind(min(add(n0, e), idx(OH * OW - 1)), 'col');
        return [mul(div(col, idx(OW)), idx(sh)), mul(mod(col, idx(OW)), idx(sw))];
      },
    }],
    packRun: (_p, r, _n0, group) => ({
      contiguous: lload('kcont', add(r.tb, group), 'bool'),
      load: (lane: Expr) => em.bufLoad(xb, add(add(r.xrow, lload('kbase', add(r.tb, group), 'i64')), sw === 1 ? lane : mul(lane, idx(sw))), 'f32'),
    }),
    packRow(p, k, TN) {
      const kr = letVar(em, 'kr', mod(k, idx(KH * KW)));
      const tb = letVar(em, 'tb', mul(kr, idx(TN / runWidth(TN))));
      const dy = letVar(em, 'dy', sub(mul(div(kr, idx(KW)), idx(dh)), idx(ph)));
      const dx = letVar(em, 'dx', sub(mul(mod(kr, idx(KW)), idx(dw)), idx(pw)));
      return { tb, dy, dx, xrow: letVar(em, 'xrow', add(p.xbase, mul(div(k, idx(KH * KW)), idx(H * W)))) };
    },
    packValue(_p, r, j) {
      const ih = em.bind(add(lload('colh', j, 'i64'), r.dy), 'ih');
      const iw = em.bind(add(lload('colw', j, 'i64'), r.dx), 'iw');
      const ok = em.bind(and(inRange(ih, H), inRange(iw, W)), 'ok');
      // Outside the image the load reads the plane's first element (always in bounds) and is replaced by 0.
      const x = em.bind(em.bufLoad(xb, add(r.xrow, sel(ok, add(mul(ih, idx(W)), iw), idx(0))), 'f32'), 'xv');
      return sel(ok, x, f32(0));
    },
  };
}

/** A panel row k of a masked-run packing: the tap's first entry in the run table, the source plane's base, the run width. */
interface MaskedRow { tb: Expr; xrow: Expr; vg: number }

/**
 * What a masked-run packing reads: panel row k is tap k % taps of plane
 * k / taps of `buf` (srcH × srcW), and output column c reads that plane at
 * c + dy·srcW + dx for the tap's shift (dy, dx), across row ends too: the
 * output's rows are srcW columns wide.
 */
interface MaskedSource<P> {
  buf: number;
  srcH: number;
  srcW: number;
  /** Output columns (the GEMM's N). */
  cols: number;
  KH: number;
  KW: number;
  /** The tap's (row, column) shift from its kernel row and column. */
  shift(ky: Expr, kx: Expr): [Expr, Expr];
  /** Base of plane `plane` for the problem. */
  plane(p: P, plane: Expr): Expr;
}

/**
 * The CPU's packing where source offsets are affine in the output column:
 * every run of VG columns is one contiguous stretch of the source with some
 * lanes masked to zero: those whose pixel falls outside the plane (left and
 * right edges wrap into the neighbouring row, top and bottom leave the
 * plane) and those past the last column. The table holds, per (tap, run),
 * the stretch's first offset (negative or past the plane where lanes are
 * masked: masked lanes are never read) and the lane mask. No run takes a
 * per-column path: on a 20 × 20 map almost every run of 16 crosses a row
 * end, which runPacking packs column by column. Used by the forward
 * convolution and its input gradient at stride 1 with rows of equal width
 * (3×3 padding 1, ...).
 */
function maskedRunPacking<P>(em: Emitter, src: MaskedSource<P>, target: Target): Omit<GemmParts<P, MaskedRow>, 'setup' | 'a' | 'outIndex' | 'bias' | 'window'> {
  const { buf, srcH, srcW, cols, KH, KW } = src;
  const runWidth = (TN: number): number => packRunWidth(target, TN);
  // The run's base and mask are read once into lets before the lane loop: a table read inside the
  // select's arm is a conditional load of its own, and GCC then leaves the loop scalar.
  const masked = (base: Expr, mask: Expr, lane: Expr): Expr =>
    sel(bitSet(mask, cast(lane, 'u32')), em.bufLoad(buf, add(base, lane), 'f32'), f32(0));
  const run = (r: MaskedRow, group: Expr): { base: Expr; mask: Expr } => {
    const e = add(r.tb, group);
    return { base: letVar(em, 'rbase', add(r.xrow, lload('kbase', e, 'i64'))), mask: letVar(em, 'rmask', lload('kmask', e, 'u32'), 'u32') };
  };
  return {
    tables: [{
      size: (TN) => KH * KW * (TN / runWidth(TN)),
      arrays: [{ name: 'kbase', t: 'i64' }, { name: 'kmask', t: 'u32' }],
      values(_p, e, TN, n0) {
        const vg = runWidth(TN), groups = TN / vg;
        const kr = em.bind(div(e, idx(groups)), 'kr');
        const c0 = em.bind(add(n0, mul(mod(e, idx(groups)), idx(vg))), 'c0');
        const [sy, sx] = src.shift(div(kr, idx(KW)), mod(kr, idx(KW)));
        const dy = em.bind(sy, 'dy'), dx = em.bind(sx, 'dx');
        const lane = v('lane'), col = add(c0, lane);
        const inside = and(bin('lt', col, idx(cols)), and(inRange(add(div(col, idx(srcW)), dy), srcH), inRange(add(mod(col, idx(srcW)), dx), srcW)));
        em.emit(let_('lanes', 'u32', u32(0)));
        em.emit(for_('lane', idx(0), idx(vg), [set('lanes', bitor(v('lanes', 'u32'), sel(inside, shl(u32(1), cast(lane, 'u32')), u32(0))))]));
        return [add(c0, add(mul(dy, idx(srcW)), dx)), v('lanes', 'u32')];
      },
    }],
    packRun: (_p, r, _n0, group) => {
      const { base, mask } = run(r, group);
      return { contiguous: bool(true), load: (lane: Expr) => masked(base, mask, lane) };
    },
    packRow(p, k, TN) {
      const tb = letVar(em, 'tb', mul(mod(k, idx(KH * KW)), idx(TN / runWidth(TN))));
      return { tb, vg: runWidth(TN), xrow: letVar(em, 'xrow', src.plane(p, div(k, idx(KH * KW)))) };
    },
    // Only the GEMM's own column loop would call it (packRun covers every run): the same masked load, by column.
    packValue: (_p, r, j) => {
      const { base, mask } = run(r, div(j, idx(r.vg)));
      return masked(base, mask, mod(j, idx(r.vg)));
    },
  };
}

/** A panel row k on a GPU: its kernel tap, the tap's offset in the tables, and the input channel plane's base. */
interface TapRow { kr: Expr; tb: Expr; xrow: Expr }

/**
 * GPUs' packing: per (kernel tap, column) the input offset within a channel
 * plane and whether it lies inside the image, so packing is a load and a
 * select; at stride 1 also per (tap, run of VG columns) whether the run is
 * one output row inside the image on both ends (a straight copy).
 */
function tapPacking({ em, xb, geo: { H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw } }: ConvGemm, target: Target): Omit<GemmParts<Bases, TapRow>, keyof ConvGemm['common']> {
  return {
    tables: [{
      size: (TN) => KH * KW * TN,
      arrays: [{ name: 'koff', t: 'i64' }, { name: 'kok', t: 'bool' }],
      values(_p, e, TN, n0) {
        const kr = div(e, idx(TN));
        const col = em.bind(min(add(n0, mod(e, idx(TN))), idx(OH * OW - 1)), 'col');
        const ih = em.bind(add(sub(mul(div(col, idx(OW)), idx(sh)), idx(ph)), mul(div(kr, idx(KW)), idx(dh))), 'ih');
        const iw = em.bind(add(sub(mul(mod(col, idx(OW)), idx(sw)), idx(pw)), mul(mod(kr, idx(KW)), idx(dw))), 'iw');
        const ok = em.bind(and(inRange(ih, H), inRange(iw, W)), 'ok');
        return [sel(ok, add(mul(ih, idx(W)), iw), idx(0)), ok];
      },
    }, ...(sw === 1 ? [{
      size: (TN: number) => KH * KW * (TN / packRunWidth(target, TN)),
      arrays: [{ name: 'kcont', t: 'bool' as const }],
      values(_p: Bases, e: Expr, TN: number, n0: Expr) {
        const vg = packRunWidth(target, TN), groups = TN / vg;
        const kr = div(e, idx(groups));
        const c0 = em.bind(add(n0, mul(mod(e, idx(groups)), idx(vg))), 'c0');
        const c1 = add(c0, idx(vg - 1));
        const ih = add(sub(mul(div(c0, idx(OW)), idx(sh)), idx(ph)), mul(div(kr, idx(KW)), idx(dh)));
        const dx = sub(mul(mod(kr, idx(KW)), idx(dw)), idx(pw));
        return [and(and(bin('le', c1, idx(OH * OW - 1)), bin('eq', div(c0, idx(OW)), div(c1, idx(OW)))),
          and(inRange(ih, H), and(bin('ge', add(mod(c0, idx(OW)), dx), idx(0)), bin('lt', add(mod(c1, idx(OW)), dx), idx(W)))))];
      },
    }] : [])],
    ...(sw === 1 ? {
      packRun: (_p: Bases, r: TapRow, _n0: Expr, group: Expr, vg: number, TN: number) => ({
        contiguous: lload('kcont', add(mul(r.kr, idx(TN / vg)), group), 'bool'),
        load: (lane: Expr) => em.bufLoad(xb, add(add(r.xrow, lload('koff', add(r.tb, mul(group, idx(vg))), 'i64')), lane), 'f32'),
      }),
    } : {}),
    packRow(p, k, TN) {
      const kr = letVar(em, 'kr', mod(k, idx(KH * KW)));
      const tb = letVar(em, 'tb', mul(kr, idx(TN)));
      return { kr, tb, xrow: letVar(em, 'xrow', add(p.xbase, mul(div(k, idx(KH * KW)), idx(H * W)))) };
    },
    packValue(_p, r, j) {
      const e = add(r.tb, j);
      // koff is 0 outside the image, so the load is always in bounds: loading
      // unconditionally lets the C compiler vectorise the column loop (gather + blend).
      const x = em.bind(em.bufLoad(xb, add(r.xrow, lload('koff', e, 'i64')), 'f32'), 'xv');
      return sel(lload('kok', e, 'bool'), x, f32(0));
    },
  };
}

export function scheduleConvGradInput(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled | Scheduled[] {
  const phased = target.name === 'cpu' ? scheduleGradInputPhases(graph, nodes, anchorId, sink, lowerings, target) : undefined;
  if (phased) return phased;
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
  interface GradBases { nimg: Expr; grp: Expr; gbase: Expr; wbase: Expr }
  const shape = { problems: N * g, M: Cg, N: H * W, K: og * taps };
  const common = {
    setup(problem: Expr): GradBases {
      const nimg = letVar(em, 'nimg', div(problem, idx(g)));
      const grp = letVar(em, 'grp', mod(problem, idx(g)));
      const gbase = letVar(em, 'gbase', mul(add(mul(nimg, idx(O)), mul(grp, idx(og))), idx(OH * OW)));
      return { nimg, grp, gbase, wbase: letVar(em, 'wbase', mul(grp, idx(og * Cg * taps))) };
    },
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
        plane: (p, o) => add(p.gbase, mul(o, idx(OH * OW))),
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
  const probe = new Emitter(graph, nodes, lowerings);
  const [N, O, OH, OW] = probe.shape(gv);
  const [, Cg, KH, KW] = probe.shape(wv);
  const [, , H, W] = probe.shape(node.outputs[0]);
  const [sh, sw] = ints(node, 'stride', 2, 1), [ph, pw] = ints(node, 'padding', 2, 0), [dh, dw] = ints(node, 'dilation', 2, 1);
  const g = Number(node.attrs.groups ?? 1);
  if ((sh === 1 && sw === 1) || dh !== 1 || dw !== 1) return undefined;
  if (H % sh !== 0 || W % sw !== 0 || W / sw !== OW) return undefined;
  const og = O / g, taps = KH * KW, Hp = H / sh, Wp = W / sw;
  const out: Scheduled[] = [];
  for (let py = 0; py < sh; py++) for (let px = 0; px < sw; px++) {
    // Taps ky ≡ py + ph (mod sh), ky = ky0 + sh·u; they read gradient row i + qy - u for phase row i.
    const ky0 = (py + ph) % sh, kx0 = (px + pw) % sw;
    // A phase no tap reaches (a 1×1 stride-2 conv's odd rows and columns) is a GEMM of K = 0: zeros through the epilogue.
    const ty = Math.max(0, Math.ceil((KH - ky0) / sh)), tx = Math.max(0, Math.ceil((KW - kx0) / sw));
    const qy = (py + ph - ky0) / sh, qx = (px + pw - kx0) / sw;
    const em = new Emitter(graph, nodes, lowerings);
    const gb = em.buf(gv, 'r'), wb = em.buf(wv, 'r');
    interface PhaseBases { nimg: Expr; grp: Expr; gbase: Expr; wbase: Expr }
    out.push(scheduleGemm(em, graph, node, sink, { problems: N * g, M: Cg, N: Hp * Wp, K: og * ty * tx }, {
      setup(problem): PhaseBases {
        const nimg = letVar(em, 'nimg', div(problem, idx(g)));
        const grp = letVar(em, 'grp', mod(problem, idx(g)));
        const gbase = letVar(em, 'gbase', mul(add(mul(nimg, idx(O)), mul(grp, idx(og))), idx(OH * OW)));
        return { nimg, grp, gbase, wbase: letVar(em, 'wbase', mul(grp, idx(og * Cg * taps))) };
      },
      // Panel row k: output channel k / (ty·tx), tap (u, v) = its remainder's row and column.
      a: (p, row, k) => {
        const t = mod(k, idx(ty * tx));
        const ky = add(idx(ky0), mul(div(t, idx(tx)), idx(sh))), kx = add(idx(kx0), mul(mod(t, idx(tx)), idx(sw)));
        return em.bufLoad(wb, add(p.wbase, add(mul(div(k, idx(ty * tx)), idx(Cg * taps)), add(mul(row, idx(taps)), add(mul(ky, idx(KW)), kx)))), 'f32');
      },
      ...(ty * tx === 0
        ? { packRow: (): MaskedRow => ({ tb: idx(0), xrow: idx(0), vg: 1 }), packValue: () => f32(0) } // K = 0: the chunk loop never runs
        : maskedRunPacking<PhaseBases>(em, {
          buf: gb, srcH: OH, srcW: OW, cols: Hp * Wp, KH: ty, KW: tx,
          shift: (u, v) => [sub(idx(qy), u), sub(idx(qx), v)],
          plane: (p, o) => add(p.gbase, mul(o, idx(OH * OW))),
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

export const CONV_KERNELS: KernelTable<'conv2d' | 'conv2d_grad_input' | 'conv2d_grad_weight'> = {
  conv2d: { schedule: scheduleConv },
  conv2d_grad_input: { schedule: scheduleConvGradInput },
  conv2d_grad_weight: { schedule: scheduleConvGradWeight },
};
