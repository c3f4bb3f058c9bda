// COCOeval's default bbox parameters, bit for bit: numpy's linspace computes
// start + i * step (last = stop), and the matching and the AP75 lookup
// depend on those exact doubles.
export const IOU_THRESHOLDS: Float64Array = (() => {
  const step = (0.95 - 0.5) / 9;
  const out = new Float64Array(10);
  for (let i = 0; i < 10; i++) out[i] = i * step + 0.5;
  out[9] = 0.95;
  return out;
})();

export const RECALL_THRESHOLDS: Float64Array = (() => {
  const out = new Float64Array(101);
  for (let i = 0; i < 101; i++) out[i] = i * 0.01;
  out[100] = 1;
  return out;
})();

export const MAX_DETS = [1, 10, 100] as const;

/** all, small, medium, large: [lo, hi], inclusive on both ends as in COCOeval. */
export const AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10], [0, 32 * 32], [32 * 32, 96 * 96], [96 * 96, 1e10],
];
export const AREA_LABELS = ['all', 'small', 'medium', 'large'] as const;

export const T = IOU_THRESHOLDS.length;
export const A = AREA_RANGES.length;
export const M = MAX_DETS.length;
export const R = RECALL_THRESHOLDS.length;
