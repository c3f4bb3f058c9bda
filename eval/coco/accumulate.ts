// COCOeval.accumulate for one category: detections of all images merged in
// descending score (stable: image id, then rank in the image), cumulative
// TP/FP, precision made monotone right to left and sampled at the recall
// thresholds with searchsorted(side='left'); -1 where no ground truth counts.
import { A, M, MAX_DETS, R, RECALL_THRESHOLDS, T } from './params.js';
import { IGNORED, TP } from './match.js';

/** Per category: what summarize() needs, indexed [t][a][m]. */
export interface CategoryResult {
  /** Sum over the 101 recall thresholds of interpolated precision; -1 if undefined. */
  readonly precisionSum: Float64Array;
  /** Recall at the last detection; -1 if undefined. */
  readonly recall: Float64Array;
}

export const cell = (t: number, a: number, m: number): number => (t * A + a) * M + m;

/** numpy.spacing(1): the epsilon COCOeval adds to TP + FP. */
const EPS = 2.220446049250313e-16;

let rc = new Float64Array(0);
let pr = new Float64Array(0);

/**
 * `score`, `rank` (position within its image after sorting) and `status`
 * (A*T bytes a detection) hold the category's detections in image order;
 * `anyGroup` says whether any image had ground truth or detections.
 */
export function accumulateCategory(
  n: number, score: Float64Array, rank: Uint8Array, status: Uint8Array, nonIgnoredGt: Float64Array, anyGroup: boolean,
): CategoryResult {
  const precisionSum = new Float64Array(T * A * M).fill(-1);
  const recall = new Float64Array(T * A * M).fill(-1);
  if (!anyGroup) return { precisionSum, recall };
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  // Index as the tie-break: the merged order is numpy's stable mergesort.
  perm.sort((i, j) => (score[j] - score[i]) || (i - j));
  if (rc.length < n) { rc = new Float64Array(n); pr = new Float64Array(n); }
  for (let a = 0; a < A; a++) {
    const npig = nonIgnoredGt[a];
    if (npig === 0) continue;
    for (let m = 0; m < M; m++) {
      const maxDet = MAX_DETS[m];
      for (let t = 0; t < T; t++) {
        let tp = 0, fp = 0, nd = 0;
        for (let k = 0; k < n; k++) {
          const d = perm[k];
          if (rank[d] >= maxDet) continue;
          const s = status[d * A * T + a * T + t];
          if (s === TP) tp++;
          else if (s !== IGNORED) fp++;
          rc[nd] = tp / npig;
          pr[nd] = tp / (fp + tp + EPS);
          nd++;
        }
        recall[cell(t, a, m)] = nd ? rc[nd - 1] : 0;
        for (let i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
        let sum = 0;
        let i = 0;
        for (let r = 0; r < R; r++) {
          const thr = RECALL_THRESHOLDS[r];
          while (i < nd && rc[i] < thr) i++;
          if (i >= nd) break;
          sum += pr[i];
        }
        precisionSum[cell(t, a, m)] = sum;
      }
    }
  }
  return { precisionSum, recall };
}
