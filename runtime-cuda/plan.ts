// The launch list packed for one native run() call.
import type { Program } from '../compiler/program.js';

/** BigInt64Array layout read by native/cuda/cuda_addon.cc: [count, per launch: kernel, grid, block, nbufs, nargs, slots..., args...]. */
export function packCudaLaunches(program: Program, launches: Program['launches'], slot: ReadonlyMap<number, number>): BigInt64Array {
  let n = 1;
  for (const l of launches) n += 5 + l.buffers.length + l.args.length;
  const plan = new BigInt64Array(n);
  plan[0] = BigInt(launches.length);
  let at = 1;
  for (const l of launches) {
    plan[at++] = BigInt(l.kernel);
    plan[at++] = BigInt(l.grid);
    plan[at++] = BigInt(program.kernels[l.kernel].workgroupSize);
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
