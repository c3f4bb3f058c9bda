// The kernel registry: how every op becomes kernel code, by op name, one
// table per op family. Hand-scheduled ops keep their kernels next to the op
// (compiler/ops/<family>.kernel.ts); ops the generic schedules handle keep
// their per-element code in the lowering tables of compiler/schedule/
// (lower-*.ts), which only say how an element is computed.
//
// Completeness: an op declared with a literal name (Op<'name'>, see op.ts)
// must have an entry here or this file does not compile; every other op is
// checked by test/compiler/kernels.test.ts and, at compile time, by the
// scheduler's "has no kernel yet" error naming the op.
//
// Adding an op: its family file (compiler/ops/<family>.ts, in FAMILIES of
// index.ts), its kernel (a row of a lowering table, or <family>.kernel.ts with
// a KernelTable), and that table spread into KERNELS below.
import type { Lowering } from '../schedule/emit.js';
import { ELEMENTWISE_LOWERINGS } from '../schedule/lower-elementwise.js';
import { GATHER_LOWERINGS } from '../schedule/lower-gather.js';
import { DETECT_LOWERINGS } from '../schedule/lower-detect.js';
import { GRAD_LOWERINGS } from '../schedule/lower-grad.js';
import { scheduleSort, scheduleTopk } from '../schedule/sort.js';
import { CONV_KERNELS } from './conv.kernel.js';
import { MATMUL_KERNELS } from './matmul.kernel.js';
import { NORM_KERNELS } from './norm.kernel.js';
import { POOL_KERNELS } from './pool.kernel.js';
import { REDUCE_KERNELS } from './reduce.kernel.js';
import { MAX3D_KERNELS } from './max3d.kernel.js';
import { MAX3D_ARGMAX_KERNELS } from './max3d-argmax.kernel.js';
import { scheduleNms } from './nms.kernel.js';
import { scheduleMatch } from './match.kernel.js';
import { DeclaredOpName, OPS } from './index.js';
import type { KernelTable, OpKernel } from './op.js';

/** A lowering table as kernels: per-element code only. */
function lowered<N extends string>(table: { readonly [K in N]: Lowering }): KernelTable<N> {
  return Object.fromEntries(Object.entries<Lowering>(table).map(([name, lower]) => [name, { lower }])) as KernelTable<N>;
}

const TABLE = {
  ...lowered(ELEMENTWISE_LOWERINGS),
  ...lowered(GATHER_LOWERINGS),
  ...lowered(DETECT_LOWERINGS),
  ...lowered(GRAD_LOWERINGS),
  ...CONV_KERNELS,
  ...MATMUL_KERNELS,
  ...NORM_KERNELS,
  ...POOL_KERNELS,
  ...REDUCE_KERNELS,
  ...MAX3D_KERNELS,
  ...MAX3D_ARGMAX_KERNELS,
  topk: { schedule: scheduleTopk },
  sort: { schedule: scheduleSort },
  nms: { schedule: scheduleNms },
  match: { schedule: scheduleMatch },
};

/** The ops that have a kernel. */
export type KernelOpName = keyof typeof TABLE;

/** Every op's kernel; the type requires one for each literally named op (DeclaredOpName). */
export const KERNELS: KernelTable<DeclaredOpName> & Readonly<Record<string, OpKernel>> = Object.freeze(TABLE);

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
