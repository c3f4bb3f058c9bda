// COCOeval.accumulate for one category: detections of all images merged in
// descending score (stable: image id, then rank in the image), cumulative
// TP/FP, precision made monotone right to left and sampled at the recall
// thresholds with searchsorted(side='left'); -1 where no ground truth counts.
//
// Only the cells summarize() reads are computed: precision at maxDets 100
// for every area range, and recall at maxDets 1/10/100 for all areas and at
// 100 for the others. The arithmetic per cell is COCOeval's, in the same
// order, so the numbers are the same doubles.
import { A, M, MAX_DETS, R, RECALL_THRESHOLDS, T } from './params.js';
import { IGNORED, TP } from './match.js';

/** Per category: what summarize() needs, indexed by cell(t, a, m). */
export interface CategoryResult {
  /** Sum over the 101 recall thresholds of interpolated precision; -1 if undefined. */
  readonly precisionSum: Float64Array;
  /** Recall at the last detection; -1 if undefined. */
  readonly recall: Float64Array;
}

export const cell = (t: number, a: number, m: number): number => (t * A + a) * M + m;

/** numpy.spacing(1): the epsilon COCOeval adds to TP + FP. */
const EPS = 2.220446049250313e-16;
const LAST = M - 1;
const AT = A * T;

let sortedStatus = new Uint8Array(0);
let sortedRank = new Uint8Array(0);
let rc = new Float64Array(0);
let pr = new Float64Array(0);
const tp = new Float64Array(T), fp = new Float64Array(T);

/** Detection order for the merge: descending score, index breaking ties. */
function mergeOrder(n: number, score: Float64Array): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  perm.sort((i, j) => (score[j] - score[i]) || (i - j));
  return perm;
}

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
  const perm = mergeOrder(n, score);
  // Gathered once into merge order, so the passes below read memory in sequence.
  if (sortedStatus.length < n * AT) sortedStatus = new Uint8Array(n * AT);
  if (sortedRank.length < n) sortedRank = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const d = perm[k];
    sortedRank[k] = rank[d];
    for (let j = 0; j < AT; j++) sortedStatus[k * AT + j] = status[d * AT + j];
  }
  if (rc.length < n * T) { rc = new Float64Array(n * T); pr = new Float64Array(n * T); }
  for (let a = 0; a < A; a++) {
    const npig = nonIgnoredGt[a];
    if (npig === 0) continue;
    if (a === 0) for (let m = 0; m < LAST; m++) recallOnly(n, a, m, npig, recall);
    precisionAndRecall(n, a, npig, precisionSum, recall);
  }
  return { precisionSum, recall };
}

/** Recall at a maxDets below 100: the final TP count is all it needs. */
function recallOnly(n: number, a: number, m: number, npig: number, recall: Float64Array): void {
  const maxDet = MAX_DETS[m];
  let nd = 0;
  tp.fill(0);
  for (let k = 0; k < n; k++) {
    if (sortedRank[k] >= maxDet) continue;
    nd++;
    const base = k * AT + a * T;
    for (let t = 0; t < T; t++) if (sortedStatus[base + t] === TP) tp[t]++;
  }
  for (let t = 0; t < T; t++) recall[cell(t, a, m)] = nd ? tp[t] / npig : 0;
}

/** maxDets 100 keeps every detection the matcher saw. */
function precisionAndRecall(n: number, a: number, npig: number, precisionSum: Float64Array, recall: Float64Array): void {
  tp.fill(0);
  fp.fill(0);
  for (let k = 0; k < n; k++) {
    const base = k * AT + a * T;
    for (let t = 0; t < T; t++) {
      const s = sortedStatus[base + t];
      if (s === TP) tp[t]++;
      else if (s !== IGNORED) fp[t]++;
      rc[t * n + k] = tp[t] / npig;
      pr[t * n + k] = tp[t] / (fp[t] + tp[t] + EPS);
    }
  }
  for (let t = 0; t < T; t++) {
    const o = t * n;
    recall[cell(t, a, LAST)] = n ? rc[o + n - 1] : 0;
    for (let i = n - 1; i > 0; i--) if (pr[o + i] > pr[o + i - 1]) pr[o + i - 1] = pr[o + i];
    let sum = 0;
    let i = 0;
    for (let r = 0; r < R; r++) {
      const thr = RECALL_THRESHOLDS[r];
      while (i < n && rc[o + i] < thr) i++;
      if (i >= n) break;
      sum += pr[o + i];
    }
    precisionSum[cell(t, a, LAST)] = sum;
  }
}
