// The kernel registry: how every op becomes kernel code, by op name, one
// table per op family, each next to its family (compiler/ops/<family>.kernel.ts):
// per-element code the generic schedules (compiler/schedule/) inline, and the
// hand-written schedules of ops that anchor a kernel of their own.
//
// Completeness is checked by the compiler: every family declares its ops with
// literal names (Op<'name'>, op.ts), so DeclaredOpName (index.ts) is the union
// of all op names; each family's table is typed over its own names, and
// KERNELS below over all of them, so an op without a kernel, or a kernel
// naming no op, does not compile (test/compiler/kernels.test.ts keeps a
// type-level check that this stays so).
//
// Adding an op: its definition in compiler/ops/<family>.ts (a family new to
// FAMILIES in index.ts), its kernel in that family's <family>.kernel.ts table,
// and, for a new family, that table spread into KERNELS below.
import type { Lowering } from '../schedule/emit.js';
import { ELEMENTWISE_KERNELS } from './elementwise.kernel.js';
import { LAYOUT_KERNELS } from './layout.kernel.js';
import { SELECT_KERNELS } from './select.kernel.js';
import { CREATE_KERNELS } from './create.kernel.js';
import { RESIZE_KERNELS } from './resize.kernel.js';
import { BOX_KERNELS } from './boxes.kernel.js';
import { LOSS_KERNELS } from './loss.kernel.js';
import { CONV_KERNELS } from './conv.kernel.js';
import { MATMUL_KERNELS } from './matmul.kernel.js';
import { NORM_KERNELS } from './norm.kernel.js';
import { POOL_KERNELS } from './pool.kernel.js';
import { REDUCE_KERNELS } from './reduce.kernel.js';
import { MAX3D_KERNELS } from './max3d.kernel.js';
import { MAX3D_ARGMAX_KERNELS } from './max3d-argmax.kernel.js';
import { SGD_KERNELS } from './sgd.kernel.js';
import { scheduleNms } from './nms.kernel.js';
import { scheduleMatch } from './match.kernel.js';
import { DeclaredOpName, OPS } from './index.js';
import type { KernelTable, OpKernel } from './op.js';

const TABLE = {
  ...ELEMENTWISE_KERNELS,
  ...LAYOUT_KERNELS,
  ...SELECT_KERNELS,
  ...CREATE_KERNELS,
  ...RESIZE_KERNELS,
  ...BOX_KERNELS,
  ...LOSS_KERNELS,
  ...CONV_KERNELS,
  ...MATMUL_KERNELS,
  ...NORM_KERNELS,
  ...POOL_KERNELS,
  ...REDUCE_KERNELS,
  ...MAX3D_KERNELS,
  ...MAX3D_ARGMAX_KERNELS,
  ...SGD_KERNELS,
  nms: { schedule: scheduleNms },
  match: { schedule: scheduleMatch },
};

/** Does not compile when a table names an op that no family declares (a typo, or an op that was removed). */
type RequireNever<T extends never> = T;
export type KernelsWithoutOp = RequireNever<Exclude<keyof typeof TABLE, DeclaredOpName>>;

/** Every op's kernel; the type requires one for each op (DeclaredOpName). */
export const KERNELS: KernelTable<DeclaredOpName> = Object.freeze(TABLE);

/** Every op's per-element code, for the Emitter (schedules inline producers and epilogues with it). */
export const LOWERINGS: Readonly<Record<string, Lowering>> = Object.freeze(Object.fromEntries(
  Object.entries<OpKernel>(KERNELS).flatMap(([name, k]) => (k.lower ? [[name, k.lower]] : [])),
));

/** Ops of the registry (OPS) without a kernel: empty when every op can be compiled. */
export function opsWithoutKernel(): string[] {
  return Object.keys(OPS).filter((name) => !(name in KERNELS));
}

/** Kernel entries naming no op (a typo, or an op that was removed). */
export function kernelsWithoutOp(): string[] {
  return Object.keys(KERNELS).filter((name) => !(name in OPS));
}
