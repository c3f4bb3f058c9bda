// Workspaces (Scheduled.scratch) inside a kernel body. A schedule binds its
// graph buffers as it goes (the fused epilogue binds some last), so a kernel
// addresses its i-th workspace as the placeholder buffer workspaceSlot(i)
// and withWorkspaces renumbers it past the graph buffers once the body is
// finished, appending the workspace to the kernel's buffer list.
import { Expr, Stmt } from '../kernel/ir.js';
import { mapChildren, mapStmtExprs } from '../kernel/walk.js';
import { ScheduleError } from './emit.js';
import type { Scheduled } from './pointwise.js';

export type Workspace = NonNullable<Scheduled['scratch']>[number];

/** The placeholder buffer index of workspace i (negative: never a graph buffer's). */
export const workspaceSlot = (i: number): number => -1 - i;

/** `s` with `work` bound after its graph buffers (placeholder slots renumbered), reporting `flops` when given instead of the group's. */
export function withWorkspaces(s: Scheduled, work: readonly { space: Workspace; access: 'r' | 'w' | 'rw' }[], flops?: number): Scheduled {
  if (s.scratch?.length) throw new ScheduleError('withWorkspaces: the launch already binds workspaces');
  const first = s.bufValues.length;
  const slot = (b: number): number => {
    if (b >= 0) return b;
    const i = -1 - b;
    if (i >= work.length) throw new ScheduleError(`a kernel addresses workspace ${i} of ${work.length}`);
    return first + i;
  };
  const ex = (e: Expr): Expr => (e.k === 'load' ? { ...e, buf: slot(e.buf), idx: ex(e.idx) } : mapChildren(e, ex));
  const st = (x: Stmt): Stmt => {
    switch (x.k) {
      case 'store': case 'prefetch': return { ...mapStmtExprs(x, ex), buf: slot(x.buf) } as Stmt;
      case 'for': return { ...x, from: ex(x.from), to: ex(x.to), body: x.body.map(st) };
      case 'if': return { ...x, c: ex(x.c), then: x.then.map(st), ...(x.else ? { else: x.else.map(st) } : {}) };
      default: return mapStmtExprs(x, ex);
    }
  };
  return {
    ...s,
    kernel: { ...s.kernel, body: s.kernel.body.map(st), bufs: [...s.kernel.bufs, ...work.map((w) => ({ dtype: w.space.dtype, access: w.access }))] },
    scratch: work.map((w) => w.space),
    ...(flops !== undefined ? { flops } : {}),
  };
}
