// The launch list packed for one native call, shared by the CPU and CUDA
// addons: a BigInt64Array [count, per launch: kernel, grid, (block,) nbufs,
// nargs, buffer slots..., args...]. The CUDA layout adds the block size (the
// kernel's workgroup size) after the grid; the CPU's has no such field.
import type { Program } from '../compiler/program.js';

export function packLaunchList(launches: Program['launches'], slot: ReadonlyMap<number, number>, blockOf?: (kernel: number) => number): BigInt64Array {
  const header = blockOf ? 5 : 4;
  let n = 1;
  for (const l of launches) n += header + l.buffers.length + l.args.length;
  const plan = new BigInt64Array(n);
  plan[0] = BigInt(launches.length);
  let at = 1;
  for (const l of launches) {
    plan[at++] = BigInt(l.kernel);
    plan[at++] = BigInt(l.grid);
    if (blockOf) plan[at++] = BigInt(blockOf(l.kernel));
    plan[at++] = BigInt(l.buffers.length);
    plan[at++] = BigInt(l.args.length);
    for (const b of l.buffers) {
      const s = slot.get(b);
      if (s === undefined) throw new Error(`launch of kernel ${l.kernel} uses buffer ${b}, which the program does not declare`);
      plan[at++] = BigInt(s);
    }
    for (const a of l.args) plan[at++] = BigInt(a);
  }
  return plan;
}
