// Per-image matching of the CrowdHuman protocol, as the authors' evaluation
// code does it (cvpods `evaluation/crowdhumantools.py`, `compare_caltech`;
// the same as CrowdDet's APMRToolkits). Every detail that changes a number is
// kept: boxes become x1,y1,x2,y2 = x,y,x+w,y+h; clipping uses width−1 for the
// top-left corner but width for the bottom-right; IoU and IoA carry +1e-6 in
// the denominator; ties keep file order (Python's sort is stable).

/** Weight of a ground-truth box in matching, as the reference encodes it. */
export const enum GtKind {
  /** A counted object (tag `person`, or any tag in class-agnostic mode). */
  Counted = 1,
  /**
   * Tag `background` in person mode: the reference gives it class index 0,
   * so it counts in the GT total but matches like an ignore region.
   */
  Background = 0,
  /** An ignore region (other tags, tag `mask`, `extra.ignore` ≠ 0). */
  Ignore = -1,
}

export const MATCH_IOU = 0.5;
const EPS = 1e-6;

/** One image's ground truth, boxes as x1,y1,x2,y2 (not yet clipped). */
export interface GtImage {
  boxes: Float64Array;
  kinds: Int8Array;
  width?: number;
  height?: number;
}

/** Outcome per detection, in the detection's original order. */
export const enum DetOutcome { FalsePositive = 0, TruePositive = 1, Ignored = -1 }

function clipInPlace(b: Float64Array, width: number, height: number): void {
  for (let i = 0; i < b.length; i += 4) {
    b[i] = Math.min(Math.max(b[i]!, 0), width - 1);
    b[i + 1] = Math.min(Math.max(b[i + 1]!, 0), height - 1);
    b[i + 2] = Math.max(Math.min(b[i + 2]!, width), 0);
    b[i + 3] = Math.max(Math.min(b[i + 3]!, height), 0);
  }
}

/** Indices sorted by key descending; equal keys keep their order. */
function stableOrderDesc(n: number, key: (i: number) => number): Int32Array {
  // Detectors usually write scores already sorted, and most GT has no
  // ignore regions: then the stable order is the identity.
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) sorted = key(i - 1) >= key(i);
  if (sorted) return Int32Array.from({ length: n }, (_, i) => i);
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => key(b) - key(a) || a - b);
  return Int32Array.from(idx);
}

/**
 * Matches one image's detections (boxes x1,y1,x2,y2) against its ground
 * truth. `width`/`height` (from the GT record, else the detection record)
 * clip both sets when both are known, as the reference does whenever it has
 * detections for the image.
 */
export function matchImage(
  gt: GtImage,
  detBoxes: Float64Array,
  scores: Float64Array,
  size: { width?: number; height?: number },
): Int8Array {
  const nd = scores.length;
  const ng = gt.kinds.length;
  const out = new Int8Array(nd);
  if (nd === 0) return out;
  const g = Float64Array.from(gt.boxes);
  const d = Float64Array.from(detBoxes);
  if (size.width !== undefined && size.height !== undefined) {
    clipInPlace(g, size.width, size.height);
    clipInPlace(d, size.width, size.height);
  }
  const gOrder = stableOrderDesc(ng, (j) => gt.kinds[j]!);
  const dOrder = stableOrderDesc(nd, (i) => scores[i]!);
  const gtTaken = new Uint8Array(ng);
  for (const i of dOrder) {
    const dx1 = d[4 * i]!, dy1 = d[4 * i + 1]!, dx2 = d[4 * i + 2]!, dy2 = d[4 * i + 3]!;
    const dArea = (dx2 - dx1) * (dy2 - dy1);
    let best = -1;
    let bestOverlap = MATCH_IOU;
    for (const j of gOrder) {
      if (gtTaken[j]) continue;
      const gx1 = g[4 * j]!, gy1 = g[4 * j + 1]!, gx2 = g[4 * j + 2]!, gy2 = g[4 * j + 3]!;
      const iw = Math.min(dx2, gx2) - Math.max(dx1, gx1);
      const ih = Math.min(dy2, gy2) - Math.max(dy1, gy1);
      const inter = Math.max(0, iw) * Math.max(0, ih);
      if (gt.kinds[j]! > 0) {
        const gArea = (gx2 - gx1) * (gy2 - gy1);
        const iou = inter / (dArea + gArea - inter + EPS);
        if (iou > bestOverlap) { bestOverlap = iou; best = j; }
      } else {
        // Ignore regions come after every counted box: once a counted box
        // matched, they are not looked at; otherwise the first one the
        // detection lies in (IoA > 0.5) absorbs it.
        if (best >= 0) break;
        const ioa = inter / (dArea + EPS);
        if (ioa > MATCH_IOU) { bestOverlap = ioa; best = j; }
      }
    }
    if (best < 0) out[i] = DetOutcome.FalsePositive;
    else if (gt.kinds[best]! > 0) { gtTaken[best] = 1; out[i] = DetOutcome.TruePositive; }
    else out[i] = DetOutcome.Ignored;
  }
  return out;
}
