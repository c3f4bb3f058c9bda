// What a launch costs on the CPU runtime's thread pool beyond its kernel
// (issue 16: ~1,090 launches per R50 training step, each waiting for every
// thread), measured in one run against the pool's old way of running the
// same list: a barrier after every launch, every launch split over the
// threads. Two lists of 2,000 launches of a tiny kernel (64 additions per
// workgroup), each ratio in this run:
//  - a dependent chain of one-workgroup launches: barrier each vs one serial
//    run (runtime-cpu/plan.ts makes one of consecutive small launches; a list
//    of serial runs only runs on the calling thread, the pool not woken);
//  - independent four-workgroup launches (16 output buffers in turn): barrier
//    each vs a barrier only where a launch reuses a buffer of the last 16.
// Plus the counts for the ResNet-50-FPN DeFCN training step (fixed targets,
// 1×320×320): launches, and the barriers and serial launches of its schedule.
import type { BenchRow, BenchSuite } from './run.js';
import { buildLibrary } from '../runtime-cpu/build.js';
import { nativeOrThrow } from '../runtime-cpu/load.js';
import { packLaunches, scheduleLaunches } from '../runtime-cpu/plan.js';
import { scaled } from './train.js';

const WG = 64;
const LAUNCHES = 2000;
const OUTPUTS = 16;

const SOURCE = `#include <stdint.h>
/* y[i] = x[i] + 1 over the workgroup's ${WG} elements. */
void add_one(void *const *bufs, const int64_t *args, int64_t wg_begin, int64_t wg_end) {
  const float *x = bufs[0];
  float *y = bufs[1];
  (void)args;
  for (int64_t g = wg_begin; g < wg_end; g++)
    for (int64_t i = g * ${WG}; i < (g + 1) * ${WG}; i++) y[i] = x[i] + 1.0f;
}
`;

type Launch = { kernel: number; buffers: number[]; args: number[]; grid: number };

/** Best seconds per launch of `runs` runs of the list. */
function perLaunch(run: () => void, launches: number, runs: number): number {
  run();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best / launches;
}

/** Launches, barriers and serial launches of the R50-FPN DeFCN fixed-target training step as compiled for the CPU. */
async function r50Counts(): Promise<{ launches: number; barriers: number; serial: number; sgd: number }> {
  const { checkFiles } = await import('../dsl/index.js');
  const { lower } = await import('../compiler/lower.js');
  const { differentiate } = await import('../compiler/autodiff.js');
  const { DEFAULT_SGD } = await import('../compiler/optimizer.js');
  const { buildTrainStep } = await import('../compiler/train-step.js');
  const { compileGraph } = await import('../compiler/program.js');
  const { CPU } = await import('../compiler/target.js');
  const { defcnTargetTypes } = await import('../models/fixed-batch.js');
  const { program } = checkFiles(['models/defcn-train.fd']);
  const image = { dtype: 'f32' as const, shape: [1, 3, 320, 320] };
  const graph = lower(program!, { entry: 'DeFCNTrain', fn: 'loss_fixed', inputs: { image, ...defcnTargetTypes(1, 80, 320) }, args: { depth: 50, width: 64, C: 256, K: 80, groups: 32 } });
  const step = buildTrainStep(graph, { sgd: DEFAULT_SGD, differentiate });
  const p = compileGraph(step.graph, CPU);
  const s = scheduleLaunches(p);
  const updates = new Set(Object.values(p.updates ?? {}));
  const sgd = p.launches.filter((l) => l.buffers.some((b, i) => updates.has(b) && p.kernels[l.kernel].ir.bufs[i].access !== 'r')).length;
  return { launches: p.launches.length, barriers: s.barriers, serial: s.serialLaunches, sgd };
}

export const launchSuite: BenchSuite = {
  name: 'launch',
  title: 'CPU runtime launch overhead: the thread pool\'s schedule (barriers only at dependencies, serial runs of small launches) vs a barrier after every launch',
  async run() {
    const native = nativeOrThrow();
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const { path } = await buildLibrary([SOURCE]);
    const lib = native.loadLibrary(path, ['add_one']);
    const runs = scaled(20);
    const old = 'barrier after every launch, each split over the threads (the pool before issue 16)';

    // Dependent chain: launch k reads what launch k - 1 wrote (ping-pong).
    const chainBufs = [new Float32Array(WG), new Float32Array(WG)];
    const chain: Launch[] = Array.from({ length: LAUNCHES }, (_, k) => ({ kernel: 0, buffers: [k % 2, (k + 1) % 2], args: [], grid: 1 }));
    const slot2 = new Map([[0, 0], [1, 1]]);
    const chainPlan = packLaunches(chain, slot2);
    const serialRun = new Int32Array(LAUNCHES);
    serialRun[0] = LAUNCHES << 1;
    const chainOld = perLaunch(() => native.runLaunches(lib, chainPlan, chainBufs), LAUNCHES, runs);
    const chainNew = perLaunch(() => native.runLaunches(lib, chainPlan, chainBufs, serialRun), LAUNCHES, runs);
    if (chainBufs[LAUNCHES % 2][0] !== (runs + 1) * 2 * LAUNCHES) notes.push(`the dependent chain counted ${chainBufs[LAUNCHES % 2][0]}, not ${(runs + 1) * 2 * LAUNCHES}: launches ran out of order`);
    rows.push({ what: `dependent chain of ${LAUNCHES} one-workgroup launches: time per launch`, ours: chainNew * 1e6, baseline: chainOld * 1e6, baselineName: old, unit: 'µs', ratio: chainOld / chainNew });

    // Independent launches: launch k writes output k % OUTPUTS from one shared input.
    const grid = 4;
    const input = new Float32Array(grid * WG);
    const outs = Array.from({ length: OUTPUTS }, () => new Float32Array(grid * WG));
    const wide: Launch[] = Array.from({ length: LAUNCHES }, (_, k) => ({ kernel: 0, buffers: [0, 1 + (k % OUTPUTS)], args: [], grid }));
    const slots = new Map(Array.from({ length: OUTPUTS + 1 }, (_, i) => [i, i] as [number, number]));
    const widePlan = packLaunches(wide, slots);
    const barrierOnReuse = Int32Array.from({ length: LAUNCHES }, (_, k) => (k > 0 && k % OUTPUTS === 0 ? 1 : 0));
    const wideOld = perLaunch(() => native.runLaunches(lib, widePlan, [input, ...outs]), LAUNCHES, runs);
    const wideNew = perLaunch(() => native.runLaunches(lib, widePlan, [input, ...outs], barrierOnReuse), LAUNCHES, runs);
    rows.push({ what: `${LAUNCHES} independent four-workgroup launches (a barrier every ${OUTPUTS}): time per launch`, ours: wideNew * 1e6, baseline: wideOld * 1e6, baselineName: old, unit: 'µs', ratio: wideOld / wideNew });

    try {
      const c = await r50Counts();
      notes.push(`ResNet-50-FPN DeFCN training step (fixed targets, 1×320×320) compiled for the CPU: ${c.launches} launches (${c.sgd} SGD updates), ${c.barriers} barriers (was one per launch), ${c.serial} launches in serial runs`);
    } catch (e) {
      notes.push(`R50 step counts failed: ${(e as Error).message.split('\n')[0]}`);
    }
    notes.push(`${native.threads()} pool threads; best of ${runs} runs each; a shared machine makes barriers dearer (a descheduled thread holds the others), so compare the ratios, not the times, across runs`);
    return { rows, raw: { chainOld, chainNew, wideOld, wideNew }, notes };
  },
};

