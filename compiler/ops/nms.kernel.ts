// The `nms` kernel: torchvision's bitmask form (notes/kernels.md §3.1, §3.2),
// one workgroup per image, in one launch, class by class.
//
// 1. Order. Boxes not above the score threshold (or NaN) are no candidates:
//    key -inf, class after every class. A bitonic sort in the program
//    workspace puts the V candidates first, class-major: by class, then score
//    descending, then index ascending. Suppression never crosses classes, so
//    each class's run is torchvision's (stable, descending) order restricted
//    to that class, and only pairs inside a run need an IoU: the mask costs
//    Σ n_c² / 2 IoUs instead of N² / 2 (the same for one class).
// 2. Mask (phase 1). Row p has a bit for every later candidate q of its class:
//    bit q % 32 of word q / 32 is set when IoU(p, q) > threshold. 32-bit words
//    (WGSL has no 64-bit integers); a row's words run from its diagonal to its
//    class's end, the rest are never written nor read. Threads take rows in turn.
// 3. Scan (phase 2). A removed-set of one bit per candidate lives in
//    workgroup memory. Per word w of 32 candidates, one thread decides them in
//    order — a candidate not removed is kept and its row's diagonal word ORed
//    into the word — then every thread ORs the rows of the boxes just kept
//    into the later words it owns. Two barriers per 32 candidates. That is
//    torchvision's sequential `remv |= mask[i]` loop, run per class.
// 4. Output. The kept boxes in torchvision's order: the others' keys become
//    -inf, a second bitonic sort by (score descending, index ascending), and
//    the first min(kept, max_out) indices are batched_nms's list truncated.
//
// A launch has one kernel, so every phase runs in the image's workgroup: the
// mask is computed by one workgroup (one CPU thread, one GPU multiprocessor)
// rather than torchvision's grid of blocks.
//
// Parity with torchvision.ops.batched_nms (coordinate-trick path): IoU is
// computed on the class-offset boxes, box + class · (max coordinate + 1), in
// f32 and in torchvision's order of operations (the kept box's area first),
// and `ovr > thr` compares the f32 IoU with the double threshold — the same as
// comparing with the largest f32 not above it (see nmsThresholdF32). The C
// renderer keeps that rounding (-ffp-contract=off); CUDA compiles with
// --fmad=true, so there a product feeding a sum may round once and IoUs
// within an ulp of the threshold can go the other way.
//
// Workspace (Scheduled.scratch), per image: f32 [sort keys P | sorted
// offset boxes 5N (x1, y1, x2, y2, area)], i32 [box index P | class P | end
// of each candidate's class run N | mask N·ceil(N/32) words stored as i32
// bits]; P is N rounded up to a power of two (at least 2).
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import {
  add, and, barrier, bin, bitSet, bitand, bitor, cast, ctz, div, f32, for_, gid, i32, idx, if_, let_, lid, lload, lstore, lt, max, min, mod, mul,
  popcount, sel, set, shl, shr, storageBarrier, store, sub, threadStrided, u32, un, v,
} from '../kernel/build.js';
import { Emitter, Lowering, ScheduleError } from '../schedule/emit.js';
import { Scheduled } from '../schedule/pointwise.js';
import type { Target } from '../target.js';
import { floatAttr, intAttr } from './attrs.js';

const WG = 128;
/** Bits per mask word. */
const BITS = 32;

/** The largest f32 not above t: for an f32 x, x > t (in double) exactly when x > this. */
export function nmsThresholdF32(t: number): number {
  const f = Math.fround(t);
  if (f <= t || !Number.isFinite(t)) return f;
  const buf = new Float32Array([f]);
  const bits = new Int32Array(buf.buffer);
  bits[0] += f > 0 ? -1 : 1;
  return buf[0];
}

// std::max and std::min, as torchvision's CPU nms_kernel takes them: a select,
// where the IR's max/min are fmaxf/fminf (NaN-aware: a libm call in C, a
// helper in WGSL) and would be most of the cost of an IoU. Equal on numbers.
const stdMax = (a: Expr, b: Expr): Expr => sel(lt(a, b), b, a);
const stdMin = (a: Expr, b: Expr): Expr => sel(lt(b, a), b, a);

/** Sizes of one image's workspace (see the header). */
export function nmsLayout(N: number): { P: number; words: number; floats: number; ints: number } {
  // At least 2, so a sort stage always has a pair (an index constant is an integer).
  const P = 2 ** Math.ceil(Math.log2(Math.max(2, N)));
  const words = Math.max(1, Math.ceil(N / BITS));
  return { P, words, floats: P + 5 * N, ints: 2 * P + N + N * words };
}

/** The class key of a box that is no candidate: after every class (a candidate of this class still sorts first: its score is above -inf). */
const NO_CLASS = 2147483647;

const fv = (name: string): Expr => v(name, 'f32');
const iv = (name: string): Expr => v(name, 'i32');
const uv = (name: string): Expr => v(name, 'u32');
const I = (e: Expr): Expr => cast(e, 'i64');
const U = (e: Expr): Expr => cast(e, 'u32');
/** A one-element workgroup variable (the candidate count `vv`, the kept count `kc`...). */
const local = (name: string): Expr => lload(name, idx(0), 'i32');

/** Sort-row lets: key, class and box index of row a or b of a bitonic stage. */
type Side = 'a' | 'b';
const row = (x: 'k' | 'c' | 'o', r: Side): Expr => (x === 'k' ? fv(r === 'a' ? 'ka' : 'kb_') : x === 'c' ? iv(r === 'a' ? 'ca' : 'cb_') : iv(r === 'a' ? 'oa' : 'ob'));
/** Score descending, then index ascending: torchvision's stable descending sort. */
const scoreFirst = (a: Side, b: Side): Expr =>
  bin('or', bin('gt', row('k', a), row('k', b)), and(bin('eq', row('k', a), row('k', b)), lt(row('o', a), row('o', b))));
/** Class ascending, then scoreFirst: each class's candidates in torchvision's order, one class after another. */
const classFirst = (a: Side, b: Side): Expr =>
  bin('or', lt(row('c', a), row('c', b)), and(bin('eq', row('c', a), row('c', b)), scoreFirst(a, b)));

/**
 * The image's inputs and workspace regions (see the header), addressed for
 * workgroup `gid`: what every phase below reads and writes.
 */
class NmsWorkspace {
  /** Scratch buffers follow the graph's (Scheduled.scratch): f32, then i32. */
  readonly fS: number;
  readonly iS: number;
  constructor(
    readonly em: Emitter,
    readonly N: number,
    readonly layout: { P: number; words: number; floats: number; ints: number },
    readonly inputs: { boxes: number; scores: number; classes: number },
  ) {
    this.fS = em.bufs.length;
    this.iS = this.fS + 1;
  }
  get P(): number { return this.layout.P; }
  get NW(): number { return this.layout.words; }

  score(j: Expr): Expr { return this.em.bufLoad(this.inputs.scores, add(mul(gid, idx(this.N)), j), 'f32'); }
  cls(j: Expr): Expr { return this.em.bufLoad(this.inputs.classes, add(mul(gid, idx(this.N)), j), 'i32'); }
  coord(j: Expr, c: number): Expr { return this.em.bufLoad(this.inputs.boxes, add(mul(add(mul(gid, idx(this.N)), j), idx(4)), idx(c)), 'f32'); }

  keyAt(i: Expr): Expr { return add(mul(gid, idx(this.layout.floats)), i); }
  boxAt(p: Expr, c: number): Expr { return add(add(mul(gid, idx(this.layout.floats)), idx(this.P + c)), mul(p, idx(5))); }
  ordAt(i: Expr): Expr { return add(mul(gid, idx(this.layout.ints)), i); }
  clsAt(i: Expr): Expr { return add(add(mul(gid, idx(this.layout.ints)), idx(this.P)), i); }
  endAt(p: Expr): Expr { return add(add(mul(gid, idx(this.layout.ints)), idx(2 * this.P)), p); }
  maskAt(p: Expr, w: Expr): Expr { return add(add(mul(gid, idx(this.layout.ints)), idx(2 * this.P + this.N)), add(mul(p, idx(this.NW)), w)); }
  fget(at: Expr): Expr { return { k: 'load', buf: this.fS, idx: at, t: 'f32' }; }
  iget(at: Expr): Expr { return { k: 'load', buf: this.iS, idx: at, t: 'i32' }; }
  maskWord(p: Expr, w: Expr): Expr { return U(this.iget(this.maskAt(p, w))); }
  /** One past the last mask word of row p: its class's run ends at endp[p]. */
  rowWordEnd(p: Expr): Expr { return div(add(I(this.iget(this.endAt(p))), idx(BITS - 1)), idx(BITS)); }
  /** Sorted row p's class-offset box coordinate c (4: its area), as lets PRE x1, y1, x2, y2, a. */
  rowBox(pre: string, p: Expr): Stmt[] { return ['x1', 'y1', 'x2', 'y2', 'a'].map((n, c) => let_(`${pre}${n}`, 'f32', this.fget(this.boxAt(p, c)))); }
}

export function scheduleNms(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [bv, sv, cv] = node.inputs;
  const [B, N] = em.shape(sv);
  const thr = nmsThresholdF32(floatAttr('nms', node.attrs, 'iou_threshold'));
  // Scores are f32, the threshold a double (as in the reference): compare with the largest f32 not above it.
  const minScore = nmsThresholdF32(floatAttr('nms', node.attrs, 'score_threshold'));
  const maxOut = intAttr('nms', node.attrs, 'max_out');
  const layout = nmsLayout(N);
  checkLimits(B, N, layout, target);
  const keepBuf = em.buf(node.outputs[0], 'w'), countBuf = em.buf(node.outputs[1], 'w');
  const ws = new NmsWorkspace(em, N, layout, { boxes: em.buf(bv, 'r'), scores: em.buf(sv, 'r'), classes: em.buf(cv, 'r') });
  em.locals.push(
    { name: 'rm', t: 'u32', size: layout.words }, { name: 'kept', t: 'u32', size: layout.words }, { name: 'mx', t: 'f32', size: WG }, { name: 'cnt', t: 'i32', size: WG },
    { name: 'one', t: 'f32', size: 1 }, { name: 'vv', t: 'i32', size: 1 }, { name: 'kc', t: 'i32', size: 1 },
    { name: 'kn', t: 'i32', size: 1 }, { name: 'kb', t: 'u32', size: 1 }, { name: 'kh', t: 'i32', size: 1 },
  );

  const body: Stmt[] = [
    ...candidates(ws, minScore),
    // 1. Class-major order.
    sortRows(ws, true, classFirst),
    ...offsetBoxes(ws),
    ...maskRows(ws, thr),
    scanWords(ws),
    ...keptOutput(ws, maxOut, keepBuf, countBuf),
  ];

  return {
    kernel: {
      bufs: [...em.bufs.map((b) => ({ dtype: b.dtype, access: b.access })), { dtype: 'f32', access: 'rw' }, { dtype: 'i32', access: 'rw' }],
      nargs: 0, workgroupSize: WG, locals: em.locals, regs: em.regs, body,
    },
    bufValues: em.bufs.map((b) => b.value),
    scratch: [{ dtype: 'f32', bytes: 4 * B * layout.floats }, { dtype: 'i32', bytes: 4 * B * layout.ints }],
    args: [],
    grid: B,
  };
}

/** The removed-set must fit workgroup memory and the workspace one buffer: otherwise a clear error. */
function checkLimits(B: number, N: number, layout: { words: number; ints: number }, target: Target): void {
  const fixedLocal = 8 * WG + 24;
  if (8 * layout.words + fixedLocal > target.maxWorkgroupStorageBytes) {
    throw new ScheduleError(`nms: ${N} boxes per image is more than this kernel's ${Math.floor((target.maxWorkgroupStorageBytes - fixedLocal) / 8) * BITS} on ${target.name} (its removed-set and kept-set live in workgroup memory); select fewer candidates first (topk)`);
  }
  // Buffer offsets are 32-bit on WebGPU (render/wgsl.ts) and a binding holds at most 2^31 bytes.
  const maskBytes = 4 * B * layout.ints;
  if (maskBytes > 2 ** 31 - 1) {
    throw new ScheduleError(`nms: the suppression mask of ${B} images of ${N} boxes needs ${(maskBytes / 2 ** 20).toFixed(0)} MiB of workspace, more than one buffer may hold (2 GiB); select fewer candidates first (topk) or run fewer images per call`);
  }
}

/**
 * 0. The largest coordinate of the image (torchvision's boxes.max()) plus one, the
 *    class offset unit; sort rows; the candidate count; an empty removed-set.
 */
function candidates(ws: NmsWorkspace, minScore: number): Stmt[] {
  const { em, N, P, NW, fS, iS } = ws;
  const bb = ws.inputs.boxes;
  return [
    let_('m', 'f32', f32(-Infinity)),
    threadStrided('e', idx(4 * N), WG, [set('m', max(fv('m'), em.bufLoad(bb, add(mul(gid, idx(4 * N)), v('e')), 'f32')))]),
    lstore('mx', lid, fv('m')),
    let_('nv', 'i32', i32(0)),
    threadStrided('i', idx(P), WG, [
      let_('key', 'f32', f32(-Infinity)),
      let_('ck', 'i32', i32(NO_CLASS)),
      if_(lt(v('i'), idx(N)), [
        let_('s', 'f32', ws.score(v('i'))),
        if_(bin('gt', fv('s'), f32(minScore)), [set('key', fv('s')), set('ck', ws.cls(v('i'))), set('nv', add(iv('nv'), i32(1)))]),
      ]),
      store(fS, ws.keyAt(v('i')), fv('key')),
      store(iS, ws.clsAt(v('i')), iv('ck')),
      store(iS, ws.ordAt(v('i')), cast(v('i'), 'i32')),
    ]),
    lstore('cnt', lid, iv('nv')),
    threadStrided('w', idx(NW), WG, [lstore('rm', v('w'), u32(0)), lstore('kept', v('w'), u32(0))]),
    storageBarrier,
    if_(bin('eq', lid, idx(0)), [
      let_('mm', 'f32', f32(-Infinity)), let_('tot', 'i32', i32(0)),
      for_('t', idx(0), idx(WG), [set('mm', max(fv('mm'), lload('mx', v('t'), 'f32'))), set('tot', add(iv('tot'), lload('cnt', v('t'), 'i32')))]),
      lstore('one', idx(0), add(fv('mm'), f32(1))),
      lstore('vv', idx(0), iv('tot')),
      lstore('kc', idx(0), i32(0)),
    ]),
    barrier,
  ];
}

/**
 * Bitonic sort of the workspace's (key, class, index) rows: stage (kk, jj)
 * compares i and i + j for j = 2^(kk - jj), each block of k = 2^(kk + 1)
 * rows in the direction bit kk + 1 of i gives (all "first before" at the
 * last stage, k = P). `before(a, b)` is a total order on the rows' lets
 * (k, c, o) + a|b.
 */
function sortRows(ws: NmsWorkspace, withClass: boolean, before: (a: Side, b: Side) => Expr): Stmt {
  const { P, fS, iS } = ws;
  return for_('kk', idx(0), idx(Math.log2(P)), [
    for_('jj', idx(0), add(v('kk'), idx(1)), [
      threadStrided('t', idx(P / 2), WG, [
        let_('sh', 'u32', U(sub(v('kk'), v('jj')))),
        let_('tu', 'u32', U(v('t'))),
        let_('lo', 'u32', bitor(shl(shr(uv('tu'), uv('sh')), add(uv('sh'), u32(1))), bitand(uv('tu'), sub(shl(u32(1), uv('sh')), u32(1))))),
        let_('ia', 'i64', I(uv('lo'))),
        let_('ib', 'i64', I(bitor(uv('lo'), shl(u32(1), uv('sh'))))),
        let_('ka', 'f32', ws.fget(ws.keyAt(v('ia')))), let_('kb_', 'f32', ws.fget(ws.keyAt(v('ib')))),
        let_('oa', 'i32', ws.iget(ws.ordAt(v('ia')))), let_('ob', 'i32', ws.iget(ws.ordAt(v('ib')))),
        ...(withClass ? [let_('ca', 'i32', ws.iget(ws.clsAt(v('ia')))), let_('cb_', 'i32', ws.iget(ws.clsAt(v('ib'))))] : []),
        let_('bFirst', 'bool', before('b', 'a')),
        let_('up', 'bool', un('not', bitSet(uv('lo'), U(add(v('kk'), idx(1)))))),
        if_(bin('eq', v('up', 'bool'), v('bFirst', 'bool')), [
          store(fS, ws.keyAt(v('ia')), fv('kb_')), store(fS, ws.keyAt(v('ib')), fv('ka')),
          store(iS, ws.ordAt(v('ia')), iv('ob')), store(iS, ws.ordAt(v('ib')), iv('oa')),
          ...(withClass ? [store(iS, ws.clsAt(v('ia')), iv('cb_')), store(iS, ws.clsAt(v('ib')), iv('ca'))] : []),
        ]),
      ]),
      storageBarrier,
    ]),
  ]);
}

/**
 * The candidates' class-offset boxes and areas (torchvision: boxes + offsets, then
 * (x2 - x1) * (y2 - y1)) in sorted order; one thread marks where each class's run ends.
 */
function offsetBoxes(ws: NmsWorkspace): Stmt[] {
  const { fS, iS } = ws;
  return [
    threadStrided('p', I(local('vv')), WG, [
      let_('bi', 'i64', I(ws.iget(ws.ordAt(v('p'))))),
      let_('off', 'f32', mul(cast(ws.iget(ws.clsAt(v('p'))), 'f32'), lload('one', idx(0), 'f32'))),
      ...['x1', 'y1', 'x2', 'y2'].map((n, c) => let_(`g${n}`, 'f32', add(ws.coord(v('bi'), c), fv('off')))),
      ...['x1', 'y1', 'x2', 'y2'].map((n, c) => store(fS, ws.boxAt(v('p'), c), fv(`g${n}`))),
      store(fS, ws.boxAt(v('p'), 4), mul(sub(fv('gx2'), fv('gx1')), sub(fv('gy2'), fv('gy1')))),
    ]),
    if_(bin('eq', lid, idx(0)), [
      let_('nv0', 'i64', I(local('vv'))),
      let_('runEnd', 'i32', cast(v('nv0'), 'i32')),
      for_('x', idx(0), v('nv0'), [
        let_('p', 'i64', sub(sub(v('nv0'), idx(1)), v('x'))),
        if_(and(lt(add(v('p'), idx(1)), v('nv0')), bin('ne', ws.iget(ws.clsAt(add(v('p'), idx(1)))), ws.iget(ws.clsAt(v('p'))))), [set('runEnd', cast(add(v('p'), idx(1)), 'i32'))]),
        store(iS, ws.endAt(v('p')), iv('runEnd')),
      ]),
    ]),
    storageBarrier,
  ];
}

/** 2. The mask: row p (a candidate), bits for the later candidates of its class, in words from its diagonal. */
function maskRows(ws: NmsWorkspace, thr: number): Stmt[] {
  return [
    threadStrided('p', I(local('vv')), WG, [
      ...ws.rowBox('r', v('p')),
      let_('pe', 'i64', I(ws.iget(ws.endAt(v('p'))))),
      let_('pwe', 'i64', div(add(v('pe'), idx(BITS - 1)), idx(BITS))),
      for_('w', div(v('p'), idx(BITS)), v('pwe'), [
        let_('word', 'u32', u32(0)),
        let_('w0', 'i64', mul(v('w'), idx(BITS))),
        for_('b', max(idx(0), sub(add(v('p'), idx(1)), v('w0'))), min(idx(BITS), sub(v('pe'), v('w0'))), [
          let_('q', 'i64', add(v('w0'), v('b'))),
          ...ws.rowBox('c', v('q')),
          // torchvision's nms_kernel: w, h clamped at 0; ovr = inter / (area_i + area_j - inter).
          let_('iw', 'f32', stdMax(f32(0), sub(stdMin(fv('rx2'), fv('cx2')), stdMax(fv('rx1'), fv('cx1'))))),
          let_('ih', 'f32', stdMax(f32(0), sub(stdMin(fv('ry2'), fv('cy2')), stdMax(fv('ry1'), fv('cy1'))))),
          let_('inter', 'f32', mul(fv('iw'), fv('ih'))),
          let_('ovr', 'f32', div(fv('inter'), sub(add(fv('ra'), fv('ca')), fv('inter')))),
          if_(bin('gt', fv('ovr'), f32(thr)), [set('word', bitor(uv('word'), shl(u32(1), U(v('b')))))]),
        ]),
        store(ws.iS, ws.maskAt(v('p'), v('w')), cast(uv('word'), 'i32')),
      ]),
    ]),
    storageBarrier,
  ];
}

/**
 * 3. The scan, 32 candidates at a time: one thread decides them, then the threads
 *    OR the kept rows into the later words (up to the furthest class run end).
 */
function scanWords(ws: NmsWorkspace): Stmt {
  return for_('w', idx(0), idx(ws.NW), [
    if_(lt(mul(v('w'), idx(BITS)), I(local('vv'))), [
      if_(bin('eq', lid, idx(0)), [
        let_('rem', 'u32', lload('rm', v('w'), 'u32')),
        let_('kw', 'u32', u32(0)),
        let_('k', 'i32', local('kc')),
        let_('hi', 'i64', add(v('w'), idx(1))),
        for_('b', idx(0), idx(BITS), [
          let_('p', 'i64', add(mul(v('w'), idx(BITS)), v('b'))),
          if_(and(lt(v('p'), I(local('vv'))), un('not', bitSet(uv('rem'), U(v('b'))))), [
            set('kw', bitor(uv('kw'), shl(u32(1), U(v('b'))))),
            set('rem', bitor(uv('rem'), ws.maskWord(v('p'), v('w')))),
            set('hi', max(v('hi'), ws.rowWordEnd(v('p')))),
            set('k', add(iv('k'), i32(1))),
          ]),
        ]),
        lstore('kb', idx(0), uv('kw')),
        lstore('kept', v('w'), uv('kw')),
        lstore('kn', idx(0), iv('k')),
        lstore('kh', idx(0), cast(v('hi'), 'i32')),
      ]),
      barrier,
      if_(bin('eq', lid, idx(0)), [lstore('kc', idx(0), local('kn'))]),
      threadStrided('x', sub(sub(I(local('kh')), v('w')), idx(1)), WG, [
        let_('w2', 'i64', add(add(v('w'), idx(1)), v('x'))),
        let_('acc', 'u32', lload('rm', v('w2'), 'u32')),
        let_('bits', 'u32', lload('kb', idx(0), 'u32')),
        // The bound is taken before the loop changes `bits` (a rendered for re-tests it).
        let_('nk', 'i64', I(popcount(uv('bits')))),
        for_('r', idx(0), v('nk'), [
          let_('pr', 'i64', add(mul(v('w'), idx(BITS)), I(ctz(uv('bits'))))),
          set('bits', bitand(uv('bits'), sub(uv('bits'), u32(1)))),
          // Row pr has words up to its class's end only.
          if_(lt(v('w2'), ws.rowWordEnd(v('pr'))), [set('acc', bitor(uv('acc'), ws.maskWord(v('pr'), v('w2'))))]),
        ]),
        lstore('rm', v('w2'), uv('acc')),
      ]),
      barrier,
    ]),
  ]);
}

/**
 * 4. The kept boxes in torchvision's order (score descending, index ascending): the others'
 *    keys become -inf, a second sort, and the first min(kept, max_out) rows are the output.
 */
function keptOutput(ws: NmsWorkspace, maxOut: number, keepBuf: number, countBuf: number): Stmt[] {
  return [
    threadStrided('p', I(local('vv')), WG, [
      if_(un('not', bitSet(lload('kept', div(v('p'), idx(BITS)), 'u32'), U(mod(v('p'), idx(BITS))))), [store(ws.fS, ws.keyAt(v('p')), f32(-Infinity))]),
    ]),
    storageBarrier,
    sortRows(ws, false, scoreFirst),
    let_('nout', 'i64', min(I(local('kc')), idx(maxOut))),
    threadStrided('r', idx(maxOut), WG, [
      store(keepBuf, add(mul(gid, idx(maxOut)), v('r')), sel(lt(v('r'), v('nout')), ws.iget(ws.ordAt(v('r'))), i32(-1))),
    ]),
    if_(bin('eq', lid, idx(0)), [store(countBuf, gid, cast(v('nout'), 'i32'))]),
  ];
}
