// The launch list packed for one native call (runtime/pack-launches.ts), and
// how the thread pool may run it (native/cpu_pool.cc):
//  - a launch waits for every earlier one (a barrier) only when it touches a
//    buffer that a launch since the last barrier writes, or writes one that
//    such a launch reads: independent launches flow into each other, so the
//    threads meet about once per dependency level, not once per launch;
//  - consecutive launches too small to be worth splitting over the threads
//    form a serial run: one thread runs them whole and in order, with no
//    barrier between them, while the others go on to what does not depend
//    on the run.
// Which thread runs a workgroup never changes what it computes (a kernel's
// workgroups write disjoint outputs, with no atomics), so the results are
// the same bits as launch-by-launch with a barrier after each.
import type { Program } from '../compiler/program.js';
import type { Expr, Stmt } from '../compiler/kernel/ir.js';
import { packLaunchList } from '../runtime/pack-launches.js';

/** Layout read by native/cpu_addon.cc: [count, per launch: kernel, grid, nbufs, nargs, bufs..., args...]. */
export function packLaunches(launches: Program['launches'], slot: ReadonlyMap<number, number>): BigInt64Array {
  return packLaunchList(launches, slot);
}

/**
 * Below this estimated work (IR operations over the whole grid) a launch runs
 * whole on one thread: splitting it saves less than the threads' meeting
 * costs (bench/launch-suite.ts measures both sides).
 */
export const SERIAL_WORK = 1 << 15;

/** An integer expression's value from constants and the launch's args; undefined when it depends on a thread, a loop or memory. */
function evalIndex(e: Expr, args: readonly number[]): number | undefined {
  switch (e.k) {
    case 'const': return e.v;
    case 'arg': return args[e.i];
    case 'bin': {
      const a = evalIndex(e.a, args), b = evalIndex(e.b, args);
      if (a === undefined || b === undefined) return undefined;
      switch (e.op) {
        case 'add': return a + b;
        case 'sub': return a - b;
        case 'mul': return a * b;
        case 'div': return b === 0 ? undefined : Math.trunc(a / b);
        case 'max': return Math.max(a, b);
        case 'min': return Math.min(a, b);
        default: return undefined;
      }
    }
    default: return undefined;
  }
}

function exprOps(e: Expr): number {
  switch (e.k) {
    case 'const': case 'arg': case 'gid': case 'lid': case 'var': return 0;
    case 'load': return 1 + exprOps(e.idx);
    case 'lload': return 1 + exprOps(e.idx);
    case 'un': case 'cast': return 1 + exprOps(e.a);
    case 'bin': return 1 + exprOps(e.a) + exprOps(e.b);
    case 'sel': return 1 + exprOps(e.c) + exprOps(e.a) + exprOps(e.b);
  }
}

/** Operations one thread executes at most (loops with bounds unknown before the run count as unbounded). */
function stmtsOps(body: readonly Stmt[], args: readonly number[]): number {
  let ops = 0;
  for (const s of body) {
    switch (s.k) {
      case 'let': case 'set': ops += 1 + exprOps(s.v); break;
      case 'store': case 'lstore': ops += 1 + exprOps(s.idx) + exprOps(s.v); break;
      case 'prefetch': ops += 1 + exprOps(s.idx); break;
      case 'for': {
        const from = evalIndex(s.from, args), to = evalIndex(s.to, args);
        if (from === undefined || to === undefined) return Number.POSITIVE_INFINITY;
        ops += Math.max(0, to - from) * (1 + stmtsOps(s.body, args));
        break;
      }
      case 'if': ops += exprOps(s.c) + Math.max(stmtsOps(s.then, args), stmtsOps(s.else ?? [], args)); break;
      default: ops += 1;
    }
  }
  return ops;
}

/**
 * Estimated operations of a whole launch: every thread of every workgroup
 * through the longest path of its kernel. A kernel without a body is
 * hand-written C (runtime-cpu/hand.ts): its work is unknown, so unbounded.
 */
export function launchWork(kernel: Program['kernels'][number], launch: Program['launches'][number]): number {
  if (kernel.ir.body.length === 0) return Number.POSITIVE_INFINITY;
  return launch.grid * kernel.workgroupSize * stmtsOps(kernel.ir.body, launch.args);
}

export interface LaunchSchedule {
  /** Per launch, what native/cpu_addon.cc reads: bit 0 = barrier before it; entry >> 1 = length of the serial run it starts. */
  entries: Int32Array;
  barriers: number;
  /** Launches inside serial runs. */
  serialLaunches: number;
}

/**
 * The barriers and serial runs for a launch list, from each launch's buffers
 * (by id: buffers that temporaries share over time are the same id, so
 * reuse is a dependency too) and their access in the kernel.
 */
export function scheduleLaunches(program: Pick<Program, 'launches' | 'kernels'>, serialWork = SERIAL_WORK): LaunchSchedule {
  const n = program.launches.length;
  const entries = new Int32Array(n);
  // Since the last barrier: buffers read and written by launches outside the
  // open serial run (they may run at the same time as anything that follows),
  // and by the open run (ordered among themselves: one thread runs them).
  let reads = new Set<number>(), writes = new Set<number>();
  let runReads = new Set<number>(), runWrites = new Set<number>();
  let runStart = -1;
  let barriers = 0, serialLaunches = 0;
  const closeRun = (): void => {
    if (runStart < 0) return;
    for (const b of runReads) reads.add(b);
    for (const b of runWrites) writes.add(b);
    runReads = new Set(); runWrites = new Set();
    runStart = -1;
  };
  const conflicts = (bufs: readonly number[], access: readonly string[], r: Set<number>, w: Set<number>): boolean =>
    bufs.some((b, i) => w.has(b) || (access[i] !== 'r' && r.has(b)));
  program.launches.forEach((launch, l) => {
    const kernel = program.kernels[launch.kernel];
    const access = launch.buffers.map((_, i) => kernel.ir.bufs[i]?.access ?? 'rw');
    // A small launch joins the open run unless it depends on what runs beside
    // the run. One workgroup runs on one thread however it is scheduled: it
    // joins an open run it depends on (a barrier fewer), else starts its own.
    const small = launchWork(kernel, launch) <= serialWork;
    const single = launch.grid <= 1;
    const joins = runStart >= 0 && (small || (single && conflicts(launch.buffers, access, runReads, runWrites))) &&
      !conflicts(launch.buffers, access, reads, writes);
    const serial = joins || small || single;
    let barrier = false;
    if (joins) {
      entries[runStart] += 2;
    } else {
      barrier = conflicts(launch.buffers, access, reads, writes) || conflicts(launch.buffers, access, runReads, runWrites);
      closeRun();
      if (barrier) { reads = new Set(); writes = new Set(); }
      if (serial) { runStart = l; entries[l] = 2; }
    }
    if (serial) serialLaunches++;
    if (barrier && l > 0) { entries[l] |= 1; barriers++; }
    const r = serial ? runReads : reads, w = serial ? runWrites : writes;
    launch.buffers.forEach((b, i) => {
      if (access[i] !== 'w') r.add(b);
      if (access[i] !== 'r') w.add(b);
    });
  });
  return { entries, barriers, serialLaunches };
}
