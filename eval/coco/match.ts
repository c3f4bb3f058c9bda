// Matching for one (image, category): COCOeval.computeIoU + evaluateImg,
// rule for rule, on typed arrays. The outcome for each detection, area range
// and IoU threshold is one byte (FP, TP or ignored), which is all that
// accumulate() needs.
import { A, AREA_RANGES, IOU_THRESHOLDS, T } from './params.js';

export const FP = 0, TP = 1, IGNORED = 2;

/** The ground truth of one group, in file order. */
export interface GtGroup {
  count: number;
  readonly rows: Int32Array;
  readonly bbox: Float64Array;
  readonly area: Float64Array;
  readonly iscrowd: Uint8Array;
  readonly id: Float64Array;
}

/** The detections of one group, already sorted by score and cut to maxDets. */
export interface DetGroup {
  count: number;
  readonly rows: Int32Array;
  readonly bbox: Float64Array;
}

let iou = new Float64Array(0);
let order = new Int32Array(0);
let gIgnore = new Uint8Array(0);
let gMatched = new Uint8Array(0);

function ensure(nd: number, ng: number): void {
  if (iou.length < nd * ng) iou = new Float64Array(Math.max(nd * ng, iou.length * 2));
  if (order.length < ng) {
    const n = Math.max(ng, order.length * 2);
    order = new Int32Array(n); gIgnore = new Uint8Array(n); gMatched = new Uint8Array(n);
  }
}

/**
 * pycocotools' bbIou: the union for a crowd region is the detection's own
 * area, so a detection inside a crowd box scores high however big the box.
 */
function computeIou(gt: GtGroup, dt: DetGroup): void {
  const ng = gt.count, nd = dt.count;
  for (let g = 0; g < ng; g++) {
    const gb = 4 * gt.rows[g];
    const gx = gt.bbox[gb], gy = gt.bbox[gb + 1], gw = gt.bbox[gb + 2], gh = gt.bbox[gb + 3];
    const ga = gw * gh;
    const crowd = gt.iscrowd[gt.rows[g]] !== 0;
    for (let d = 0; d < nd; d++) {
      const db = 4 * dt.rows[d];
      const dx = dt.bbox[db], dy = dt.bbox[db + 1], dw = dt.bbox[db + 2], dh = dt.bbox[db + 3];
      let o = 0;
      const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
      if (w > 0) {
        const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
        if (h > 0) {
          const inter = w * h;
          const da = dw * dh;
          o = inter / (crowd ? da : da + ga - inter);
        }
      }
      iou[d * ng + g] = o;
    }
  }
}

/**
 * Writes out[d * A * T + a * T + t] for each detection d. Returns nothing;
 * `nonIgnoredGt[a]` is increased by the group's counted ground truth.
 */
export function matchGroup(gt: GtGroup, dt: DetGroup, out: Uint8Array, outOffset: number, nonIgnoredGt: Float64Array): void {
  const ng = gt.count, nd = dt.count;
  if (ng === 0) {
    // Common (a detection in a category the image lacks): nothing to match.
    for (let d = 0; d < nd; d++) {
      for (let a = 0; a < A; a++) {
        const s = outOfRange(dt, d, AREA_RANGES[a][0], AREA_RANGES[a][1]) ? IGNORED : FP;
        out.fill(s, outOffset + d * A * T + a * T, outOffset + d * A * T + a * T + T);
      }
    }
    return;
  }
  ensure(nd, ng);
  if (nd > 0) computeIou(gt, dt);
  for (let a = 0; a < A; a++) {
    const lo = AREA_RANGES[a][0], hi = AREA_RANGES[a][1];
    // Counted ground truth first, then crowd and out-of-range, each in file
    // order (numpy's stable mergesort on the ignore flag).
    let k = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (let g = 0; g < ng; g++) {
        const row = gt.rows[g];
        const ar = gt.area[row];
        const ig = gt.iscrowd[row] !== 0 || ar < lo || ar > hi ? 1 : 0;
        if (ig === pass) { order[k] = g; gIgnore[k] = ig; k++; }
      }
    }
    let counted = 0;
    for (let g = 0; g < ng; g++) if (gIgnore[g] === 0) counted++;
    nonIgnoredGt[a] += counted;
    for (let t = 0; t < T; t++) {
      const thr = Math.min(IOU_THRESHOLDS[t], 1 - 1e-10);
      gMatched.fill(0, 0, ng);
      for (let d = 0; d < nd; d++) {
        let best = thr;
        let m = -1;
        const base = d * ng;
        for (let s = 0; s < ng; s++) {
          const g = order[s];
          if (gMatched[s] && !gt.iscrowd[gt.rows[g]]) continue;
          if (m > -1 && gIgnore[m] === 0 && gIgnore[s] === 1) break;
          const v = iou[base + g];
          if (v < best) continue;
          best = v;
          m = s;
        }
        let status: number;
        if (m === -1) status = outOfRange(dt, d, lo, hi) ? IGNORED : FP;
        else {
          gMatched[m] = 1;
          // COCOeval keeps the matched ground truth's id and later reads it
          // as a boolean: a match to an annotation with id 0 counts as none.
          const matchedId = gt.id[gt.rows[order[m]]];
          if (gIgnore[m]) status = IGNORED;
          else if (matchedId !== 0) status = TP;
          else status = outOfRange(dt, d, lo, hi) ? IGNORED : FP;
        }
        out[outOffset + d * A * T + a * T + t] = status;
      }
    }
  }
}

function outOfRange(dt: DetGroup, d: number, lo: number, hi: number): boolean {
  const b = 4 * dt.rows[d];
  const area = dt.bbox[b + 2] * dt.bbox[b + 3];
  return area < lo || area > hi;
}
