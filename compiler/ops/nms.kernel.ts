// The `nms` kernel: torchvision's bitmask form (notes/kernels.md §3.1, §3.2),
// one workgroup per image, in one launch, class by class.
//
// 0. Candidates. Boxes above the score threshold (not NaN) are the V
//    candidates; each thread counts those of its contiguous share of the N
//    entries, a prefix over the threads places them, so rows 0..V-1 hold the
//    candidates in index order and every later phase works on V rows, never
//    on the padded capacity N.
// 1. Order. A merge sort of the V rows (sortRows), class-major: by class,
//    then score descending, then index ascending. Suppression never crosses
//    classes, so each class's run is torchvision's (stable, descending)
//    order restricted to that class.
// 2. Scan, 32 candidates (one mask word) at a time, with the mask computed
//    as it is needed: torchvision builds every row of the n² mask, but the
//    sequential `remv |= mask[i]` loop only reads the rows of kept boxes,
//    and only the bits of candidates the scan reaches. Per word, each
//    candidate asks the boxes kept so far of its class (a tail of the kept
//    list) whether one suppresses it, stopping at the first that does (a
//    column of the mask, pulled when the scan reaches it, so nothing is
//    computed for candidates after the early stop); one not suppressed takes
//    its diagonal word (IoU with the later candidates of the word and
//    class); one thread decides the 32 in order (not removed: kept, its
//    diagonal word ORed into the word's removed bits, appended to the kept
//    list). Two barriers per 32 candidates.
//    Early stop: the output is the first max_out kept boxes in score order.
//    The deciding thread keeps the best max_out kept boxes so far (a heap
//    whose root ranks last); once max_out kept boxes rank before a candidate,
//    it can never be output, nor can the later candidates of its class (they
//    rank after it), nor can they suppress another class: the scan marks the
//    rest of the class's run dead and skips it. With one class that ends the
//    scan at the max_out-th kept box; with many, a class whose boxes all rank
//    after max_out kept ones costs one look at its first candidate.
// 3. Output. The kept boxes in torchvision's order: a prefix over the kept
//    words places them in a list of K rows (class-major); unless it is
//    already in (score descending, index ascending) order — always so with
//    one class — the same merge sort orders the K rows; the first
//    min(K, max_out) indices are batched_nms's list truncated. The early stop
//    only drops boxes after max_out kept ones, so the first max_out are the
//    same, and K ≥ max_out whenever it dropped any.
//
// A launch has one kernel, so every phase runs in the image's workgroup (one
// CPU thread, one GPU multiprocessor) rather than torchvision's grid of blocks.
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
// Workspace (Scheduled.scratch), per image: f32 [sort keys 2N | sorted
// offset boxes 5N (x1, y1, x2, y2, area) | output keys 2N | heap keys
// max_out], i32 [box index 2N | class 2N | end of each candidate's class run
// N | output box index 2N | kept list N | heap box indices max_out]; the
// sorted rows use twice N, the two halves a merge pass reads and writes. P, N
// rounded up to a power of two, only sizes the sort's loops.
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import {
  add, and, barrier, bin, bitSet, bool, bitand, bitor, cast, div, f32, for_, gid, i32, idx, if_, let_, lid, lload, lstore, lt, max, min, mod, mul,
  popcount, sel, set, shl, storageBarrier, store, sub, threadStrided, u32, un, v,
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
// torch's max(): a NaN wins (fmaxf, the IR's max, would drop it). A NaN coordinate makes
// batched_nms's class offset NaN, every IoU NaN, and nothing suppressed; so here too.
const torchMax = (m: Expr, x: Expr): Expr => sel(bin('or', un('isnan', x), bin('gt', x, m)), x, m);

/** Sizes of one image's workspace (see the header). */
export function nmsLayout(N: number, maxOut: number): { P: number; words: number; floats: number; ints: number; boxes: number; outKeys: number; heap: { keys: number; ords: number } } {
  // At least 2, so a sort stage always has a pair (an index constant is an integer).
  const P = 2 ** Math.ceil(Math.log2(Math.max(2, N)));
  const words = Math.max(1, Math.ceil(N / BITS));
  const n = Math.max(1, N);
  return { P, words, floats: 9 * n + maxOut, ints: 8 * n + maxOut, boxes: 2 * n, outKeys: 7 * n, heap: { keys: 9 * n, ords: 8 * n } };
}

const fv = (name: string): Expr => v(name, 'f32');
const iv = (name: string): Expr => v(name, 'i32');
const uv = (name: string): Expr => v(name, 'u32');
const I = (e: Expr): Expr => cast(e, 'i64');
const U = (e: Expr): Expr => cast(e, 'u32');
/** A one-element workgroup variable (the candidate count `vv`, the kept count `nk`...). */
const local = (name: string): Expr => lload(name, idx(0), 'i32');
/** Bit b of a u32 word, b an i64 in 0..31. */
const bit = (b: Expr): Expr => shl(u32(1), U(b));

/** Sort-row lets: key, class and box index of row a or b of a compare-exchange. */
type Side = 'a' | 'b';
const row = (x: 'k' | 'c' | 'o', r: Side): Expr => (x === 'k' ? fv(r === 'a' ? 'ka' : 'kb_') : x === 'c' ? iv(r === 'a' ? 'ca' : 'cb_') : iv(r === 'a' ? 'oa' : 'ob'));
// The orders combine their comparisons with bitwise & and | on 0/1 words, not && and ||:
// every comparison is evaluated, so the merge's choice between two rows is a select
// rather than a chain of data-dependent branches (on the CPU, mispredicted about half the time).
const bits01 = (c: Expr): Expr => U(c);
/** Score descending, then index ascending (0/1 u32): torchvision's stable descending sort. */
const scoreFirstBits = (a: Side, b: Side): Expr =>
  bitor(bits01(bin('gt', row('k', a), row('k', b))), bitand(bits01(bin('eq', row('k', a), row('k', b))), bits01(lt(row('o', a), row('o', b)))));
const scoreFirst = (a: Side, b: Side): Expr => bin('ne', scoreFirstBits(a, b), u32(0));
/** Class ascending, then scoreFirst: each class's candidates in torchvision's order, one class after another. */
const classFirst = (a: Side, b: Side): Expr =>
  bin('ne', bitor(bits01(lt(row('c', a), row('c', b))), bitand(bits01(bin('eq', row('c', a), row('c', b))), scoreFirstBits(a, b))), u32(0));

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
    readonly layout: ReturnType<typeof nmsLayout>,
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

  private f(region: number, i: Expr): Expr { return add(add(mul(gid, idx(this.layout.floats)), idx(region * this.N)), i); }
  private i(region: number, i: Expr): Expr { return add(add(mul(gid, idx(this.layout.ints)), idx(region * this.N)), i); }
  // Sorted rows live in half 0 of a double buffer (the sort's passes alternate halves).
  keyAt(i: Expr, half: Expr = idx(0)): Expr { return this.f(0, add(mul(half, idx(this.N)), i)); }
  boxAt(p: Expr, c: number): Expr { return add(add(mul(gid, idx(this.layout.floats)), idx(this.layout.boxes)), add(mul(p, idx(5)), idx(c))); }
  outKeyAt(i: Expr, half: Expr = idx(0)): Expr { return add(add(mul(gid, idx(this.layout.floats)), idx(this.layout.outKeys)), add(mul(half, idx(this.N)), i)); }
  ordAt(i: Expr, half: Expr = idx(0)): Expr { return this.i(0, add(mul(half, idx(this.N)), i)); }
  clsAt(i: Expr, half: Expr = idx(0)): Expr { return this.i(2, add(mul(half, idx(this.N)), i)); }
  endAt(p: Expr): Expr { return this.i(4, p); }
  /** The rows kept so far, in order. */
  keptAt(i: Expr): Expr { return this.i(7, i); }
  heapKeyAt(i: Expr): Expr { return add(add(mul(gid, idx(this.layout.floats)), idx(this.layout.heap.keys)), i); }
  heapOrdAt(i: Expr): Expr { return add(add(mul(gid, idx(this.layout.ints)), idx(this.layout.heap.ords)), i); }
  outOrdAt(i: Expr, half: Expr = idx(0)): Expr { return this.i(5, add(mul(half, idx(this.N)), i)); }
  fget(at: Expr): Expr { return { k: 'load', buf: this.fS, idx: at, t: 'f32' }; }
  iget(at: Expr): Expr { return { k: 'load', buf: this.iS, idx: at, t: 'i32' }; }
  /** One past the last candidate of row p's class run. */
  rowEnd(p: Expr): Expr { return I(this.iget(this.endAt(p))); }
  /** Sorted row p's class-offset box coordinate c (4: its area), as lets PRE x1, y1, x2, y2, a. */
  rowBox(pre: string, p: Expr): Stmt[] { return ['x1', 'y1', 'x2', 'y2', 'a'].map((n, c) => let_(`${pre}${n}`, 'f32', this.fget(this.boxAt(p, c)))); }
}

/** The rows a sort orders: key, box index and (for the class-major order) class, each an address of row i in half 0 or 1. */
interface SortRows { key: (i: Expr, half: Expr) => Expr; ord: (i: Expr, half: Expr) => Expr; cls?: (i: Expr, half: Expr) => Expr }

export function scheduleNms(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [bv, sv, cv] = node.inputs;
  const [B, N] = em.shape(sv);
  const thr = nmsThresholdF32(floatAttr('nms', node.attrs, 'iou_threshold'));
  // Scores are f32, the threshold a double (as in the reference): compare with the largest f32 not above it.
  const minScore = nmsThresholdF32(floatAttr('nms', node.attrs, 'score_threshold'));
  const maxOut = intAttr('nms', node.attrs, 'max_out');
  const layout = nmsLayout(N, maxOut);
  // Threads that share a sort pass: a GPU's whole workgroup; one where threads are a loop (CPU) or coroutines (a software adapter).
  const chunks = target.name === 'cpu' || target.software ? 1 : WG;
  checkLimits(B, N, layout, target);
  const keepBuf = em.buf(node.outputs[0], 'w'), countBuf = em.buf(node.outputs[1], 'w');
  const ws = new NmsWorkspace(em, N, layout, { boxes: em.buf(bv, 'r'), scores: em.buf(sv, 'r'), classes: em.buf(cv, 'r') });
  em.locals.push(
    // Kept bits per word and their prefix (the output's places); per candidate of the word being
    // scanned, whether it is removed (rm) and its diagonal word (dg).
    { name: 'kept', t: 'u32', size: layout.words }, { name: 'pre', t: 'u32', size: layout.words },
    { name: 'rm', t: 'u32', size: BITS }, { name: 'dg', t: 'u32', size: BITS },
    { name: 'mx', t: 'f32', size: WG }, { name: 'cnt', t: 'i32', size: WG },
    { name: 'one', t: 'f32', size: 1 }, { name: 'vv', t: 'i32', size: 1 }, { name: 'nk', t: 'i32', size: 1 },
    { name: 'kl', t: 'i32', size: 1 }, { name: 'c0', t: 'i32', size: 1 }, { name: 'ce', t: 'i32', size: 1 },
    { name: 'hs', t: 'i32', size: 1 }, { name: 'dead', t: 'i32', size: 1 },
    { name: 'rk', t: 'f32', size: 1 }, { name: 'ro', t: 'i32', size: 1 },
    { name: 'uns', t: 'i32', size: 1 },
  );

  const body: Stmt[] = [
    ...candidates(ws, minScore),
    // 1. Class-major order.
    ...sortRows(ws, { key: (i, h) => ws.keyAt(i, h), ord: (i, h) => ws.ordAt(i, h), cls: (i, h) => ws.clsAt(i, h) }, 'vv', classFirst, chunks),
    ...offsetBoxes(ws),
    scanWords(ws, thr, maxOut),
    ...keptOutput(ws, maxOut, keepBuf, countBuf, chunks),
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

/** The kept-set and its prefix must fit workgroup memory and the workspace one buffer: otherwise a clear error. */
function checkLimits(B: number, N: number, layout: { words: number; ints: number; floats: number }, target: Target): void {
  const fixedLocal = 8 * WG + 8 * BITS + 4 * 11;
  if (8 * layout.words + fixedLocal > target.maxWorkgroupStorageBytes) {
    throw new ScheduleError(`nms: ${N} boxes per image is more than this kernel's ${Math.floor((target.maxWorkgroupStorageBytes - fixedLocal) / 8) * BITS} on ${target.name} (its kept-set and the kept words' prefix live in workgroup memory); select fewer candidates first (topk)`);
  }
  // Buffer offsets are 32-bit on WebGPU (render/wgsl.ts) and a binding holds at most 2^31 bytes.
  const bytes = 4 * B * Math.max(layout.ints, layout.floats);
  if (bytes > 2 ** 31 - 1) {
    throw new ScheduleError(`nms: the workspace of ${B} images of ${N} boxes needs ${(bytes / 2 ** 20).toFixed(0)} MiB, more than one buffer may hold (2 GiB); select fewer candidates first (topk) or run fewer images per call`);
  }
}

/**
 * 0. The largest coordinate of the image (torchvision's boxes.max()) plus one, the
 *    class offset unit; the candidates, compacted into rows 0..V-1 in index
 *    order (thread t takes entries [t·share, (t+1)·share)); empty removed- and kept-sets.
 */
function candidates(ws: NmsWorkspace, minScore: number): Stmt[] {
  const { em, N, NW, fS, iS } = ws;
  const bb = ws.inputs.boxes;
  const share = Math.ceil(N / WG);
  const mine = (body: Stmt[]): Stmt =>
    for_('i', min(idx(N), mul(lid, idx(share))), min(idx(N), mul(add(lid, idx(1)), idx(share))), [
      let_('s', 'f32', ws.score(v('i'))),
      if_(bin('gt', fv('s'), f32(minScore)), body),
    ]);
  return [
    let_('m', 'f32', f32(-Infinity)),
    threadStrided('e', idx(4 * N), WG, [set('m', torchMax(fv('m'), em.bufLoad(bb, add(mul(gid, idx(4 * N)), v('e')), 'f32')))]),
    lstore('mx', lid, fv('m')),
    let_('nv', 'i32', i32(0)),
    mine([set('nv', add(iv('nv'), i32(1)))]),
    lstore('cnt', lid, iv('nv')),
    threadStrided('w', idx(NW), WG, [lstore('kept', v('w'), u32(0))]),
    barrier,
    if_(bin('eq', lid, idx(0)), [
      let_('mm', 'f32', f32(-Infinity)), let_('tot', 'i32', i32(0)),
      for_('t', idx(0), idx(WG), [
        set('mm', torchMax(fv('mm'), lload('mx', v('t'), 'f32'))),
        let_('ct', 'i32', lload('cnt', v('t'), 'i32')),
        lstore('cnt', v('t'), iv('tot')),
        set('tot', add(iv('tot'), iv('ct'))),
      ]),
      lstore('one', idx(0), add(fv('mm'), f32(1))),
      lstore('vv', idx(0), iv('tot')),
      lstore('hs', idx(0), i32(0)), lstore('dead', idx(0), i32(0)),
      lstore('kl', idx(0), i32(0)), lstore('c0', idx(0), i32(0)), lstore('ce', idx(0), i32(0)),
    ]),
    barrier,
    let_('at', 'i64', I(lload('cnt', lid, 'i32'))),
    mine([
      store(fS, ws.keyAt(v('at')), fv('s')),
      store(iS, ws.clsAt(v('at')), ws.cls(v('i'))),
      store(iS, ws.ordAt(v('at')), cast(v('i'), 'i32')),
      set('at', add(v('at'), idx(1))),
    ]),
    storageBarrier,
  ];
}

/**
 * Stable bottom-up merge sort of rows 0..n-1 (n the workgroup variable
 * `count`) by `before`, a total order, so the result is the sorted order
 * whatever the stability. Pass kk merges runs of 2^kk rows from one half of
 * the rows' double buffer into the other: ceil(log2 n) passes, N log N work
 * (two bitonic sorts of N log² N / 4 compare-exchanges each were 95% of this
 * kernel's CPU time at N = 5000); the sorted rows end in half 0. `chunks`
 * threads each merge a contiguous share of the output, finding where it
 * starts in its two runs by a binary search (merge path): all the threads of
 * a GPU workgroup, one on the CPU, whose threads are a loop anyway.
 */
function sortRows(ws: NmsWorkspace, rows: SortRows, count: string, before: (a: Side, b: Side) => Expr, chunks: number): Stmt[] {
  const { P, fS, iS } = ws;
  const LP = Math.log2(P);
  const n = I(local(count));
  const h = (x: Expr): Expr => mod(x, idx(2));
  // Head rows of the left run (side a) and the right run (side b), read from half `src`.
  const heads = (src: Expr, ia: Expr, ib: Expr): Stmt[] => [
    let_('ka', 'f32', ws.fget(rows.key(ia, src))), let_('kb_', 'f32', ws.fget(rows.key(ib, src))),
    let_('oa', 'i32', ws.iget(rows.ord(ia, src))), let_('ob', 'i32', ws.iget(rows.ord(ib, src))),
    ...(rows.cls ? [let_('ca', 'i32', ws.iget(rows.cls(ia, src))), let_('cb_', 'i32', ws.iget(rows.cls(ib, src)))] : []),
  ];
  const wd = cast(shl(u32(1), U(v('kk'))), 'i64');
  const src = h(v('kk')), dst = h(add(v('kk'), idx(1)));
  return [
    for_('kk', idx(0), idx(LP), [
      if_(lt(shl(u32(1), U(v('kk'))), U(local(count))), [
        if_(lt(lid, idx(chunks)), [
          let_('share', 'i64', div(add(n, idx(chunks - 1)), idx(chunks))),
          let_('o0', 'i64', min(n, mul(lid, v('share')))),
          let_('o1', 'i64', min(n, add(v('o0'), v('share')))),
          // The block (two runs) holding o0, and how many of its first o0 - bs outputs come from the left run.
          let_('bs', 'i64', mul(div(v('o0'), mul(wd, idx(2))), mul(wd, idx(2)))),
          let_('le', 'i64', min(n, add(v('bs'), wd))),
          let_('re', 'i64', min(n, add(v('bs'), mul(wd, idx(2))))),
          let_('kq', 'i64', sub(v('o0'), v('bs'))),
          let_('lo', 'i64', max(idx(0), sub(v('kq'), sub(v('re'), v('le'))))),
          let_('hi', 'i64', min(v('kq'), sub(v('le'), v('bs')))),
          for_('step', idx(0), idx(LP + 1), [
            if_(lt(v('lo'), v('hi')), [
              let_('mid', 'i64', div(add(v('lo'), v('hi')), idx(2))),
              ...heads(src, add(v('bs'), v('mid')), add(v('le'), sub(sub(v('kq'), v('mid')), idx(1)))),
              // Left row mid comes before right row kq - mid - 1 (ties go left): it is among the first kq.
              if_(un('not', before('b', 'a')), [set('lo', add(v('mid'), idx(1)))], [set('hi', v('mid'))]),
            ]),
          ]),
          let_('i', 'i64', add(v('bs'), v('lo'))),
          let_('j', 'i64', add(v('le'), sub(v('kq'), v('lo')))),
          for_('o', v('o0'), v('o1'), [
            // The next block starts where this one's right run ends.
            if_(bin('eq', v('o'), v('re')), [
              set('bs', v('re')), set('le', min(n, add(v('bs'), wd))), set('re', min(n, add(v('bs'), mul(wd, idx(2))))),
              set('i', v('bs')), set('j', v('le')),
            ]),
            // Exhausted runs read a row of the block (clamped) that the choice then ignores.
            ...heads(src, min(v('i'), sub(v('le'), idx(1))), max(v('bs'), min(v('j'), sub(v('re'), idx(1))))),
            let_('takeA', 'bool', and(lt(v('i'), v('le')), bin('or', un('not', lt(v('j'), v('re'))), un('not', before('b', 'a'))))),
            store(fS, rows.key(v('o'), dst), sel(v('takeA', 'bool'), fv('ka'), fv('kb_'))),
            store(iS, rows.ord(v('o'), dst), sel(v('takeA', 'bool'), iv('oa'), iv('ob'))),
            ...(rows.cls ? [store(iS, rows.cls(v('o'), dst), sel(v('takeA', 'bool'), iv('ca'), iv('cb_')))] : []),
            set('i', add(v('i'), sel(v('takeA', 'bool'), idx(1), idx(0)))),
            set('j', add(v('j'), sel(v('takeA', 'bool'), idx(0), idx(1)))),
          ]),
        ]),
        storageBarrier,
      ]),
    ]),
    // An odd number of passes left the rows in half 1: copy them back.
    let_('passes', 'i64', idx(0)),
    for_('kk', idx(0), idx(LP), [if_(lt(shl(u32(1), U(v('kk'))), U(local(count))), [set('passes', add(v('passes'), idx(1)))])]),
    if_(bin('eq', h(v('passes')), idx(1)), [
      threadStrided('r', n, WG, [
        store(fS, rows.key(v('r'), idx(0)), ws.fget(rows.key(v('r'), idx(1)))),
        store(iS, rows.ord(v('r'), idx(0)), ws.iget(rows.ord(v('r'), idx(1)))),
        ...(rows.cls ? [store(iS, rows.cls(v('r'), idx(0)), ws.iget(rows.cls(v('r'), idx(1))))] : []),
      ]),
    ]),
    storageBarrier,
  ];
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

/** Lets iw, ih, inter, ovr: torchvision's nms_kernel IoU of the boxes in lets r* (the kept one, i) and c* (j): w, h clamped at 0; ovr = inter / (area_i + area_j - inter). */
function iou(r: string, c: string): Stmt[] {
  const x = (pre: string, n: string): Expr => fv(`${pre}${n}`);
  return [
    let_('iw', 'f32', stdMax(f32(0), sub(stdMin(x(r, 'x2'), x(c, 'x2')), stdMax(x(r, 'x1'), x(c, 'x1'))))),
    let_('ih', 'f32', stdMax(f32(0), sub(stdMin(x(r, 'y2'), x(c, 'y2')), stdMax(x(r, 'y1'), x(c, 'y1'))))),
    let_('inter', 'f32', mul(fv('iw'), fv('ih'))),
    let_('ovr', 'f32', div(fv('inter'), sub(add(x(r, 'a'), x(c, 'a')), fv('inter')))),
  ];
}

/**
 * The kept box in lets ka, oa into the best (at most) max_out kept boxes so far, `hsz` of
 * them, so the scan can tell when max_out kept boxes rank before a candidate. Until there
 * are max_out they are only appended (with max_out above the kept count, all this costs);
 * the max_out-th makes them a binary heap whose root is the box that ranks last
 * (scoreFirst); a later kept box ranks before the root and replaces it, sifted down.
 */
function heapPush(ws: NmsWorkspace, maxOut: number): Stmt[] {
  const { fS, iS } = ws;
  const hk = (r: Expr): Expr => ws.fget(ws.heapKeyAt(r)), ho = (r: Expr): Expr => ws.iget(ws.heapOrdAt(r));
  const put = (r: Expr, k: Expr, o: Expr): Stmt[] => [store(fS, ws.heapKeyAt(r), k), store(iS, ws.heapOrdAt(r), o)];
  /** Row (k, o) ranks after row (k2, o2). */
  const after = (k: Expr, o: Expr, k2: Expr, o2: Expr): Expr => bin('or', lt(k, k2), and(bin('eq', k, k2), bin('gt', o, o2)));
  // The box in lets K, O placed at heap row `at`, moved down past children that rank after it.
  const siftDown = (at: Expr, K: string, O: string): Stmt[] => [
    let_('hp', 'i64', at), let_('go', 'bool', bool(true)),
    for_('down', idx(0), idx(Math.ceil(Math.log2(maxOut + 1))), [
      let_('c1', 'i64', add(mul(v('hp'), idx(2)), idx(1))),
      if_(and(v('go', 'bool'), lt(v('c1'), idx(maxOut))), [
        let_('c', 'i64', v('c1')),
        if_(lt(add(v('c1'), idx(1)), idx(maxOut)), [
          if_(after(hk(add(v('c1'), idx(1))), ho(add(v('c1'), idx(1))), hk(v('c1')), ho(v('c1'))), [set('c', add(v('c1'), idx(1)))]),
        ]),
        if_(after(hk(v('c')), ho(v('c')), fv(K), iv(O)), [...put(v('hp'), hk(v('c')), ho(v('c'))), set('hp', v('c'))], [set('go', bool(false))]),
      ]),
    ]),
    ...put(v('hp'), fv(K), iv(O)),
  ];
  return [
    if_(lt(iv('hsz'), i32(maxOut)), [
      ...put(I(iv('hsz')), fv('ka'), iv('oa')),
      set('hsz', add(iv('hsz'), i32(1))),
      if_(bin('eq', iv('hsz'), i32(maxOut)), [
        for_('hj', idx(0), idx(Math.floor(maxOut / 2)), [
          let_('hr', 'i64', sub(idx(Math.floor(maxOut / 2) - 1), v('hj'))),
          let_('hka', 'f32', hk(v('hr'))), let_('hoa', 'i32', ho(v('hr'))),
          ...siftDown(v('hr'), 'hka', 'hoa'),
        ]),
      ]),
    ], siftDown(idx(0), 'ka', 'oa')),
  ];
}

/**
 * 2. The scan, 32 candidates at a time (see the header). Each live candidate of the word
 *    first asks the boxes kept so far of its class (a contiguous tail of the kept list:
 *    from c0 on, when it is in the class of the last decided row, which ends at ce) whether
 *    one suppresses it, stopping at the first that does; a live one then takes its diagonal
 *    word (IoU with the later candidates of the word and class). One thread decides the 32
 *    in order. `dead`: rows below it that are not decided yet belong to a class whose boxes
 *    can no longer be output.
 */
function scanWords(ws: NmsWorkspace, thr: number, maxOut: number): Stmt {
  const vv = I(local('vv')), dead = I(local('dead'));
  // The word's first row: an expression, not a let, as lets end at a barrier.
  const w0 = mul(v('w'), idx(BITS));
  return for_('w', idx(0), idx(ws.NW), [
    if_(and(lt(w0, vv), lt(dead, add(w0, idx(BITS)))), [
      threadStrided('b', idx(BITS), WG, [
        let_('p', 'i64', add(w0, v('b'))),
        let_('gone', 'u32', u32(0)),
        let_('dw', 'u32', u32(0)),
        if_(and(lt(v('p'), vv), un('not', lt(v('p'), dead))), [
          let_('ka', 'f32', ws.fget(ws.keyAt(v('p')))), let_('oa', 'i32', ws.iget(ws.ordAt(v('p')))),
          let_('kb_', 'f32', lload('rk', idx(0), 'f32')), let_('ob', 'i32', local('ro')),
          // A row the decision will find dead (max_out kept boxes rank before it) needs nothing.
          if_(un('not', and(bin('eq', local('hs'), i32(maxOut)), scoreFirst('b', 'a'))), [
            ...ws.rowBox('p', v('p')),
            // The kept boxes of its class (none yet if its class starts in this word).
            let_('kq', 'i64', sel(lt(v('p'), I(local('ce'))), I(local('c0')), I(local('kl')))),
            for_('kq_', idx(0), sub(I(local('kl')), v('kq')), [
              if_(bin('eq', uv('gone'), u32(0)), [
                ...ws.rowBox('r', I(ws.iget(ws.keptAt(add(v('kq'), v('kq_')))))),
                ...iou('r', 'p'),
                if_(bin('gt', fv('ovr'), f32(thr)), [set('gone', u32(1))]),
              ]),
            ]),
            if_(bin('eq', uv('gone'), u32(0)), [
              // Its diagonal word: IoU with the later candidates of the word and its class (it is the kept box now).
              for_('q', add(v('p'), idx(1)), min(add(w0, idx(BITS)), ws.rowEnd(v('p'))), [
                ...ws.rowBox('c', v('q')),
                ...iou('p', 'c'),
                if_(bin('gt', fv('ovr'), f32(thr)), [set('dw', bitor(uv('dw'), bit(sub(v('q'), w0))))]),
              ]),
            ]),
          ], [set('gone', u32(1))]),
        ], [set('gone', u32(1))]),
        lstore('dg', v('b'), uv('dw')),
        lstore('rm', v('b'), uv('gone')),
      ]),
      barrier,
      // One thread decides the word's candidates in order.
      if_(bin('eq', lid, idx(0)), [
        let_('rem', 'u32', u32(0)),
        for_('b', idx(0), idx(BITS), [set('rem', bitor(uv('rem'), shl(lload('rm', v('b'), 'u32'), U(v('b')))))]),
        let_('kw', 'u32', u32(0)),
        let_('hsz', 'i32', local('hs')), let_('dd', 'i64', dead),
        let_('nkl', 'i32', local('kl')), let_('cs', 'i32', local('c0')), let_('cend', 'i64', I(local('ce'))),
        for_('b', idx(0), idx(BITS), [
          let_('p', 'i64', add(w0, v('b'))),
          if_(and(lt(v('p'), vv), un('not', lt(v('p'), v('dd')))), [
            // A new class run: its kept boxes start here in the kept list.
            if_(un('not', lt(v('p'), v('cend'))), [set('cend', ws.rowEnd(v('p'))), set('cs', iv('nkl'))]),
            if_(un('not', bitSet(uv('rem'), U(v('b')))), [
              let_('ka', 'f32', ws.fget(ws.keyAt(v('p')))), let_('oa', 'i32', ws.iget(ws.ordAt(v('p')))),
              let_('kb_', 'f32', ws.fget(ws.heapKeyAt(idx(0)))), let_('ob', 'i32', ws.iget(ws.heapOrdAt(idx(0)))),
              // Early stop: max_out kept boxes rank before p, so p and its class's later boxes can never be output.
              if_(and(bin('eq', iv('hsz'), i32(maxOut)), scoreFirst('b', 'a')), [set('dd', v('cend'))], [
                set('kw', bitor(uv('kw'), bit(v('b')))),
                set('rem', bitor(uv('rem'), lload('dg', v('b'), 'u32'))),
                store(ws.iS, ws.keptAt(I(iv('nkl'))), cast(v('p'), 'i32')),
                set('nkl', add(iv('nkl'), i32(1))),
                ...heapPush(ws, maxOut),
              ]),
            ]),
          ]),
        ]),
        lstore('kept', v('w'), uv('kw')),
        lstore('hs', idx(0), iv('hsz')), lstore('dead', idx(0), cast(v('dd'), 'i32')),
        lstore('kl', idx(0), iv('nkl')), lstore('c0', idx(0), iv('cs')), lstore('ce', idx(0), cast(v('cend'), 'i32')),
        // The heap's root for the next word (workgroup memory: visible after a plain barrier).
        lstore('rk', idx(0), ws.fget(ws.heapKeyAt(idx(0)))), lstore('ro', idx(0), ws.iget(ws.heapOrdAt(idx(0)))),
      ]),
      // The kept list is read by every thread in the next word: a storage barrier.
      storageBarrier,
    ]),
  ]);
}

/**
 * 3. The kept boxes in torchvision's order (score descending, index ascending): placed in
 *    a list by a prefix over the kept words, sorted unless they
 *    are in order already; the first min(K, max_out) rows are the output.
 */
function keptOutput(ws: NmsWorkspace, maxOut: number, keepBuf: number, countBuf: number, chunks: number): Stmt[] {
  const { fS, iS, NW } = ws;
  const out: SortRows = { key: (i, h) => ws.outKeyAt(i, h), ord: (i, h) => ws.outOrdAt(i, h) };
  const nk = I(local('nk'));
  return [
    if_(bin('eq', lid, idx(0)), [
      let_('tot', 'i32', i32(0)),
      for_('w', idx(0), idx(NW), [
        lstore('pre', v('w'), U(iv('tot'))),
        set('tot', add(iv('tot'), cast(popcount(lload('kept', v('w'), 'u32')), 'i32'))),
      ]),
      lstore('nk', idx(0), iv('tot')),
    ]),
    barrier,
    threadStrided('p', I(local('vv')), WG, [
      let_('kw', 'u32', lload('kept', div(v('p'), idx(BITS)), 'u32')),
      let_('pb', 'u32', U(mod(v('p'), idx(BITS)))),
      if_(bitSet(uv('kw'), uv('pb')), [
        let_('at', 'i64', I(add(lload('pre', div(v('p'), idx(BITS)), 'u32'), popcount(bitand(uv('kw'), sub(shl(u32(1), uv('pb')), u32(1))))))),
        store(fS, ws.outKeyAt(v('at')), ws.fget(ws.keyAt(v('p')))),
        store(iS, ws.outOrdAt(v('at')), ws.iget(ws.ordAt(v('p')))),
      ]),
    ]),
    storageBarrier,
    // In order already (one class, or classes that do not interleave)? Each thread checks its pairs.
    let_('bad', 'i32', i32(0)),
    threadStrided('r', sub(nk, idx(1)), WG, [
      let_('ka', 'f32', ws.fget(ws.outKeyAt(v('r')))), let_('kb_', 'f32', ws.fget(ws.outKeyAt(add(v('r'), idx(1))))),
      let_('oa', 'i32', ws.iget(ws.outOrdAt(v('r')))), let_('ob', 'i32', ws.iget(ws.outOrdAt(add(v('r'), idx(1))))),
      if_(scoreFirst('b', 'a'), [set('bad', i32(1))]),
    ]),
    lstore('cnt', lid, iv('bad')),
    barrier,
    if_(bin('eq', lid, idx(0)), [
      let_('anyBad', 'i32', i32(0)),
      for_('t', idx(0), idx(WG), [set('anyBad', max(iv('anyBad'), lload('cnt', v('t'), 'i32')))]),
      lstore('uns', idx(0), iv('anyBad')),
    ]),
    barrier,
    if_(bin('ne', local('uns'), i32(0)), sortRows(ws, out, 'nk', scoreFirst, chunks)),
    let_('nout', 'i64', min(nk, idx(maxOut))),
    threadStrided('r', idx(maxOut), WG, [
      store(keepBuf, add(mul(gid, idx(maxOut)), v('r')), sel(lt(v('r'), v('nout')), ws.iget(ws.outOrdAt(v('r'))), i32(-1))),
    ]),
    if_(bin('eq', lid, idx(0)), [store(countBuf, gid, cast(v('nout'), 'i32'))]),
  ];
}
