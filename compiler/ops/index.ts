// The op registry: every builtin the language can call, by name.
import { OpDef } from './op.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { CONV_OPS } from './conv.js';
import { MATMUL_OPS } from './matmul.js';
import { NORM_OPS } from './norm.js';
import { POOL_OPS } from './pool.js';
import { RESIZE_OPS } from './resize.js';
import { LAYOUT_OPS } from './layout.js';
import { REDUCE_OPS } from './reduce.js';
import { SELECT_OPS } from './select.js';
import { CREATE_OPS } from './create.js';
import { BOX_OPS } from './boxes.js';
import { MAX3D_OPS } from './max3d.js';
import { MAX3D_ARGMAX_OPS } from './max3d-argmax.js';
import { MATCH_OPS } from './match.js';
import { NMS_OPS } from './nms.js';
import { LOSS_OPS } from './loss.js';
import { SGD_OPS } from './sgd.js';

function registry(families: readonly (readonly OpDef[])[]): Readonly<Record<string, OpDef>> {
  const out: Record<string, OpDef> = {};
  for (const fam of families) for (const def of fam) {
    if (out[def.name]) throw new Error(`op '${def.name}' is defined twice`);
    out[def.name] = def;
  }
  return Object.freeze(out);
}

/** Every family, as a tuple, so the kernel registry (kernels.ts) sees each op's literal name. */
export const FAMILIES = [
  ELEMENTWISE_OPS, CONV_OPS, MATMUL_OPS, NORM_OPS, POOL_OPS, RESIZE_OPS, LAYOUT_OPS,
  REDUCE_OPS, SELECT_OPS, CREATE_OPS, BOX_OPS, MAX3D_OPS, MATCH_OPS, NMS_OPS, LOSS_OPS,
  MAX3D_ARGMAX_OPS, SGD_OPS,
] as const;

/** Every op's name, as a union of literal types: the kernel registry (kernels.ts) requires a kernel for each. */
export type DeclaredOpName = (typeof FAMILIES)[number][number]['name'];

/**
 * Does not compile when some family types an op's name as plain `string`
 * (OpDef instead of Op<'name'>, an op list without `as const`): the union
 * above would widen to string and no kernel would be required any more.
 */
type RequireTrue<T extends true> = T;
export type EveryOpNameIsLiteral = RequireTrue<string extends DeclaredOpName ? false : true>;

export const OPS: Readonly<Record<string, OpDef>> = registry(FAMILIES);
