// The evaluation suite: `fusedet eval` vs pycocotools on the same 5,000-image,
// 100-detections-per-image pair (bench/eval.ts does the measuring).
import { benchEval } from './eval.js';
import type { BenchSuite } from './run.js';

export const evalSuite: BenchSuite = {
  name: 'eval',
  title: 'COCO evaluation: fusedet eval vs pycocotools (5,000 images × 100 detections, child processes)',
  async run() {
    const r = await benchEval({ images: Number(process.env.FUSEDET_BENCH_EVAL_IMAGES) || 5000 });
    const rows = [
      { what: 'wall time', ours: r.oursSeconds, baseline: r.theirsSeconds, baselineName: 'pycocotools', unit: 's', ratio: r.ratio, target: '≥ 5× faster' },
      {
        what: 'CPU time', ours: r.oursCpuSeconds ?? NaN, baseline: r.theirsCpuSeconds, baselineName: 'pycocotools', unit: 's',
        ratio: r.oursCpuSeconds && r.theirsCpuSeconds ? r.theirsCpuSeconds / r.oursCpuSeconds : null,
      },
      {
        what: 'peak RSS', ours: r.oursPeakRssMiB ?? NaN, baseline: r.theirsPeakRssMiB, baselineName: 'pycocotools', unit: 'MiB',
        ratio: r.oursPeakRssMiB && r.theirsPeakRssMiB ? r.theirsPeakRssMiB / r.oursPeakRssMiB : null,
      },
    ];
    const notes = [...r.notes];
    if (r.maxAbsDiff !== null) notes.push(`the 12 summary numbers agree within ${r.maxAbsDiff.toExponential(1)}`);
    return { rows, raw: r, notes };
  },
};
