// The `nms` kernel: one workgroup per image, the mask-free form of
// notes/kernels.md §3.2 ("maxDet ≤ ~300": no N² mask, at most max_out·N IoUs).
//
// Each of the max_out steps finds the best box not yet removed — a per-thread
// scan of the boxes it owns, then a tree reduction of (score, index) in
// workgroup memory, higher score first, lower index on ties — writes it to
// the kept list and removes it and every box of its class that overlaps it by
// more than the threshold. That is torchvision's greedy loop (a box is kept
// when no earlier kept box suppressed it), so the kept list and its order are
// batched_nms's, truncated to max_out.
//
// `removed` is a bitset in workgroup memory, 31 boxes per i32 word (bit 31
// would make the word negative; the IR has no bitwise ops, so bits are read
// and set with division, modulo and addition on non-negative words). Thread t
// owns words t, t + WG, ...: only it reads or writes them, so the bitset needs
// no barrier of its own. Boxes below the score threshold (or NaN) start
// removed. Steps run to max_out in uniform control flow (barriers inside);
// once nothing is left a step finds no winner and writes -1 (the padding).
//
// Parity with torchvision.ops.batched_nms (coordinate-trick path): IoU is
// computed on the class-offset boxes, box + class · (max coordinate + 1), in
// f32 and in torchvision's order of operations, and `ovr > thr` compares the
// f32 IoU with the double threshold — the same as comparing with the largest
// f32 not above it (see nmsThresholdF32). The C renderer keeps that rounding
// (-ffp-contract=off); CUDA compiles with --fmad=true, so there a product
// feeding a sum may round once and IoUs within an ulp of the threshold can go
// the other way.
import { Graph } from '../graph.js';
import { Expr, Stmt } from '../kernel/ir.js';
import { add, and, barrier, bin, bool, cast, div, f32, for_, gid, i32, idx, if_, let_, lid, lload, lstore, lt, max, min, mod, mul, sel, set, store, sub, un, v } from '../kernel/build.js';
import { Emitter, Lowering, ScheduleError } from '../schedule/emit.js';
import { Scheduled, finish } from '../schedule/pointwise.js';
import type { Target } from '../target.js';
import { floatAttr, intAttr } from './attrs.js';

const WG = 128;
/** Bits per word of the removed-set. */
const BITS = 31;

/** The largest f32 not above t: for an f32 x, x > t (in double) exactly when x > this. */
export function nmsThresholdF32(t: number): number {
  const f = Math.fround(t);
  if (f <= t || !Number.isFinite(t)) return f;
  const buf = new Float32Array([f]);
  const bits = new Int32Array(buf.buffer);
  bits[0] += f > 0 ? -1 : 1;
  return buf[0];
}

export function scheduleNms(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>, target: Target): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [bv, sv, cv] = node.inputs;
  const [B, N] = em.shape(sv);
  const thr = nmsThresholdF32(floatAttr('nms', node.attrs, 'iou_threshold'));
  const minScore = floatAttr('nms', node.attrs, 'score_threshold');
  const maxOut = intAttr('nms', node.attrs, 'max_out');
  const NW = Math.ceil(N / BITS);
  // The removed-set takes what the target's workgroup memory leaves after the reduction arrays (WebGPU's 16 KiB: 93k boxes).
  const maxWords = Math.floor((target.maxWorkgroupStorageBytes - 3 * WG * 4 - 8) / 4);
  if (NW > maxWords) throw new ScheduleError(`nms: ${N} boxes per image is more than this kernel's ${maxWords * BITS} on ${target.name} (its removed-set lives in workgroup memory); select fewer candidates first (topk)`);
  const keepBuf = em.buf(node.outputs[0], 'w'), countBuf = em.buf(node.outputs[1], 'w');
  const bb = em.buf(bv, 'r'), sb = em.buf(sv, 'r'), cb = em.buf(cv, 'r');
  em.locals.push(
    { name: 'rm', t: 'i32', size: NW }, { name: 'rs', t: 'f32', size: WG }, { name: 'ri', t: 'i32', size: WG },
    { name: 'mx', t: 'f32', size: WG }, { name: 'one', t: 'f32', size: 1 }, { name: 'kc', t: 'i32', size: 1 },
  );
  const score = (j: Expr): Expr => em.bufLoad(sb, add(mul(gid, idx(N)), j), 'f32');
  const cls = (j: Expr): Expr => em.bufLoad(cb, add(mul(gid, idx(N)), j), 'i32');
  const coord = (j: Expr, c: number): Expr => em.bufLoad(bb, add(mul(add(mul(gid, idx(N)), j), idx(4)), idx(c)), 'f32');
  const fv = (name: string): Expr => v(name, 'f32');
  const iv = (name: string): Expr => v(name, 'i32');
  /** The class-offset box of j as lets p_x1..p_y2 and its area p_a (torchvision: boxes + offsets, then (x2 - x1) * (y2 - y1)). */
  const offsetBox = (p: string, j: Expr): Stmt[] => {
    const out: Stmt[] = [let_(`${p}o`, 'f32', mul(cast(cls(j), 'f32'), lload('one', idx(0), 'f32')))];
    ['x1', 'y1', 'x2', 'y2'].forEach((n, c) => out.push(let_(`${p}${n}`, 'f32', add(coord(j, c), fv(`${p}o`)))));
    out.push(let_(`${p}a`, 'f32', mul(sub(fv(`${p}x2`), fv(`${p}x1`)), sub(fv(`${p}y2`), fv(`${p}y1`)))));
    return out;
  };
  /** Loop over the words this thread owns: word w = lid + q·WG. */
  const ownWords = (name: string, body: Stmt[]): Stmt =>
    for_(`${name}_q`, idx(0), idx(Math.ceil(NW / WG)), [let_(name, 'i64', add(lid, mul(v(`${name}_q`), idx(WG)))), if_(lt(v(name), idx(NW)), body)]);
  /** Loop over the bits of word w (box j = 31w + b, power pw = 2^b; the doubling stops before it overflows). */
  const bitsOf = (w: string, body: Stmt[]): Stmt[] => [
    let_('pw', 'i32', i32(1)),
    for_('b', idx(0), idx(BITS), [
      let_('j', 'i64', add(mul(v(w), idx(BITS)), v('b'))),
      ...body,
      set('pw', sel(lt(v('b'), idx(BITS - 1)), mul(iv('pw'), i32(2)), iv('pw'))),
    ]),
  ];
  const isSet = (word: Expr): Expr => bin('eq', mod(div(word, iv('pw')), i32(2)), i32(1));

  const body: Stmt[] = [];
  // The largest coordinate of the image (torchvision's boxes.max()), plus one: the class offset unit.
  body.push(let_('m', 'f32', f32(-Infinity)));
  body.push(for_('e_q', idx(0), idx(Math.ceil((4 * N) / WG)), [
    let_('e', 'i64', add(lid, mul(v('e_q'), idx(WG)))),
    if_(lt(v('e'), idx(4 * N)), [set('m', max(fv('m'), em.bufLoad(bb, add(mul(gid, idx(4 * N)), v('e')), 'f32')))]),
  ]));
  body.push(lstore('mx', lid, fv('m')));
  // Removed-set: boxes past N and boxes not above the score threshold start removed.
  body.push(ownWords('w', [
    let_('word', 'i32', i32(0)),
    ...bitsOf('w', [
      let_('out', 'bool', bool(true)),
      if_(lt(v('j'), idx(N)), [set('out', un('not', bin('gt', score(v('j')), f32(minScore))))]),
      if_(v('out', 'bool'), [set('word', add(iv('word'), iv('pw')))]),
    ]),
    lstore('rm', v('w'), iv('word')),
  ]));
  body.push(barrier);
  body.push(if_(bin('eq', lid, idx(0)), [
    let_('mm', 'f32', f32(-Infinity)),
    for_('t', idx(0), idx(WG), [set('mm', max(fv('mm'), lload('mx', v('t'), 'f32')))]),
    lstore('one', idx(0), add(fv('mm'), f32(1))),
    lstore('kc', idx(0), i32(0)),
  ]));
  body.push(barrier);

  const step: Stmt[] = [];
  // 1. This thread's best remaining box.
  step.push(let_('bs', 'f32', f32(-Infinity)), let_('bi', 'i32', i32(-1)));
  step.push(ownWords('w', [
    let_('word', 'i32', lload('rm', v('w'), 'i32')),
    ...bitsOf('w', [if_(un('not', isSet(iv('word'))), [
      let_('s', 'f32', score(v('j'))),
      if_(bin('or', lt(iv('bi'), i32(0)), bin('gt', fv('s'), fv('bs'))), [set('bs', fv('s')), set('bi', cast(v('j'), 'i32'))]),
    ])]),
  ]));
  step.push(lstore('rs', lid, fv('bs')), lstore('ri', lid, iv('bi')), barrier);
  // 2. Tree reduction: higher score, then lower index; -1 loses.
  for (let off = WG / 2; off >= 1; off /= 2) {
    step.push(if_(lt(lid, idx(off)), [
      let_('as', 'f32', lload('rs', lid, 'f32')), let_('ai', 'i32', lload('ri', lid, 'i32')),
      let_('cs', 'f32', lload('rs', add(lid, idx(off)), 'f32')), let_('ci', 'i32', lload('ri', add(lid, idx(off)), 'i32')),
      if_(and(bin('ge', iv('ci'), i32(0)), bin('or', bin('or', lt(iv('ai'), i32(0)), bin('gt', fv('cs'), fv('as'))),
        and(bin('eq', fv('cs'), fv('as')), lt(iv('ci'), iv('ai'))))), [lstore('rs', lid, fv('cs')), lstore('ri', lid, iv('ci'))]),
    ]), barrier);
  }
  // 3. Record the winner; remove it and what it suppresses.
  step.push(let_('win', 'i32', lload('ri', idx(0), 'i32')));
  step.push(if_(bin('eq', lid, idx(0)), [
    store(keepBuf, add(mul(gid, idx(maxOut)), v('s_')), iv('win')),
    if_(bin('ge', iv('win'), i32(0)), [lstore('kc', idx(0), add(lload('kc', idx(0), 'i32'), i32(1)))]),
  ]));
  step.push(if_(bin('ge', iv('win'), i32(0)), [
    let_('wj', 'i64', cast(iv('win'), 'i64')),
    let_('wc', 'i32', cls(v('wj'))),
    ...offsetBox('k', v('wj')),
    ownWords('w', [
      let_('word', 'i32', lload('rm', v('w'), 'i32')),
      ...bitsOf('w', [if_(un('not', isSet(iv('word'))), [
        if_(bin('eq', v('j'), v('wj')), [set('word', add(iv('word'), iv('pw')))], [if_(bin('eq', cls(v('j')), iv('wc')), [
          ...offsetBox('c', v('j')),
          // torchvision's nms_kernel: w, h clamped at 0; ovr = inter / (area_i + area_j - inter).
          let_('iw', 'f32', max(f32(0), sub(min(fv('kx2'), fv('cx2')), max(fv('kx1'), fv('cx1'))))),
          let_('ih', 'f32', max(f32(0), sub(min(fv('ky2'), fv('cy2')), max(fv('ky1'), fv('cy1'))))),
          let_('inter', 'f32', mul(fv('iw'), fv('ih'))),
          let_('ovr', 'f32', div(fv('inter'), sub(add(fv('ka'), fv('ca')), fv('inter')))),
          if_(bin('gt', fv('ovr'), f32(thr)), [set('word', add(iv('word'), iv('pw')))]),
        ])])]),
      ]),
      lstore('rm', v('w'), iv('word')),
    ]),
  ]));
  step.push(barrier);
  body.push(for_('s_', idx(0), idx(maxOut), step));
  body.push(if_(bin('eq', lid, idx(0)), [store(countBuf, gid, lload('kc', idx(0), 'i32'))]));
  return finish(em, body, WG, [], B);
}
