// The training suite: one compiled training step (forward + loss + backward
// + SGD) on the CPU runtime vs PyTorch CPU, tiny config and ResNet-50-FPN at
// 320×320 (bench/train.ts does the measuring).
import type { BenchRow, BenchSuite } from './run.js';
import { R50, TINY, benchTrainConfig } from './train.js';
import { ensureTorchBaseline } from './torch-env.js';

export const trainSuite: BenchSuite = {
  name: 'train',
  title: 'Training step: fusedet CPU runtime vs PyTorch CPU (same DeFCN graph, SGD)',
  async run() {
    const rows: BenchRow[] = [];
    const notes: string[] = ensureTorchBaseline();
    const raw: Record<string, unknown> = {};
    const configs = process.env.FUSEDET_BENCH_TRAIN === 'tiny' ? [TINY] : [TINY, R50];
    for (const c of configs) {
      const r = benchTrainConfig(c);
      raw[c.name] = r;
      const ratio = (a: number | null, b: number | null): number | null => (a && b ? b / a : null);
      rows.push({ what: `${c.name}: step time`, ours: r.ours.seconds ?? NaN, baseline: r.torch.seconds, baselineName: 'PyTorch CPU', unit: 's', ratio: ratio(r.ours.seconds, r.torch.seconds), target: '≤ 1.5× PyTorch\'s time' });
      rows.push({ what: `${c.name}: peak RSS`, ours: r.ours.peakRssMiB ?? NaN, baseline: r.torch.peakRssMiB, baselineName: 'PyTorch CPU', unit: 'MiB', ratio: ratio(r.ours.peakRssMiB, r.torch.peakRssMiB) });
      if (r.ours.error) notes.push(`${c.name}: fusedet: ${r.ours.error}`);
      if (r.torch.error) notes.push(`${c.name}: PyTorch: ${r.torch.error}`);
    }
    return { rows, raw, notes };
  },
};
