// The op registry: every builtin the language can call, by name.
import { OpDef } from './op.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { CONV_OPS } from './conv.js';
import { MATMUL_OPS } from './matmul.js';

function registry(families: readonly (readonly OpDef[])[]): Readonly<Record<string, OpDef>> {
  const out: Record<string, OpDef> = {};
  for (const fam of families) for (const def of fam) {
    if (out[def.name]) throw new Error(`op '${def.name}' is defined twice`);
    out[def.name] = def;
  }
  return Object.freeze(out);
}

export const OPS: Readonly<Record<string, OpDef>> = registry([
  ELEMENTWISE_OPS, CONV_OPS, MATMUL_OPS,
]);
