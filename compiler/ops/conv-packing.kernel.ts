// How the convolution GEMMs (conv.kernel.ts, conv-grad.kernel.ts) pack their
// B panels: the im2col of a strip of output columns, K rows at a time. A 1×1
// convolution's panel is its input (plainPacking); the CPU copies runs of its
// vector width, masked where stride-1 "same" geometry makes every run one
// stretch of the source (maskedRunPacking), else from run and column tables
// (runPacking); GPUs read per-(tap, column) offset tables (tapPacking).
import { GNode } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { add, and, bin, bitor, bitSet, bool, cast, div, f32, for_, idx, inRange, let_, lload, min, mod, mul, prefetch, sel, set, shl, sub, u32, v } from '../kernel/build.js';
import { Emitter, ScheduleError } from '../schedule/emit.js';
import { type GemmParts, type GemmShape, letVar, packRunWidth, rowRun } from '../schedule/gemm.js';
import { ConvWindow } from '../schedule/gemm-direct.js';
import type { Target } from '../target.js';

export function ints(node: GNode, name: string, n: number, fallback: number): number[] {
  const a = node.attrs[name];
  const list = a === undefined ? [fallback] : Array.isArray(a) ? (a as number[]) : [a as number];
  return list.length === 1 ? new Array<number>(n).fill(Number(list[0])) : list.map(Number);
}


/** The problem's image, group and the bases of its input planes and weights. */
export interface Bases { nimg: Expr; grp: Expr; xbase: Expr; wbase: Expr }

/** What the forward convolution's three packings share: its geometry, its input buffer, the GEMM shape and the problem-level parts. */
export interface ConvGemm {
  em: Emitter;
  geo: ConvWindow;
  xb: number;
  shape: GemmShape;
  common: Pick<GemmParts<Bases, unknown>, 'setup' | 'a' | 'outIndex' | 'bias' | 'window'>;
}

export function convGemm(em: Emitter, node: GNode): ConvGemm {
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


/** A 1×1 convolution is a plain GEMM: the input plane is B itself, no tap tables. */
export function plainPacking({ em, xb, geo: { H, W, OH, OW } }: ConvGemm): Omit<GemmParts<Bases, Expr>, keyof ConvGemm['common']> {
  return {
    packRow: (p, k) => letVar(em, 'xrow', add(p.xbase, mul(k, idx(H * W)))),
    packValue: (_p, xrow, _j, col) => em.bufLoad(xb, add(xrow, col), 'f32'),
    packRun: (_p, xrow, n0, group, vg) => rowRun(xb, xrow, n0, group, vg, OH * OW),
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
export function runPacking({ em, xb, geo: { H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw } }: ConvGemm, target: Target): Omit<GemmParts<Bases, RunRow>, keyof ConvGemm['common']> {
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
    packRun: (_p, r, _n0, group, vg) => {
      const base = add(r.xrow, lload('kbase', add(r.tb, group), 'i64'));
      return {
        contiguous: lload('kcont', add(r.tb, group), 'bool'),
        load: (lane: Expr) => em.bufLoad(xb, add(base, sw === 1 ? lane : mul(lane, idx(sw))), 'f32'),
        // A contiguous run's source moves sw elements per column within an output row (the hint is
        // only a hint elsewhere: kbase is 0 for the runs packed column by column).
        ahead: (columns) => Array.from({ length: Math.ceil((vg * sw) / 16) }, (_, line) => prefetch(xb, add(base, idx(columns * sw + line * 16)))),
      };
    },
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
export interface MaskedRow { tb: Expr; xrow: Expr; vg: number }

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
  /** Base of plane `plane` for the problem, read by kernel tap (ky, kx). */
  plane(p: P, plane: Expr, ky: Expr, kx: Expr): Expr;
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
export function maskedRunPacking<P>(em: Emitter, src: MaskedSource<P>, target: Target): Omit<GemmParts<P, MaskedRow>, 'setup' | 'a' | 'outIndex' | 'bias' | 'window'> {
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
      return { contiguous: bool(true), load: (lane: Expr) => masked(base, mask, lane), ahead: (columns) => [prefetch(buf, add(base, idx(columns)))] };
    },
    packRow(p, k, TN) {
      const kr = letVar(em, 'kr', mod(k, idx(KH * KW)));
      const tb = letVar(em, 'tb', mul(kr, idx(TN / runWidth(TN))));
      return { tb, vg: runWidth(TN), xrow: letVar(em, 'xrow', src.plane(p, div(k, idx(KH * KW)), div(kr, idx(KW)), mod(kr, idx(KW)))) };
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
export function tapPacking({ em, xb, geo: { H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw } }: ConvGemm, target: Target): Omit<GemmParts<Bases, TapRow>, keyof ConvGemm['common']> {
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
