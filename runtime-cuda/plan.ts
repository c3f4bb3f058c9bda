// The launch list packed for one native run() call (runtime/pack-launches.ts).
import type { Program } from '../compiler/program.js';
import { packLaunchList } from '../runtime/pack-launches.js';

/** Layout read by native/cuda/cuda_addon.cc: [count, per launch: kernel, grid, block, nbufs, nargs, slots..., args...]. */
export function packCudaLaunches(program: Program, launches: Program['launches'], slot: ReadonlyMap<number, number>): BigInt64Array {
  return packLaunchList(launches, slot, (k) => program.kernels[k].workgroupSize);
}
