// The `match` solve for a GPU workgroup (match.kernel.ts has the algorithm,
// the reduction and the bound): the same augmentations as the one-thread
// solve, with each tree step's work split over the WG threads.
//
// Column j belongs to thread j % WG: only that thread relaxes it, so the
// threads never write the same column, and each keeps the frontier of its
// own columns (at most ⌈(N + G)/WG⌉ of them) in its slice of the `fr`
// workspace. A step: every thread relaxes its columns of the new tree row
// (all read the row's compact list; a dense row is split by columns) and
// finds its best frontier column; thread 0 takes the best of the WG
// candidates (least cost, then free, then lowest column: the one-thread
// order), removes it from its owner's list and decides the next row or the
// sink. The per-augmentation control (active, row, minVal, sink, counts)
// lives in workgroup memory and every thread reads it after a barrier; WGSL
// reads it with workgroupUniformLoad (render/wgsl.ts: an if holding a
// barrier), so the loops keep static bounds and finished augmentations skip
// their remaining steps at the cost of one uniform read each: steps run in
// blocks of 16, so an augmentation of k steps at row cur costs k steps plus
// ≤ cur/16 + 16 idle reads. Buffer data handed between threads (columns'
// state, frontier lists, duals) is ordered by storage barriers.
import { Expr, Stmt } from '../kernel/ir.js';
import {
  add, barrier, bin, bool, cast, div, for_, idx, if_, let_, lid, lload, lstore, lt, mod, mul, set, storageBarrier, sub, v,
} from '../kernel/build.js';
import type { Emitter } from '../schedule/emit.js';

/** What the parallel solve takes from the schedule (match.kernel.ts). */
export interface MatchPieces {
  em: Emitter; WG: number; G: number; FC: number;
  iget(name: string, i: Expr): Expr;
  iput(name: string, i: Expr, val: Expr): Stmt;
  relaxRow(own: (j: Expr) => Expr, append: (rj: Expr) => Stmt[], scanFrom: Expr, stride: number): Stmt[];
  better: Expr;
  params(): Stmt[];
  finishAug(): Stmt[];
  fillOutput(): Stmt[];
}

const ACT = 0, ROW = 1, MIN = 2, SINK = 3, NSR = 4, NSC = 5, GC = 6, WMAX = 7;
const BLOCK = 16;

export function parallelSolve(p: MatchPieces): Stmt[] {
  const { em, WG, G } = p;
  em.locals.push({ name: 'ctl', t: 'i32', size: 8 }, { name: 'prm', t: 'f32', size: 2 });
  for (const n of ['fcnt', 'pbj', 'pbs', 'pbp', 'pbf']) em.locals.push({ name: n, t: 'i32', size: WG });
  const step = [...threadStep(p), storageBarrier, ...pickBest(p), storageBarrier];
  return [
    if_(bin('eq', lid, idx(0)), [
      ...p.params(),
      lstore('prm', idx(0), v('m', 'f32')), lstore('prm', idx(1), v('S', 'f32')), setCtl(GC, v('g')), setCtl(WMAX, v('Wmax')),
    ]),
    barrier,
    for_('cur', idx(0), idx(G), augmentation(p, step)),
    if_(bin('eq', lid, idx(0)), [let_('g', 'i64', ctl(GC)), ...p.fillOutput()]),
  ];
}

const I = (e: Expr): Expr => cast(e, 'i64');
/** Control word k (ACT ... WMAX) of the workgroup's `ctl` array, as i64. */
const ctl = (k: number): Expr => I(lload('ctl', idx(k), 'i32'));
const setCtl = (k: number, val: Expr): Stmt => lstore('ctl', idx(k), cast(val, 'i32'));
/** Word i of a per-thread workgroup array (fcnt, pbj, ...), as i64. */
const loc = (arr: string, i: Expr): Expr => I(lload(arr, i, 'i32'));
const ACTIVE = bin('ne', ctl(ACT), idx(0));

/** Augmentation cur: thread 0 resets the control, every thread its frontier count; the steps in blocks while active; thread 0 finishes it. */
function augmentation(p: MatchPieces, step: Stmt[]): Stmt[] {
  return [
    if_(bin('eq', lid, idx(0)), [
      setCtl(ACT, cast(lt(v('cur'), ctl(GC)), 'i64')), setCtl(ROW, v('cur')), setCtl(MIN, idx(0)), setCtl(SINK, idx(-1)),
      setCtl(NSR, idx(0)), setCtl(NSC, idx(0)),
    ]),
    lstore('fcnt', lid, { k: 'const', t: 'i32', v: 0 }),
    barrier,
    if_(ACTIVE, [
      // At most cur + 1 steps (one-thread solve), in blocks.
      for_('sb', idx(0), div(add(v('cur'), idx(BLOCK)), idx(BLOCK)), [if_(ACTIVE, [
        for_('sk', idx(0), idx(BLOCK), [if_(ACTIVE, step)]),
      ])]),
      if_(bin('eq', lid, idx(0)), [
        let_('minVal', 'i64', ctl(MIN)), let_('nsr', 'i64', ctl(NSR)), let_('nsc', 'i64', ctl(NSC)), let_('sink', 'i64', ctl(SINK)),
        ...p.finishAug(),
      ]),
      storageBarrier,
    ]),
  ];
}

/** A step, every thread: relax its columns of row i, then offer its best frontier column (pbp, pbs, pbj, pbf); thread 0 records row i in the tree. */
function threadStep({ WG, FC, iget, iput, relaxRow, better }: MatchPieces): Stmt[] {
  const mine = (j: Expr): Expr => bin('eq', mod(j, idx(WG)), lid);
  const push = (rj: Expr): Stmt[] => [iput('fr', add(mul(lid, idx(FC)), v('nf')), rj), set('nf', add(v('nf'), idx(1)))];
  const scale = (): Stmt[] => [
    let_('m', 'f32', lload('prm', idx(0), 'f32')), let_('S', 'f32', lload('prm', idx(1), 'f32')),
    let_('Wmax', 'i64', ctl(WMAX)), let_('WmaxF', 'f32', cast(v('Wmax'), 'f32')),
  ];
  return [
    let_('a', 'i64', add(v('cur'), idx(1))), let_('i', 'i64', ctl(ROW)), let_('minVal', 'i64', ctl(MIN)), ...scale(),
    let_('nf', 'i64', loc('fcnt', lid)),
    ...relaxRow(mine, push, lid, WG),
    lstore('fcnt', lid, cast(v('nf'), 'i32')),
    let_('bp', 'i64', idx(-1)), let_('bs', 'i64', idx(0)), let_('bj', 'i64', idx(0)), let_('bfree', 'bool', bool(false)),
    for_('q', idx(0), v('nf'), [
      let_('jj', 'i64', iget('fr', add(mul(lid, idx(FC)), v('q')))), let_('s', 'i64', iget('spc', v('jj'))),
      let_('fj', 'bool', lt(iget('r4c', v('jj')), idx(0))),
      if_(better, [set('bp', v('q')), set('bs', v('s')), set('bj', v('jj')), set('bfree', v('fj', 'bool'))]),
    ]),
    lstore('pbp', lid, cast(v('bp'), 'i32')), lstore('pbs', lid, cast(v('bs'), 'i32')),
    lstore('pbj', lid, cast(v('bj'), 'i32')), lstore('pbf', lid, cast(v('bfree', 'bool'), 'i32')),
    if_(bin('eq', lid, idx(0)), [iput('sr', ctl(NSR), v('i')), setCtl(NSR, add(ctl(NSR), idx(1)))]),
  ];
}

/** Thread 0: the best of the threads' candidates, in the one-thread order; it leaves its owner's frontier, and the next row or the sink is set. */
function pickBest({ WG, FC, iget, iput, better }: MatchPieces): Stmt[] {
  return [if_(bin('eq', lid, idx(0)), [
    let_('a', 'i64', add(v('cur'), idx(1))),
    let_('bp', 'i64', idx(-1)), let_('bs', 'i64', idx(0)), let_('bj', 'i64', idx(0)), let_('bfree', 'bool', bool(false)), let_('bt', 'i64', idx(0)),
    for_('t', idx(0), idx(WG), [if_(bin('ge', loc('pbp', v('t')), idx(0)), [
      let_('jj', 'i64', loc('pbj', v('t'))), let_('s', 'i64', loc('pbs', v('t'))), let_('fj', 'bool', bin('ne', loc('pbf', v('t')), idx(0))),
      if_(better, [set('bp', loc('pbp', v('t'))), set('bs', v('s')), set('bj', v('jj')), set('bfree', v('fj', 'bool')), set('bt', v('t'))]),
    ])]),
    if_(bin('ge', v('bp'), idx(0)), [
      let_('last', 'i64', sub(loc('fcnt', v('bt')), idx(1))),
      iput('fr', add(mul(v('bt'), idx(FC)), v('bp')), iget('fr', add(mul(v('bt'), idx(FC)), v('last')))),
      lstore('fcnt', v('bt'), cast(v('last'), 'i32')),
      setCtl(MIN, v('bs')), iput('sst', v('bj'), v('a')), iput('sc', ctl(NSC), v('bj')), setCtl(NSC, add(ctl(NSC), idx(1))),
      if_(v('bfree', 'bool'), [setCtl(SINK, v('bj')), setCtl(ACT, idx(0))], [setCtl(ROW, iget('r4c', v('bj')))]),
    ], [setCtl(SINK, idx(-2)), setCtl(ACT, idx(0))]), // cannot happen (the root's dummy is reachable)
  ])];
}
