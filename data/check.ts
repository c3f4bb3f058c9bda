// `fusedet data check`: validates a dataset file (COCO `.json` or CrowdHuman
// `.odgt`) by reading it the way training and evaluation will, and
// summarises what is in it, so a user sees problems before a long run.
import { readCocoFile } from './coco.js';
import { BadRecordLog, isIgnoreBox, readOdgtGt } from './odgt.js';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FusedetError } from '../io/errors.js';
import { statUserFolder } from '../io/files.js';
import { imageSize } from './image.js';

export interface Spread { min: number; median: number; max: number }

export interface DatasetSummary {
  file: string;
  format: 'coco' | 'odgt';
  images: number;
  boxes: number;
  /** Box count per category name (COCO, every category listed) or per tag (odgt). */
  boxesPerClass: Record<string, number>;
  imageWidth: Spread | null;
  imageHeight: Spread | null;
  /** Images whose file gives no width/height. */
  imagesWithoutSize: number;
  /** COCO area ranges: small < 32², medium < 96², large ≥ 96² (COCO: `area`; odgt: fbox w·h). */
  boxSizes: { small: number; medium: number; large: number };
  /** Boxes reaching outside their image (where its size is known); CrowdHuman full boxes often do. */
  boxesCrossingBorder: number;
  /** COCO `iscrowd` = 1. */
  crowd: number;
  /** COCO `ignore` = 1; odgt `extra.ignore` ≠ 0. */
  ignore: number;
  /** odgt boxes with tag `mask` (ignore regions in the CrowdHuman protocol). */
  masks: number;
  imagesWithoutBoxes: number;
  /**
   * odgt tags other than person and mask. The CrowdHuman metrics then count
   * every non-ignore tag as an object (class-agnostic) unless told otherwise.
   */
  otherTags: string[];
  /** Bad records skipped (only with skipBad). */
  skipped: number;
  skippedExamples: string[];
  /** What a user should know although the file is valid (no images at all...). */
  warnings: string[];
  /** With `images`: every listed image's header read. */
  imageFiles?: ImageFilesCheck;
}

export interface ImageFilesCheck {
  folder: string;
  checked: number;
  /** Missing, unreadable, or not an image sharp knows. */
  unreadable: number;
  /** The header's size differs from the annotations' width/height. */
  wrongSize: number;
  examples: string[];
}

export interface CheckOptions {
  skipBad?: boolean;
  /** The option that named the file, for messages about the file itself. */
  what?: string;
  /** Read every listed image's header from this folder (see imageFolder). */
  images?: string;
}

/** The image folder a dataset's file names are relative to: DIR as given, else beside the annotations or in their images/ (Images/). */
export function imageFolder(annotations: string, given: string | undefined, sample: string | undefined): string {
  if (given !== undefined) { statUserFolder(given, { what: '--images' }); return given; }
  const dir = dirname(annotations);
  for (const r of [join(dir, 'images'), join(dir, 'Images'), dir]) if (sample !== undefined && existsSync(join(r, sample))) return r;
  return existsSync(join(dir, 'images')) ? join(dir, 'images') : dir;
}

/** Reads the header of each image (missing, unreadable and wrongly sized ones counted, 5 named). */
async function checkImageFiles(folder: string, list: { file: string; candidates?: string[]; width?: number; height?: number }[]): Promise<ImageFilesCheck> {
  const out: ImageFilesCheck = { folder, checked: 0, unreadable: 0, wrongSize: 0, examples: [] };
  const note = (m: string): void => { if (out.examples.length < 5) out.examples.push(m); };
  for (const im of list) {
    out.checked++;
    const path = (im.candidates ?? [im.file]).map((f) => join(folder, f)).find((p) => existsSync(p));
    if (!path) { out.unreadable++; note(`${join(folder, im.file)}: no such file`); continue; }
    let size;
    try { size = await imageSize(path); } catch (e) { out.unreadable++; note((e as Error).message); continue; }
    if (im.width && im.height && (size.width !== im.width || size.height !== im.height)) {
      out.wrongSize++;
      note(`${path}: ${size.width}×${size.height}, the annotations say ${im.width}×${im.height}`);
    }
  }
  return out;
}

function emptyWarning(path: string, images: number, format: string): string[] {
  return images === 0 ? [`${path} lists no images at all${format === 'odgt' ? ' (the file is empty or holds only blank lines)' : ''}: nothing to train or evaluate on`] : [];
}

export function spread(values: ArrayLike<number>): Spread | null {
  if (values.length === 0) return null;
  const v = Float64Array.from(values).sort();
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { min: v[0]!, median, max: v[v.length - 1]! };
}

function crosses(x: number, y: number, w: number, h: number, width: number | undefined, height: number | undefined): boolean {
  if (!width || !height) return false;
  return x < 0 || y < 0 || x + w > width || y + h > height;
}

function sizeBin(area: number, bins: DatasetSummary['boxSizes']): void {
  if (area < 32 * 32) bins.small++;
  else if (area < 96 * 96) bins.medium++;
  else bins.large++;
}

export function isOdgtPath(path: string): boolean {
  return path.toLowerCase().endsWith('.odgt');
}

export async function checkDataset(path: string, opts: CheckOptions = {}): Promise<DatasetSummary> {
  return isOdgtPath(path) ? checkOdgt(path, opts) : checkCoco(path, opts);
}

async function checkCoco(path: string, opts: CheckOptions): Promise<DatasetSummary> {
  const ds = await readCocoFile(path, { skipBad: opts.skipBad ?? false, ...(opts.what ? { what: opts.what } : {}) });
  const a = ds.annotations;
  const perClass: Record<string, number> = {};
  for (const c of ds.categories) perClass[c.name] = 0;
  const bins = { small: 0, medium: 0, large: 0 };
  let crowd = 0, ignore = 0, crossing = 0;
  for (let r = 0; r < a.count; r++) {
    const im = ds.images[a.imageIndex[r]!]!;
    if (crosses(a.bbox[4 * r]!, a.bbox[4 * r + 1]!, a.bbox[4 * r + 2]!, a.bbox[4 * r + 3]!, im.width, im.height)) crossing++;
    const name = ds.categories[a.categoryIndex[r]!]!.name;
    perClass[name] = (perClass[name] ?? 0) + 1;
    sizeBin(a.area[r]!, bins);
    crowd += a.iscrowd[r]!;
    ignore += a.ignore[r]!;
  }
  const sized = ds.images.filter((im) => im.width > 0 && im.height > 0);
  let empty = 0;
  for (let i = 0; i < ds.images.length; i++) {
    const [s, e] = ds.annotationRange(i);
    if (e === s) empty++;
  }
  return {
    file: path, format: 'coco', images: ds.images.length, boxes: a.count, boxesPerClass: perClass,
    imageWidth: spread(sized.map((im) => im.width)), imageHeight: spread(sized.map((im) => im.height)),
    imagesWithoutSize: ds.images.length - sized.length, boxSizes: bins, boxesCrossingBorder: crossing, crowd, ignore, masks: 0,
    imagesWithoutBoxes: empty, otherTags: [], skipped: ds.skipped, skippedExamples: [...ds.skippedExamples],
    warnings: emptyWarning(path, ds.images.length, 'coco'),
    ...(opts.images !== undefined ? {
      imageFiles: await checkImageFiles(imageFolder(path, opts.images || undefined, ds.images[0]?.fileName), ds.images.map((im) => ({ file: im.fileName, width: im.width, height: im.height }))),
    } : {}),
  };
}

async function checkOdgt(path: string, opts: CheckOptions): Promise<DatasetSummary> {
  const bad = new BadRecordLog();
  const perClass: Record<string, number> = {};
  const bins = { small: 0, medium: 0, large: 0 };
  const widths: number[] = [], heights: number[] = [];
  const seen = new Set<string>();
  let images = 0, boxes = 0, ignore = 0, masks = 0, empty = 0, noSize = 0, crossing = 0;
  const listed: { file: string; candidates: string[]; width?: number; height?: number }[] = [];
  for await (const r of readOdgtGt(path, { skipBad: opts.skipBad ?? false, bad, ...(opts.what ? { what: opts.what } : {}) })) {
    if (seen.has(r.id)) {
      const msg = `${path}:${r.line}:1: record ID ${JSON.stringify(r.id)}: image appears a second time (each image is one line)`;
      if (!opts.skipBad) throw new DuplicateRecordError(msg);
      bad.add(new Error(msg));
      continue;
    }
    seen.add(r.id);
    images++;
    if (opts.images !== undefined) listed.push({ file: `${r.id}.jpg`, candidates: ['.jpg', '.png', '.jpeg'].map((e) => r.id + e), ...(r.width !== undefined ? { width: r.width } : {}), ...(r.height !== undefined ? { height: r.height } : {}) });
    if (r.width !== undefined && r.height !== undefined) { widths.push(r.width); heights.push(r.height); } else noSize++;
    if (r.gtboxes.length === 0) empty++;
    for (const b of r.gtboxes) {
      boxes++;
      perClass[b.tag] = (perClass[b.tag] ?? 0) + 1;
      sizeBin(b.fbox[2] * b.fbox[3], bins);
      if (crosses(...b.fbox, r.width, r.height)) crossing++;
      if (isIgnoreBox(b)) ignore++;
      if (b.tag === 'mask') masks++;
    }
  }
  return {
    file: path, format: 'odgt', images, boxes, boxesPerClass: perClass,
    imageWidth: spread(widths), imageHeight: spread(heights), imagesWithoutSize: noSize,
    boxSizes: bins, boxesCrossingBorder: crossing, crowd: 0, ignore, masks, imagesWithoutBoxes: empty,
    otherTags: Object.keys(perClass).filter((t) => t !== 'person' && t !== 'mask').sort(),
    skipped: bad.count, skippedExamples: bad.examples,
    warnings: emptyWarning(path, images, 'odgt'),
    ...(opts.images !== undefined ? { imageFiles: await checkImageFiles(imageFolder(path, opts.images || undefined, listed[0]?.candidates.find((c) => existsSync(join(dirname(path), 'images', c)) || existsSync(join(dirname(path), 'Images', c)) || existsSync(join(dirname(path), c)))), listed) } : {}),
  };
}

export class DuplicateRecordError extends FusedetError {
}

function fmtSpread(s: Spread | null): string {
  return s ? `min ${s.min}, median ${s.median}, max ${s.max}` : 'unknown';
}

/** The human-readable summary. */
export function formatSummary(s: DatasetSummary): string {
  const classes = Object.entries(s.boxesPerClass).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  const width = Math.max(8, ...classes.map(([k]) => k.length));
  const lines = [
    `${s.file}: valid ${s.format === 'coco' ? 'COCO' : 'CrowdHuman odgt'} file`,
    `  images               ${s.images} (${s.imagesWithoutBoxes} without boxes${s.imagesWithoutSize ? `, ${s.imagesWithoutSize} without width/height` : ''})`,
    `  image width          ${fmtSpread(s.imageWidth)}`,
    `  image height         ${fmtSpread(s.imageHeight)}`,
    `  boxes                ${s.boxes}`,
    `  box sizes            small ${s.boxSizes.small}, medium ${s.boxSizes.medium}, large ${s.boxSizes.large} (COCO area ranges)`,
    `  crossing the border  ${s.boxesCrossingBorder} box${s.boxesCrossingBorder === 1 ? '' : 'es'} reach outside their image`,
    s.format === 'coco' ? `  crowd / ignore       ${s.crowd} iscrowd, ${s.ignore} ignore` : `  ignore regions       ${s.ignore} extra.ignore, ${s.masks} tag mask`,
    `  boxes per class:`,
    ...classes.map(([k, n]) => `    ${k.padEnd(width)}  ${n}`),
  ];
  if (s.otherTags.length) {
    lines.push(`  tags other than person/mask (${s.otherTags.join(', ')}): the CrowdHuman metrics count them all as objects (class-agnostic)`);
  }
  if (s.skipped) {
    lines.push(`  skipped ${s.skipped} bad record${s.skipped === 1 ? '' : 's'} (--skip-bad):`, ...s.skippedExamples.map((m) => `    ${m}`));
  }
  const f = s.imageFiles;
  if (f) {
    const badOnes = f.unreadable + f.wrongSize;
    lines.push(`  image files          ${f.checked} read in ${f.folder}: ${badOnes ? `${f.unreadable} missing or unreadable, ${f.wrongSize} of another size than annotated` : 'every one readable'}`, ...f.examples.map((m) => `    ${m}`));
  }
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}
