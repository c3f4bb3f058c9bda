// The CrowdHuman protocol (AP50, mMR, recall on full boxes) as the authors'
// evaluation code computes it; see eval/crowdhuman/match.ts for the matching
// rules and eval/crowdhuman/score.ts for the curves. `fusedet eval --protocol
// crowdhuman` calls evaluateCrowdHumanFiles and formatCrowdHumanTable.
import { BadRecordLog, DataRecordError, readOdgtGt, type OdgtDetRecord, type OdgtGtRecord } from '../data/odgt.js';
import { addCocoResults, addOdgtDets, looksLikeCocoResults } from './crowdhuman/dets.js';
import { GtIndexBuilder, type CrowdClasses } from './crowdhuman/gt.js';
import { cocoAsOdgt, imageIdToStem, sibling } from './crowdhuman/coco-gt.js';
import { readCocoFile, type CocoDataset } from '../data/coco.js';
import { CrowdHumanAccumulator, type CrowdHumanMetrics } from './crowdhuman/score.js';
import { FusedetError } from '../io/errors.js';

export type { CrowdHumanMetrics } from './crowdhuman/score.js';
export type { CrowdClasses } from './crowdhuman/gt.js';

export interface CrowdHumanOptions {
  /**
   * `person`: only tag person counts (the reference). `agnostic`: every tag
   * but `mask` counts. `auto` (default): agnostic when a tag other than
   * person/mask appears.
   */
  classes?: CrowdClasses;
}

export class CrowdHumanInputError extends FusedetError {
  constructor(message: string) { super(message); this.name = 'CrowdHumanInputError'; }
}

/** In memory: GT and detection records as data/odgt.ts reads them. */
export function evaluateCrowdHuman(
  gt: Iterable<OdgtGtRecord>,
  dets: Iterable<OdgtDetRecord>,
  opts: CrowdHumanOptions = {},
): CrowdHumanMetrics {
  const builder = new GtIndexBuilder();
  for (const r of gt) {
    if (!builder.add(r)) throw new CrowdHumanInputError(`ground truth: image ID ${JSON.stringify(r.id)} appears twice`);
  }
  const index = builder.finish(opts.classes ?? 'auto');
  const acc = new CrowdHumanAccumulator(index.images);
  for (const r of dets) {
    const img = index.images.get(r.id);
    if (!img) throw new CrowdHumanInputError(`detections for image ID ${JSON.stringify(r.id)}, which is not in the ground truth`);
    if (img.matched) throw new CrowdHumanInputError(`second detection record for image ID ${JSON.stringify(r.id)}`);
    const boxes = new Float64Array(4 * r.dtboxes.length);
    r.dtboxes.forEach((d, i) => boxes.set([d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3]], 4 * i));
    const size: { width?: number; height?: number } = {};
    if (r.width !== undefined) size.width = r.width;
    if (r.height !== undefined) size.height = r.height;
    acc.add(img, boxes, Float64Array.from(r.dtboxes, (d) => d.score), size);
  }
  return acc.result({ classAgnostic: index.classAgnostic, tagsAsIgnore: index.tagsAsIgnore, skipped: 0 });
}

/**
 * GT: an `.odgt` file, or a COCO `.json` (then the `.odgt` beside it, as a
 * scenes folder has, is used when present for its ignore flags; otherwise
 * the COCO annotations are converted, crowd/ignore → ignore regions).
 * Detections: odgt `dtboxes` lines or a COCO results JSON array; a COCO
 * image_id names the odgt ID equal to it as a string, or else (through the
 * COCO file beside the odgt) the image whose file stem is that ID. With
 * `skipBad`, bad records are skipped and counted in `skipped` (and listed in
 * `bad` when given).
 */
export async function evaluateCrowdHumanFiles(
  gtPath: string,
  detsPath: string,
  opts: { skipBad?: boolean; bad?: BadRecordLog } & CrowdHumanOptions = {},
): Promise<CrowdHumanMetrics> {
  const bad = opts.bad ?? new BadRecordLog();
  const skipBad = opts.skipBad ?? false;
  const read: { skipBad: boolean; bad: BadRecordLog; idMap?: Map<string, string> } = { skipBad, bad };
  const builder = new GtIndexBuilder();
  const isCoco = gtPath.toLowerCase().endsWith('.json');
  const odgtPath = isCoco ? sibling(gtPath, '.odgt') : gtPath;
  const coco = isCoco ? await readCocoFile(gtPath, { skipBad }) : null;
  if (odgtPath) {
    for await (const r of readOdgtGt(odgtPath, read)) {
      if (builder.add(r)) continue;
      const e = new DataRecordError(odgtPath, r.line, 1, `image ID ${JSON.stringify(r.id)} appears a second time (each image is one line)`);
      if (!skipBad) throw e;
      bad.add(e);
    }
  } else if (coco) {
    for (const r of cocoAsOdgt(coco)) builder.add(r);
  }
  const index = builder.finish(opts.classes ?? 'auto');
  const acc = new CrowdHumanAccumulator(index.images);
  if (await looksLikeCocoResults(detsPath)) {
    const names = coco ?? await siblingCoco(gtPath);
    if (names && odgtPath) read.idMap = imageIdToStem(names);
    await addCocoResults(detsPath, acc, read);
  } else {
    await addOdgtDets(detsPath, acc, read);
  }
  const skipped = bad.count + (coco?.skipped ?? 0);
  return acc.result({ classAgnostic: index.classAgnostic, tagsAsIgnore: index.tagsAsIgnore, skipped });
}

/**
 * The COCO file beside an odgt (a scenes folder's annotations.json), read
 * only for its image file names; a file there that is not COCO ground truth
 * (say, a results file) is simply not used.
 */
async function siblingCoco(odgtPath: string): Promise<CocoDataset | null> {
  const p = sibling(odgtPath, '.json');
  if (!p) return null;
  try {
    return await readCocoFile(p, { skipBad: true });
  } catch (e) {
    if (typeof (e as { exitCode?: unknown }).exitCode === 'number') return null;
    throw e;
  }
}

function pct(x: number): string {
  return Number.isNaN(x) ? '   n/a' : (100 * x).toFixed(2).padStart(6);
}

/** A small table, percentages as the CrowdHuman papers print them. */
export function formatCrowdHumanTable(m: CrowdHumanMetrics): string {
  const lines = [
    `CrowdHuman protocol (full boxes, IoU > 0.5, ${m.classAgnostic ? 'class-agnostic' : 'person only'})`,
    `  AP50    ${pct(m.ap50)}   higher is better`,
    `  mMR     ${pct(m.mMR)}   log-average miss rate, FPPI 1e-2..1, lower is better`,
    `  recall  ${pct(m.recall)}`,
    `  ${m.images} images, ${m.gtCounted} GT boxes (+${m.gtIgnored} ignore regions), ` +
      `${m.detections} detections: ${m.truePositives} TP, ${m.falsePositives} FP, ${m.ignoredDetections} in ignore regions`,
  ];
  if (m.tagsAsIgnore.length) lines.push(`  tags treated as ignore regions: ${m.tagsAsIgnore.join(', ')}`);
  if (m.skipped) lines.push(`  skipped ${m.skipped} bad records (--skip-bad)`);
  return lines.join('\n') + '\n';
}
