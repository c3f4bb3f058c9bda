// The launch list packed for one native call (runtime/pack-launches.ts).
import type { Program } from '../compiler/program.js';
import { packLaunchList } from '../runtime/pack-launches.js';

/** Layout read by native/cpu_addon.cc: [count, per launch: kernel, grid, nbufs, nargs, bufs..., args...]. */
export function packLaunches(launches: Program['launches'], slot: ReadonlyMap<number, number>): BigInt64Array {
  return packLaunchList(launches, slot);
}
