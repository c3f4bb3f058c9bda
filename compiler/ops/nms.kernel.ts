// The `nms` kernel: torchvision's bitmask form (notes/kernels.md §3.1, §3.2),
// one workgroup per image, in one launch.
//
// 1. Order. Boxes not above the score threshold (or NaN) get the key -inf,
//    which no candidate has (a candidate's score is above a threshold that is
//    at least -inf); a bitonic sort in the program workspace puts the keys in
//    (score descending, index ascending) order, a total order, so the result is
//    what torchvision's stable descending sort gives. V candidates lead.
// 2. Mask (phase 1). Row p of the mask has a bit for every later candidate q
//    (in sorted order): bit q % 32 of word q / 32 is set when p would suppress
//    q — same class, IoU > threshold. 32-bit words (WGSL has no 64-bit
//    integers), so a row has ceil(N / 32) words; words left of the diagonal
//    are never written nor read. Threads take rows in turn.
// 3. Scan (phase 2). A removed-set of one bit per candidate lives in
//    workgroup memory. Per word w of 32 candidates, one thread resolves them in
//    order — a candidate not removed is kept, written to the output, and its
//    row's diagonal word ORed into the word — then every thread ORs the rows
//    of the boxes just kept into the later words it owns. Two barriers per 32
//    candidates; the scan stops once max_out are kept, which is the same as
//    truncating torchvision's list. That is torchvision's sequential
//    `remv |= mask[i]` loop, so the kept list and its order are batched_nms's.
//
// A launch has one kernel, so both phases run in the image's workgroup: the
// mask is N²/2 IoUs on one workgroup (one CPU thread, one GPU multiprocessor)
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
// offset boxes 5N (x1, y1, x2, y2, area)], i32 [sorted box index P | sorted
// class N | mask N·ceil(N/32) words stored as i32 bits]; P is N rounded up to
// a power of two (at least 2).
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import {
  add, and, barrier, bin, bitSet, bitand, bitor, cast, ctz, div, f32, for_, gid, i32, idx, if_, let_, lid, lload, lstore, lt, max, min, mul,
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
  return { P, words, floats: P + 5 * N, ints: P + N + N * words };
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
  const { P, words: NW, floats: FL, ints: IN } = nmsLayout(N);
  const localBytes = 4 * NW + 8 * WG + 20;
  if (localBytes > target.maxWorkgroupStorageBytes) {
    throw new ScheduleError(`nms: ${N} boxes per image is more than this kernel's ${Math.floor((target.maxWorkgroupStorageBytes - 8 * WG - 20) / 4) * BITS} on ${target.name} (its removed-set lives in workgroup memory); select fewer candidates first (topk)`);
  }
  // Buffer offsets are 32-bit on WebGPU (render/wgsl.ts) and a binding holds at most 2^31 bytes.
  const maskBytes = 4 * B * IN;
  if (maskBytes > 2 ** 31 - 1) {
    throw new ScheduleError(`nms: the suppression mask of ${B} images of ${N} boxes needs ${(maskBytes / 2 ** 20).toFixed(0)} MiB of workspace, more than one buffer may hold (2 GiB); select fewer candidates first (topk) or run fewer images per call`);
  }
  const keepBuf = em.buf(node.outputs[0], 'w'), countBuf = em.buf(node.outputs[1], 'w');
  const bb = em.buf(bv, 'r'), sb = em.buf(sv, 'r'), cb = em.buf(cv, 'r');
  const fS = em.bufs.length, iS = fS + 1; // scratch buffers follow the graph's (Scheduled.scratch)
  em.locals.push(
    { name: 'rm', t: 'u32', size: NW }, { name: 'mx', t: 'f32', size: WG }, { name: 'cnt', t: 'i32', size: WG },
    { name: 'one', t: 'f32', size: 1 }, { name: 'vv', t: 'i32', size: 1 }, { name: 'kc', t: 'i32', size: 1 },
    { name: 'kn', t: 'i32', size: 1 }, { name: 'kb', t: 'u32', size: 1 },
  );

  const fv = (name: string): Expr => v(name, 'f32');
  const iv = (name: string): Expr => v(name, 'i32');
  const uv = (name: string): Expr => v(name, 'u32');
  const I = (e: Expr): Expr => cast(e, 'i64');
  const U = (e: Expr): Expr => cast(e, 'u32');
  const score = (j: Expr): Expr => em.bufLoad(sb, add(mul(gid, idx(N)), j), 'f32');
  const cls = (j: Expr): Expr => em.bufLoad(cb, add(mul(gid, idx(N)), j), 'i32');
  const coord = (j: Expr, c: number): Expr => em.bufLoad(bb, add(mul(add(mul(gid, idx(N)), j), idx(4)), idx(c)), 'f32');
  // Workspace regions.
  const keyAt = (i: Expr): Expr => add(mul(gid, idx(FL)), i);
  const boxAt = (p: Expr, c: number): Expr => add(add(mul(gid, idx(FL)), idx(P + c)), mul(p, idx(5)));
  const ordAt = (i: Expr): Expr => add(mul(gid, idx(IN)), i);
  const clsAt = (p: Expr): Expr => add(add(mul(gid, idx(IN)), idx(P)), p);
  const maskAt = (p: Expr, w: Expr): Expr => add(add(mul(gid, idx(IN)), idx(P + N)), add(mul(p, idx(NW)), w));
  const fget = (at: Expr): Expr => ({ k: 'load', buf: fS, idx: at, t: 'f32' });
  const iget = (at: Expr): Expr => ({ k: 'load', buf: iS, idx: at, t: 'i32' });
  const maskWord = (p: Expr, w: Expr): Expr => U(iget(maskAt(p, w)));
  const local = (name: string): Expr => lload(name, idx(0), 'i32');
  const nWordsValid = (): Expr => div(add(I(local('vv')), idx(BITS - 1)), idx(BITS));

  const body: Stmt[] = [];

  // 0. The largest coordinate of the image (torchvision's boxes.max()) plus one, the
  //    class offset unit; sort keys; the candidate count; an empty removed-set.
  body.push(let_('m', 'f32', f32(-Infinity)));
  body.push(threadStrided('e', idx(4 * N), WG, [set('m', max(fv('m'), em.bufLoad(bb, add(mul(gid, idx(4 * N)), v('e')), 'f32')))]));
  body.push(lstore('mx', lid, fv('m')));
  body.push(let_('nv', 'i32', i32(0)));
  body.push(threadStrided('i', idx(P), WG, [
    let_('key', 'f32', f32(-Infinity)),
    if_(lt(v('i'), idx(N)), [
      let_('s', 'f32', score(v('i'))),
      if_(bin('gt', fv('s'), f32(minScore)), [set('key', fv('s')), set('nv', add(iv('nv'), i32(1)))]),
    ]),
    store(fS, keyAt(v('i')), fv('key')),
    store(iS, ordAt(v('i')), cast(v('i'), 'i32')),
  ]));
  body.push(lstore('cnt', lid, iv('nv')));
  body.push(threadStrided('w', idx(NW), WG, [lstore('rm', v('w'), u32(0))]));
  body.push(storageBarrier);
  body.push(if_(bin('eq', lid, idx(0)), [
    let_('mm', 'f32', f32(-Infinity)), let_('tot', 'i32', i32(0)),
    for_('t', idx(0), idx(WG), [set('mm', max(fv('mm'), lload('mx', v('t'), 'f32'))), set('tot', add(iv('tot'), lload('cnt', v('t'), 'i32')))]),
    lstore('one', idx(0), add(fv('mm'), f32(1))),
    lstore('vv', idx(0), iv('tot')),
    lstore('kc', idx(0), i32(0)),
  ]));
  body.push(barrier);

  // 1. Bitonic sort of (key, index): stage (kk, jj) compares i and i + j for
  //    j = 2^(kk - jj), each block of k = 2^(kk + 1) keys in the direction bit
  //    kk + 1 of i gives (all "first before" at the last stage, k = P).
  const L = Math.log2(P);
  body.push(for_('kk', idx(0), idx(L), [
    for_('jj', idx(0), add(v('kk'), idx(1)), [
      threadStrided('t', idx(P / 2), WG, [
        let_('sh', 'u32', U(sub(v('kk'), v('jj')))),
        let_('tu', 'u32', U(v('t'))),
        let_('lo', 'u32', bitor(shl(shr(uv('tu'), uv('sh')), add(uv('sh'), u32(1))), bitand(uv('tu'), sub(shl(u32(1), uv('sh')), u32(1))))),
        let_('ia', 'i64', I(uv('lo'))),
        let_('ib', 'i64', I(bitor(uv('lo'), shl(u32(1), uv('sh'))))),
        let_('ka', 'f32', fget(keyAt(v('ia')))), let_('kb_', 'f32', fget(keyAt(v('ib')))),
        let_('oa', 'i32', iget(ordAt(v('ia')))), let_('ob', 'i32', iget(ordAt(v('ib')))),
        let_('bFirst', 'bool', bin('or', bin('gt', fv('kb_'), fv('ka')), and(bin('eq', fv('kb_'), fv('ka')), lt(iv('ob'), iv('oa'))))),
        let_('up', 'bool', un('not', bitSet(uv('lo'), U(add(v('kk'), idx(1)))))),
        if_(bin('eq', v('up', 'bool'), v('bFirst', 'bool')), [
          store(fS, keyAt(v('ia')), fv('kb_')), store(fS, keyAt(v('ib')), fv('ka')),
          store(iS, ordAt(v('ia')), iv('ob')), store(iS, ordAt(v('ib')), iv('oa')),
        ]),
      ]),
      storageBarrier,
    ]),
  ]));

  // The candidates' class-offset boxes and areas (torchvision: boxes + offsets, then (x2 - x1) * (y2 - y1)) and classes, in sorted order.
  body.push(threadStrided('p', I(local('vv')), WG, [
    let_('bi', 'i64', I(iget(ordAt(v('p'))))),
    let_('bc', 'i32', cls(v('bi'))),
    let_('off', 'f32', mul(cast(iv('bc'), 'f32'), lload('one', idx(0), 'f32'))),
    ...['x1', 'y1', 'x2', 'y2'].map((n, c) => let_(`g${n}`, 'f32', add(coord(v('bi'), c), fv('off')))),
    ...['x1', 'y1', 'x2', 'y2'].map((n, c) => store(fS, boxAt(v('p'), c), fv(`g${n}`))),
    store(fS, boxAt(v('p'), 4), mul(sub(fv('gx2'), fv('gx1')), sub(fv('gy2'), fv('gy1')))),
    store(iS, clsAt(v('p')), iv('bc')),
  ]));
  body.push(storageBarrier);

  // 2. The mask: row p (a candidate), words from its diagonal to the last candidate's.
  const rowBox = (pre: string, p: Expr): Stmt[] => ['x1', 'y1', 'x2', 'y2', 'a'].map((n, c) => let_(`${pre}${n}`, 'f32', fget(boxAt(p, c))));
  body.push(threadStrided('p', I(local('vv')), WG, [
    ...rowBox('r', v('p')),
    let_('rc', 'i32', iget(clsAt(v('p')))),
    let_('nv_', 'i64', I(local('vv'))),
    let_('nwv', 'i64', nWordsValid()),
    for_('w', div(v('p'), idx(BITS)), v('nwv'), [
      let_('word', 'u32', u32(0)),
      // Bits of the candidates after p and before V only (the diagonal word starts past p, the last ends at V).
      let_('w0', 'i64', mul(v('w'), idx(BITS))),
      for_('b', max(idx(0), sub(add(v('p'), idx(1)), v('w0'))), min(idx(BITS), sub(v('nv_'), v('w0'))), [
        let_('q', 'i64', add(v('w0'), v('b'))),
        if_(bin('eq', iget(clsAt(v('q'))), iv('rc')), [
          ...rowBox('c', v('q')),
          // torchvision's nms_kernel: w, h clamped at 0; ovr = inter / (area_i + area_j - inter).
          let_('iw', 'f32', stdMax(f32(0), sub(stdMin(fv('rx2'), fv('cx2')), stdMax(fv('rx1'), fv('cx1'))))),
          let_('ih', 'f32', stdMax(f32(0), sub(stdMin(fv('ry2'), fv('cy2')), stdMax(fv('ry1'), fv('cy1'))))),
          let_('inter', 'f32', mul(fv('iw'), fv('ih'))),
          let_('ovr', 'f32', div(fv('inter'), sub(add(fv('ra'), fv('ca')), fv('inter')))),
          if_(bin('gt', fv('ovr'), f32(thr)), [set('word', bitor(uv('word'), shl(u32(1), U(v('b')))))]),
        ]),
      ]),
      store(iS, maskAt(v('p'), v('w')), cast(uv('word'), 'i32')),
    ]),
  ]));
  body.push(storageBarrier);

  // 3. The scan, 32 candidates at a time, until max_out are kept.
  body.push(for_('w', idx(0), idx(NW), [
    if_(and(lt(local('kc'), i32(maxOut)), lt(mul(v('w'), idx(BITS)), I(local('vv')))), [
      if_(bin('eq', lid, idx(0)), [
        let_('rem', 'u32', lload('rm', v('w'), 'u32')),
        let_('kw', 'u32', u32(0)),
        let_('k', 'i32', local('kc')),
        for_('b', idx(0), idx(BITS), [
          let_('p', 'i64', add(mul(v('w'), idx(BITS)), v('b'))),
          if_(and(and(lt(v('p'), I(local('vv'))), lt(iv('k'), i32(maxOut))), un('not', bitSet(uv('rem'), U(v('b'))))), [
            set('kw', bitor(uv('kw'), shl(u32(1), U(v('b'))))),
            set('rem', bitor(uv('rem'), maskWord(v('p'), v('w')))),
            store(keepBuf, add(mul(gid, idx(maxOut)), I(iv('k'))), iget(ordAt(v('p')))),
            set('k', add(iv('k'), i32(1))),
          ]),
        ]),
        lstore('kb', idx(0), uv('kw')),
        lstore('kn', idx(0), iv('k')),
      ]),
      barrier,
      // kc changes only here, after every thread has read it for this word's test.
      if_(bin('eq', lid, idx(0)), [lstore('kc', idx(0), local('kn'))]),
      let_('nwv', 'i64', nWordsValid()),
      threadStrided('x', sub(sub(v('nwv'), v('w')), idx(1)), WG, [
        let_('w2', 'i64', add(add(v('w'), idx(1)), v('x'))),
        let_('acc', 'u32', lload('rm', v('w2'), 'u32')),
        let_('bits', 'u32', lload('kb', idx(0), 'u32')),
        // The bound is taken before the loop changes `bits` (a rendered for re-tests it).
        let_('nk', 'i64', I(popcount(uv('bits')))),
        for_('r', idx(0), v('nk'), [
          let_('lowest', 'i64', I(ctz(uv('bits')))),
          set('bits', bitand(uv('bits'), sub(uv('bits'), u32(1)))),
          set('acc', bitor(uv('acc'), maskWord(add(mul(v('w'), idx(BITS)), v('lowest')), v('w2')))),
        ]),
        lstore('rm', v('w2'), uv('acc')),
      ]),
      barrier,
    ]),
  ]));

  // Padding after the kept boxes, and the count.
  body.push(threadStrided('r', idx(maxOut), WG, [
    if_(bin('ge', v('r'), I(local('kc'))), [store(keepBuf, add(mul(gid, idx(maxOut)), v('r')), i32(-1))]),
  ]));
  body.push(if_(bin('eq', lid, idx(0)), [store(countBuf, gid, local('kc'))]));

  return {
    kernel: {
      bufs: [...em.bufs.map((b) => ({ dtype: b.dtype, access: b.access })), { dtype: 'f32', access: 'rw' }, { dtype: 'i32', access: 'rw' }],
      nargs: 0, workgroupSize: WG, locals: em.locals, regs: em.regs, body,
    },
    bufValues: em.bufs.map((b) => b.value),
    scratch: [{ dtype: 'f32', bytes: 4 * B * FL }, { dtype: 'i32', bytes: 4 * B * IN }],
    args: [],
    grid: B,
  };
}
