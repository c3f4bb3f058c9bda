// Accumulates matched detections over a dataset and turns them into the
// CrowdHuman numbers, following the reference (`Database.compare`,
// `eval_AP`, `eval_MR`): one list of true and false positives sorted by score
// (ties: image order of the GT file, then detection order), AP50 by the
// trapezoid rule between consecutive (recall, precision) points starting at
// the first detection (no (0, 1) point, no smoothing), and the log-average
// miss rate at the reference's nine FPPI anchors.
import { DetOutcome, GtKind, matchImage, type GtImage } from './match.js';

/** The anchors exactly as the reference writes them (rounded, not 10^k). */
export const FPPI_REFS = [0.01, 0.0178, 0.0316, 0.0562, 0.1, 0.1778, 0.3162, 0.5623, 1.0] as const;

export interface CrowdHumanMetrics {
  ap50: number;
  /** Log-average miss rate over FPPI 10^-2..10^0 (lower is better). */
  mMR: number;
  /** Recall over all detections: TP / counted GT. */
  recall: number;
  /** The miss rate taken at each FPPI anchor (mMR is their geometric mean). */
  missRateAtFppi: { fppi: number; missRate: number }[];
  images: number;
  /** GT boxes that count (not ignore regions). */
  gtCounted: number;
  /** GT boxes that are ignore regions. */
  gtIgnored: number;
  detections: number;
  truePositives: number;
  falsePositives: number;
  /** Detections dropped because they lie in an ignore region. */
  ignoredDetections: number;
  /** True when every non-ignore tag counted as person. */
  classAgnostic: boolean;
  /** Tags (other than person and mask) that became ignore regions in person mode. */
  tagsAsIgnore: string[];
  /** Bad records skipped under --skip-bad (GT and detections). */
  skipped: number;
}

interface GrowBuf { data: Float64Array; n: number }

function push(b: GrowBuf, v: number): void {
  if (b.n === b.data.length) {
    const bigger = new Float64Array(Math.max(1024, b.data.length * 2));
    bigger.set(b.data);
    b.data = bigger;
  }
  b.data[b.n++] = v;
}

export interface ScoredImage extends GtImage {
  id: string;
  /** Position in the GT file: the tie-break between images. */
  order: number;
  /** Set once detections for the image were matched. */
  matched: boolean;
}

export class CrowdHumanAccumulator {
  private readonly scores: GrowBuf = { data: new Float64Array(0), n: 0 };
  private readonly tps: GrowBuf = { data: new Float64Array(0), n: 0 };
  /** image order × 2^21 + detection index: one sortable tie-break key. */
  private readonly ties: GrowBuf = { data: new Float64Array(0), n: 0 };
  private detections = 0;
  private ignored = 0;

  constructor(readonly images: ReadonlyMap<string, ScoredImage>) {}

  /** Matches one image's detections. Boxes are x1,y1,x2,y2. */
  add(img: ScoredImage, boxes: Float64Array, scores: Float64Array, size: { width?: number; height?: number }): void {
    img.matched = true;
    const outcome = matchImage(img, boxes, scores, {
      width: img.width ?? size.width,
      height: img.height ?? size.height,
    });
    this.detections += scores.length;
    for (let i = 0; i < scores.length; i++) {
      if (outcome[i] === DetOutcome.Ignored) { this.ignored++; continue; }
      push(this.scores, scores[i]!);
      push(this.tps, outcome[i]!);
      push(this.ties, img.order * 2 ** 21 + i);
    }
  }

  result(extra: { classAgnostic: boolean; tagsAsIgnore: string[]; skipped: number }): CrowdHumanMetrics {
    let gtTotal = 0, gtIgnored = 0;
    for (const img of this.images.values()) {
      gtTotal += img.kinds.length;
      for (const k of img.kinds) if (k === GtKind.Ignore) gtIgnored++;
    }
    const counted = gtTotal - gtIgnored;
    const n = this.scores.n;
    const s = this.scores.data, t = this.ties.data, tp = this.tps.data;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => s[b]! - s[a]! || t[a]! - t[b]!);
    const nImages = this.images.size;
    let tpSum = 0, fpSum = 0, ap = 0;
    let prevRecall = 0, prevPrecision = 0;
    const fppi = new Float64Array(n), miss = new Float64Array(n);
    order.forEach((k, i) => {
      if (tp[k] === 1) tpSum++; else fpSum++;
      const recall = tpSum / (tpSum + (counted - tpSum));
      const precision = tpSum / (tpSum + fpSum);
      if (i > 0) ap += (recall - prevRecall) * ((prevPrecision + precision) / 2);
      prevRecall = recall; prevPrecision = precision;
      fppi[i] = fpSum / nImages;
      miss[i] = 1 - recall;
    });
    return {
      // The reference fails on an empty list; no detections means nothing found.
      ap50: n === 0 ? 0 : ap,
      mMR: n === 0 ? 1 : logAverageMissRate(fppi, miss),
      missRateAtFppi: FPPI_REFS.map((ref) => ({ fppi: ref, missRate: n === 0 ? 1 : miss[anchorIndex(fppi, ref)]! })),
      recall: n === 0 ? 0 : prevRecall,
      images: nImages,
      gtCounted: counted,
      gtIgnored,
      detections: this.detections,
      truePositives: tpSum,
      falsePositives: fpSum,
      ignoredDetections: this.ignored,
      ...extra,
    };
  }
}

/**
 * For each anchor, the miss rate at the first detection whose FPPI reaches
 * it; an anchor never reached takes the last detection's miss rate.
 */
export function logAverageMissRate(fppi: Float64Array, miss: Float64Array): number {
  let logSum = 0;
  for (const ref of FPPI_REFS) logSum += Math.log(miss[anchorIndex(fppi, ref)]!);
  return Math.exp(logSum / FPPI_REFS.length);
}

function anchorIndex(fppi: Float64Array, ref: number): number {
  const at = fppi.findIndex((f) => f >= ref);
  return at < 0 ? fppi.length - 1 : at;
}
