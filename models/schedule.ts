// The learning-rate schedule, computed on the host and fed to the compiled
// step as a scalar: linear warm-up from lr·warmupFactor over `warmup`
// iterations (detectron2's WarmupMultiStepLR), then ×gamma at each step in
// `milestones`.
export interface Schedule {
  lr: number;
  warmup: number;
  /** Start of the warm-up as a fraction of lr (DEFCN.md: 1/1000). */
  warmupFactor: number;
  milestones: readonly number[];
  gamma: number;
}

export function lrAt(s: Schedule, step: number): number {
  let f = 1;
  if (step < s.warmup) {
    const alpha = step / s.warmup;
    f = s.warmupFactor * (1 - alpha) + alpha;
  }
  const decays = s.milestones.filter((m) => step >= m).length;
  return s.lr * f * s.gamma ** decays;
}
