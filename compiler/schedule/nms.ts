// Hand-scheduled class-aware NMS (first version): one thread per image walks
// the boxes in (score descending, index ascending) order without sorting —
// each step scans for the next candidate after the previous one — and keeps
// a box unless a kept box of its class overlaps it by more than the IoU
// threshold; the kept list lives in the output itself. O(N²) per image, no
// scratch memory, exactly the reference's order. The bitmask kernel of
// notes/kernels.md §3 is the fast version.
import { Graph } from '../graph.js';
import { Expr } from '../kernel/ir.js';
import { floatAttr, intAttr } from '../ops/attrs.js';
import { add, and, bin, bool, f32, for_, gid, i32, idx, if_, let_, lt, mul, set, store, un, v, cast } from '../kernel/build.js';
import { Emitter, Lowering } from './emit.js';
import { iouOf } from './lower-detect.js';
import { Scheduled, finish } from './pointwise.js';

export function scheduleNms(graph: Graph, nodes: ReadonlySet<number>, anchorId: number, _sink: number, lowerings: Readonly<Record<string, Lowering>>): Scheduled {
  const em = new Emitter(graph, nodes, lowerings);
  const node = graph.nodes[anchorId];
  const [bv, sv, cv] = node.inputs;
  const [B, N] = em.shape(sv);
  const thr = floatAttr('nms', node.attrs, 'iou_threshold'), minScore = floatAttr('nms', node.attrs, 'score_threshold');
  const maxOut = intAttr('nms', node.attrs, 'max_out');
  const keepBuf = em.buf(node.outputs[0], 'w'), countBuf = em.buf(node.outputs[1], 'w');
  em.buf(node.outputs[0], 'r'); // the kept list is read back while it grows
  const bb = em.buf(bv, 'r'), sb = em.buf(sv, 'r'), cb = em.buf(cv, 'r');
  const score = (j: Expr): Expr => em.bufLoad(sb, add(mul(gid, idx(N)), j), 'f32');
  const cls = (j: Expr): Expr => em.bufLoad(cb, add(mul(gid, idx(N)), j), 'i32');
  const box = (j: Expr): Expr[] => [0, 1, 2, 3].map((c) => em.bind(em.bufLoad(bb, add(mul(add(mul(gid, idx(N)), j), idx(4)), idx(c)), 'f32'), 'bx'));
  const keepAt = (r: Expr): Expr => add(mul(gid, idx(maxOut)), r);
  const body = em.block(() => {
    em.emit(let_('cnt', 'i64', idx(0)));
    em.emit(let_('ps', 'f32', f32(Infinity)));
    em.emit(let_('pi', 'i64', idx(-1)));
    em.emit(let_('done', 'bool', bool(false)));
    const step = em.block(() => {
      em.emit(let_('bs', 'f32', f32(-Infinity)));
      em.emit(let_('bi', 'i64', idx(-1)));
      const scan = em.block(() => {
        const s = em.bind(score(v('j')), 's');
        const after = bin('or', bin('lt', s, v('ps', 'f32')), and(bin('eq', s, v('ps', 'f32')), bin('gt', v('j'), v('pi'))));
        const better = bin('or', lt(v('bi'), idx(0)), bin('gt', s, v('bs', 'f32')));
        em.emit(if_(and(and(bin('gt', s, f32(minScore)), after), better), [set('bs', s), set('bi', v('j'))]));
      });
      em.emit(for_('j', idx(0), idx(N), scan));
      const take = em.block(() => {
        em.emit(set('ps', v('bs', 'f32')));
        em.emit(set('pi', v('bi')));
        em.emit(let_('sup', 'bool', bool(false)));
        const cand = box(v('bi'));
        const check = em.block(() => {
          const k = em.bind(cast(em.bufLoad(keepBuf, keepAt(v('r')), 'i32'), 'i64'), 'k');
          const overlap = em.block(() => {
            em.emit(if_(bin('gt', iouOf(em, box(k), cand), f32(thr)), [set('sup', bool(true))]));
          });
          em.emit(if_(bin('eq', cls(k), cls(v('bi'))), overlap));
        });
        em.emit(for_('r', idx(0), v('cnt'), check));
        em.emit(if_(un('not', v('sup', 'bool')), [
          store(keepBuf, keepAt(v('cnt')), cast(v('bi'), 'i32')),
          set('cnt', add(v('cnt'), idx(1))),
          if_(bin('eq', v('cnt'), idx(maxOut)), [set('done', bool(true))]),
        ]));
      });
      em.emit(if_(lt(v('bi'), idx(0)), [set('done', bool(true))], take));
    });
    em.emit(for_('step', idx(0), idx(N), [if_(un('not', v('done', 'bool')), step)]));
    em.emit(for_('r', v('cnt'), idx(maxOut), [store(keepBuf, keepAt(v('r')), i32(-1))]));
    em.emit(store(countBuf, gid, cast(v('cnt'), 'i32')));
  });
  return finish(em, body, 1, [], B);
}
