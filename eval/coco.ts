// COCO bbox metrics equal to pycocotools' COCOeval with default parameters
// (IoU .50:.05:.95, 101 recall points, maxDets 1/10/100, area ranges
// all/small/medium/large at 32² and 96²).
//
// The quirks are COCOeval's and kept on purpose, so that numbers compare with
// published tables: an annotation's `ignore` field is overridden by
// `iscrowd`; area ranges use the file's `area` for ground truth and w*h for
// detections; only the ground truth's categories are evaluated (detections of
// other categories are ignored; categories without counted ground truth are
// left out of the means); a match to an annotation with id 0 counts as no
// match.
import type { CocoDataset } from '../data/coco.js';
import { readCocoFile } from '../data/coco.js';
import type { ResolvedDetections } from '../data/detections.js';
import { readDetectionsFile, resolveDetections } from '../data/detections.js';
import { accumulateCategory, cell, type CategoryResult } from './coco/accumulate.js';
import { matchGroup, type DetGroup, type GtGroup } from './coco/match.js';
import { A, IOU_THRESHOLDS, M, MAX_DETS, T } from './coco/params.js';

export interface CocoMetrics {
  AP: number; AP50: number; AP75: number; APs: number; APm: number; APl: number;
  AR1: number; AR10: number; AR100: number; ARs: number; ARm: number; ARl: number;
  /** The 12 numbers in summarize() order. */
  stats: number[];
  /** AP@[.5:.95] (all areas, 100 detections) per evaluated category; -1 without ground truth. */
  perCategory: { id: number; name: string; AP: number }[];
  images: number;
  groundTruth: number;
  detections: number;
}

const MAX_KEPT = MAX_DETS[M - 1];

/**
 * Positions 0..count-1 ordered by (key, position). Packing both into one
 * double makes it a native numeric sort; keys too large for exact packing
 * take the comparator sort.
 */
function stableByKey(count: number, maxKey: number, keyOf: (row: number) => number): Int32Array {
  const out = new Int32Array(count);
  if ((maxKey + 1) * count > Number.MAX_SAFE_INTEGER) {
    const keys = new Float64Array(count);
    for (let i = 0; i < count; i++) { keys[i] = keyOf(i); out[i] = i; }
    return out.sort((x, y) => (keys[x] - keys[y]) || (x - y));
  }
  const packed = new Float64Array(count);
  for (let i = 0; i < count; i++) packed[i] = keyOf(i) * count + i;
  packed.sort();
  for (let i = 0; i < count; i++) out[i] = packed[i] % count;
  return out;
}

/**
 * Rows by descending score, lower row first on ties (numpy's stable
 * mergesort on -score over rows in file order). Insertion sort: groups are
 * small, and a comparator sort costs more in calls than it saves.
 */
function sortByScore(rows: Int32Array, score: Float64Array): void {
  if (rows.length > 64) { rows.sort((x, y) => (score[y] - score[x]) || (x - y)); return; }
  for (let i = 1; i < rows.length; i++) {
    const r = rows[i], s = score[r];
    let j = i - 1;
    while (j >= 0 && (score[rows[j]] < s || (score[rows[j]] === s && rows[j] > r))) { rows[j + 1] = rows[j]; j--; }
    rows[j + 1] = r;
  }
}

export function evaluateCoco(gt: CocoDataset, resolved: ResolvedDetections): CocoMetrics {
  const nImg = gt.images.length;
  const imgRank = new Int32Array(nImg);
  const byId = Array.from({ length: nImg }, (_, i) => i).sort((x, y) => gt.images[x].id - gt.images[y].id);
  byId.forEach((img, r) => { imgRank[img] = r; });
  const catOrder = Array.from({ length: gt.categories.length }, (_, i) => i).sort((x, y) => gt.categories[x].id - gt.categories[y].id);
  const catRank = new Int32Array(gt.categories.length);
  catOrder.forEach((c, r) => { catRank[c] = r; });
  const K = catOrder.length;

  const ann = gt.annotations;
  const gtSorted = stableByKey(ann.count, K * nImg, (i) => catRank[ann.categoryIndex[i]] * nImg + imgRank[ann.imageIndex[i]]);
  const gtKey = (i: number): number => catRank[ann.categoryIndex[gtSorted[i]]] * nImg + imgRank[ann.imageIndex[gtSorted[i]]];

  // Detections of categories outside the ground truth play no part.
  const { dets, rows } = resolved;
  const detCat = new Int32Array(rows.length);
  let nDet = 0;
  const detRows = new Int32Array(rows.length), detImg = new Int32Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const c = gt.categoryIndexOf(dets.categoryId[rows[j]]);
    if (c < 0) continue;
    detRows[nDet] = rows[j]; detImg[nDet] = resolved.imageIndex[j]; detCat[nDet] = catRank[c]; nDet++;
  }
  const dtSorted = stableByKey(nDet, K * nImg, (j) => detCat[j] * nImg + imgRank[detImg[j]]);
  const dtKey = (i: number): number => detCat[dtSorted[i]] * nImg + imgRank[detImg[dtSorted[i]]];

  // Per-category scratch, sized for the category with most detections.
  const perCategory = new Int32Array(K);
  for (let j = 0; j < nDet; j++) perCategory[detCat[j]]++;
  const most = perCategory.reduce((x, y) => Math.max(x, y), 0);
  const score = new Float64Array(most), rank = new Uint8Array(most);
  const status = new Uint8Array(most * A * T);
  const gtRows = new Int32Array(ann.count);
  const gtGroup: GtGroup = { count: 0, rows: gtRows, bbox: ann.bbox, area: ann.area, iscrowd: ann.iscrowd, id: ann.id };
  const groupDets = new Int32Array(Math.max(nDet, 1));
  const dtGroup: DetGroup = { count: 0, rows: groupDets, bbox: dets.bbox };
  const nonIgnored = new Float64Array(A);
  const results: CategoryResult[] = [];

  let gi = 0, di = 0;
  for (let k = 0; k < K; k++) {
    nonIgnored.fill(0);
    let n = 0;
    let anyGroup = false;
    const end = (k + 1) * nImg;
    while ((gi < ann.count && gtKey(gi) < end) || (di < nDet && dtKey(di) < end)) {
      const key = Math.min(gi < ann.count ? gtKey(gi) : Infinity, di < nDet ? dtKey(di) : Infinity);
      anyGroup = true;
      let ng = 0;
      while (gi < ann.count && gtKey(gi) === key) gtRows[ng++] = gtSorted[gi++];
      let nd = 0;
      while (di < nDet && dtKey(di) === key) groupDets[nd++] = detRows[dtSorted[di++]];
      const sorted = groupDets.subarray(0, nd);
      // Descending score; file order breaks ties, as numpy's mergesort does.
      if (nd > 1) sortByScore(sorted, dets.score);
      const kept = Math.min(nd, MAX_KEPT);
      gtGroup.count = ng;
      dtGroup.count = kept;
      matchGroup(gtGroup, dtGroup, status, n * A * T, nonIgnored);
      for (let d = 0; d < kept; d++) { score[n + d] = dets.score[sorted[d]]; rank[n + d] = d; }
      n += kept;
    }
    results.push(accumulateCategory(n, score, rank, status, nonIgnored, anyGroup));
  }
  return summarize(gt, catOrder, results, nDet);
}

function meanOver(results: CategoryResult[], precision: boolean, ts: number[], a: number, m: number): number {
  let sum = 0, count = 0;
  for (const r of results) {
    for (const t of ts) {
      const v = precision ? r.precisionSum[cell(t, a, m)] : r.recall[cell(t, a, m)];
      if (v <= -1) continue;
      sum += v;
      count += precision ? 101 : 1;
    }
  }
  return count === 0 ? -1 : sum / count;
}

function summarize(gt: CocoDataset, catOrder: number[], results: CategoryResult[], nDet: number): CocoMetrics {
  const allT = Array.from({ length: T }, (_, t) => t);
  const t50 = IOU_THRESHOLDS.indexOf(0.5), t75 = IOU_THRESHOLDS.indexOf(0.75);
  const last = M - 1;
  const stats = [
    meanOver(results, true, allT, 0, last), meanOver(results, true, [t50], 0, last), meanOver(results, true, [t75], 0, last),
    meanOver(results, true, allT, 1, last), meanOver(results, true, allT, 2, last), meanOver(results, true, allT, 3, last),
    meanOver(results, false, allT, 0, 0), meanOver(results, false, allT, 0, 1), meanOver(results, false, allT, 0, last),
    meanOver(results, false, allT, 1, last), meanOver(results, false, allT, 2, last), meanOver(results, false, allT, 3, last),
  ];
  const [AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl] = stats;
  const perCategory = catOrder.map((c, k) => ({ id: gt.categories[c].id, name: gt.categories[c].name, AP: meanOver([results[k]], true, allT, 0, last) }));
  return {
    AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl, stats, perCategory,
    images: gt.images.length, groundTruth: gt.annotations.count, detections: nDet,
  };
}

/** The 12 lines of COCOeval.summarize(), character for character. */
export function formatCocoTable(m: CocoMetrics): string {
  const rows: [boolean, string, string, number][] = [
    [true, '0.50:0.95', 'all', 100], [true, '0.50', 'all', 100], [true, '0.75', 'all', 100],
    [true, '0.50:0.95', 'small', 100], [true, '0.50:0.95', 'medium', 100], [true, '0.50:0.95', 'large', 100],
    [false, '0.50:0.95', 'all', 1], [false, '0.50:0.95', 'all', 10], [false, '0.50:0.95', 'all', 100],
    [false, '0.50:0.95', 'small', 100], [false, '0.50:0.95', 'medium', 100], [false, '0.50:0.95', 'large', 100],
  ];
  return rows.map(([ap, iou, area, maxDets], i) => {
    const title = (ap ? 'Average Precision' : 'Average Recall').padEnd(18);
    const v = m.stats[i];
    return ` ${title} ${ap ? '(AP)' : '(AR)'} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${v.toFixed(3)}`;
  }).join('\n') + '\n';
}

export interface CocoEvalReport {
  metrics: CocoMetrics;
  /** Bad records skipped under skipBad, per file. */
  skippedGt: number;
  skippedDets: number;
  examples: string[];
}

export async function evaluateCocoFiles(gtPath: string, detsPath: string, opts: { skipBad?: boolean } = {}): Promise<CocoEvalReport> {
  const gt = await readCocoFile(gtPath, opts);
  const dets = await readDetectionsFile(detsPath, opts);
  const resolved = resolveDetections(dets, gt, opts);
  return {
    metrics: evaluateCoco(gt, resolved),
    skippedGt: gt.skipped,
    skippedDets: dets.skipped + resolved.skipped,
    examples: [...gt.skippedExamples, ...dets.skippedExamples, ...resolved.skippedExamples].slice(0, 5),
  };
}


