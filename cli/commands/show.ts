// `fusedet show --gt GT [--dets DETS] [--images DIR] --out DIR`: draws ground
// truth and detections on the images, one PNG per image, for looking at data
// and at what a model found. COCO (instances + results .json) or CrowdHuman
// (.odgt gtboxes + dtboxes), chosen by the GT file's extension.
import { parseArgs } from 'node:util';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { readCocoFile } from '../../data/coco.js';
import { readDetectionsFile, resolveDetections } from '../../data/detections.js';
import { isIgnoreBox, readOdgtDets, readOdgtGt } from '../../data/odgt.js';
import { ImageError, readImage } from '../../data/image.js';
import { BadRecordLog } from '../../data/odgt.js';
import { statUserFile, statUserFolder } from '../../io/files.js';

const usage = `usage: fusedet show --gt GT [--dets DETS] --out DIR [options]

Draws the ground-truth boxes (green; crowd and ignore boxes dashed orange)
and the detections (a colour per class, with class name and score) on each
image and writes one PNG per image into DIR.

options:
  --gt FILE        COCO instances .json, or CrowdHuman .odgt (full boxes;
                   extra.ignore and tag "mask" are drawn as ignore regions)
  --dets FILE      COCO results .json [{image_id, category_id, bbox, score}, ...]
                   for a COCO --gt; .odgt with dtboxes for an .odgt --gt
  --images DIR     folder the GT's images are in: file_name entries (COCO) or
                   ID.jpg/ID.png (odgt) (default: the GT file's folder + /images)
  --out DIR        output folder (required); must be empty or new unless --force
  --score S        draw detections with score >= S (default 0.3)
  --limit N        draw the first N images only (default: all)
  --scale K        magnify images K times (default: small images are enlarged
                   until their long side is at least 512 px)
  --force          write into a non-empty output folder
  --skip-bad       skip bad records (GT or detections) and images that cannot
                   be read, and say how many, instead of stopping at the first
`;

export interface ShowOptions {
  gt: string;
  dets?: string;
  images?: string;
  out: string;
  score: number;
  limit: number;
  scale?: number;
  force: boolean;
  /** Skip bad records and unreadable images (counted) instead of stopping. */
  skipBad?: boolean;
}

// Distinct, readable on most backgrounds; class k takes PALETTE[k % n].
const PALETTE = ['#ff3b30', '#0a84ff', '#ffd60a', '#bf5af2', '#ff9f0a', '#64d2ff', '#ff2d55', '#30d158', '#ffffff', '#ac8e68'];
const DARK_TEXT = new Set(['#ffffff', '#ffd60a', '#64d2ff', '#30d158']);
const GT_COLOUR = '#00ff66';
const IGNORE_COLOUR = '#ff9500';

/** What is drawn on one image, whichever format it came from. Boxes are x, y, w, h. */
interface View {
  readonly file: string;
  readonly stem: string;
  readonly gt: { box: ArrayLike<number>; name: string; ignore: boolean }[];
  readonly dets: { box: ArrayLike<number>; name: string; score: number; colour: number }[];
}

function label(ctx: SKRSContext2D, text: string, x: number, y: number, colour: string, below: boolean): void {
  ctx.font = '11px DejaVu Sans, sans-serif';
  const w = ctx.measureText(text).width + 4, h = 13;
  const ty = below ? y : Math.max(0, y - h);
  ctx.fillStyle = colour;
  ctx.fillRect(x, ty, w, h);
  ctx.fillStyle = DARK_TEXT.has(colour) || colour === GT_COLOUR ? '#000000' : '#ffffff';
  ctx.fillText(text, x + 2, ty + 10);
}

function strokeBox(ctx: SKRSContext2D, b: ArrayLike<number>, scale: number, colour: string, dashed: boolean): [number, number, number, number] {
  const x = b[0]! * scale, y = b[1]! * scale, w = b[2]! * scale, h = b[3]! * scale;
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.setLineDash(dashed ? [5, 4] : []);
  ctx.strokeRect(x, y, w, h);
  ctx.setLineDash([]);
  return [x, y, w, h];
}

async function draw(view: View, opts: ShowOptions, withDets: boolean): Promise<{ png: Buffer; shown: number }> {
  const img = await readImage(view.file);
  const scale = opts.scale ?? Math.max(1, Math.min(8, Math.floor(512 / Math.max(img.width, img.height))));
  const src = createCanvas(img.width, img.height);
  const sctx = src.getContext('2d');
  const data = sctx.createImageData(img.width, img.height);
  for (let p = 0; p < img.width * img.height; p++) {
    data.data[4 * p] = img.data[3 * p]!; data.data[4 * p + 1] = img.data[3 * p + 1]!; data.data[4 * p + 2] = img.data[3 * p + 2]!; data.data[4 * p + 3] = 255;
  }
  sctx.putImageData(data, 0, 0);
  const canvas = createCanvas(img.width * scale, img.height * scale);
  const ctx = canvas.getContext('2d');
  // Small images are magnified to be looked at: keep their pixels visible.
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(src, 0, 0, img.width * scale, img.height * scale);
  for (const g of view.gt) {
    const colour = g.ignore ? IGNORE_COLOUR : GT_COLOUR;
    const [x, y] = strokeBox(ctx, g.box, scale, colour, g.ignore);
    if (!withDets) label(ctx, g.name, x, y, colour, false);
  }
  // Highest scores drawn last, on top.
  const dets = view.dets.filter((d) => d.score >= opts.score).sort((p, q) => p.score - q.score);
  for (const d of dets) {
    const colour = PALETTE[d.colour % PALETTE.length]!;
    const [x, y, , h] = strokeBox(ctx, d.box, scale, colour, false);
    label(ctx, `${d.name} ${d.score.toFixed(2)}`, x, y + h, colour, true);
  }
  return { png: await canvas.encode('png'), shown: dets.length };
}

/** What --skip-bad left out: a count and up to five examples. */
interface Skipped { n: number }

async function cocoViews(opts: ShowOptions, imagesDir: string, skippedCount: Skipped, skipped: string[]): Promise<View[]> {
  const skipBad = opts.skipBad ?? false;
  const gt = await readCocoFile(opts.gt, { skipBad, what: '--gt' });
  skipped.push(...gt.skippedExamples.slice(0, Math.max(0, 5 - skipped.length)));
  skippedCount.n += gt.skipped;
  const a = gt.annotations;
  const views: View[] = [];
  const count = Math.min(gt.images.length, opts.limit);
  for (let i = 0; i < count; i++) {
    const im = gt.images[i]!;
    const [start, end] = gt.annotationRange(i);
    const boxes: View['gt'] = [];
    for (let r = start; r < end; r++) {
      boxes.push({ box: a.bbox.subarray(4 * r, 4 * r + 4), name: gt.categories[a.categoryIndex[r]!]!.name, ignore: a.iscrowd[r]! !== 0 || a.ignore[r]! !== 0 });
    }
    views.push({ file: join(imagesDir, im.fileName), stem: basename(im.fileName, extname(im.fileName)), gt: boxes, dets: [] });
  }
  if (opts.dets) {
    if (opts.dets.endsWith('.odgt')) throw new UserError(`${opts.dets}: detections for a COCO --gt must be a COCO results .json file`);
    const read = await readDetectionsFile(opts.dets, { skipBad, what: '--dets' });
    const r = resolveDetections(read, gt, { skipBad });
    skippedCount.n += read.skipped + r.skipped;
    skipped.push(...[...read.skippedExamples, ...r.skippedExamples].slice(0, Math.max(0, 5 - skipped.length)));
    const d = r.dets;
    r.rows.forEach((row, k) => {
      const view = views[r.imageIndex[k]!];
      if (!view) return;
      const ci = gt.categoryIndexOf(d.categoryId[row]!);
      const name = ci < 0 ? `category ${d.categoryId[row]}` : gt.categories[ci]!.name;
      view.dets.push({ box: d.bbox.subarray(4 * row, 4 * row + 4), name, score: d.score[row]!, colour: ci < 0 ? 0 : ci });
    });
  }
  return views;
}

/** CrowdHuman names images by record ID; the extension is whatever is in the folder. */
function odgtImage(imagesDir: string, id: string): string {
  for (const ext of ['.jpg', '.png', '.jpeg', '.JPG', '.PNG']) if (existsSync(join(imagesDir, id + ext))) return join(imagesDir, id + ext);
  return join(imagesDir, id + '.jpg');
}

async function odgtViews(opts: ShowOptions, imagesDir: string, bad: BadRecordLog): Promise<View[]> {
  const skipBad = opts.skipBad ?? false;
  const views: View[] = [];
  const byId = new Map<string, View>();
  const tags = new Map<string, number>();
  const colourOf = (tag: string): number => {
    if (!tags.has(tag)) tags.set(tag, tags.size);
    return tags.get(tag)!;
  };
  for await (const rec of readOdgtGt(opts.gt, { skipBad, bad, what: '--gt' })) {
    if (views.length >= opts.limit) break;
    const gt = rec.gtboxes.map((g) => ({ box: g.fbox, name: g.tag, ignore: isIgnoreBox(g) || g.tag === 'mask' }));
    for (const g of gt) if (!g.ignore) colourOf(g.name);
    const view: View = { file: odgtImage(imagesDir, rec.id), stem: rec.id, gt, dets: [] };
    views.push(view);
    byId.set(rec.id, view);
  }
  if (opts.dets) {
    if (!opts.dets.endsWith('.odgt')) throw new UserError(`${opts.dets}: detections for an .odgt --gt must be an .odgt file with dtboxes`);
    for await (const rec of readOdgtDets(opts.dets, { skipBad, bad, what: '--dets' })) {
      const view = byId.get(rec.id);
      if (!view) continue;
      for (const d of rec.dtboxes) view.dets.push({ box: d.box, name: d.tag ?? 'object', score: d.score, colour: colourOf(d.tag ?? 'object') });
    }
  }
  return views;
}

/** Draws and writes the PNGs; the command's work, callable from tests. */
export async function showImages(opts: ShowOptions): Promise<{ out: string; images: number; gtBoxes: number; detections: number; skipped: number; skippedExamples: string[] }> {
  // The files named first: a missing --gt is said as such, not as a missing image folder.
  statUserFile(opts.gt, { what: '--gt' });
  if (opts.dets !== undefined) statUserFile(opts.dets, { what: '--dets' });
  const out = resolve(opts.out);
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new UserError(`${opts.out}: exists and is not a folder; choose another --out`);
    if (readdirSync(out).length > 0 && !opts.force) throw new UserError(`${opts.out}: folder exists and is not empty; use --force to write into it, or choose another --out`);
  }
  const imagesDir = opts.images ?? join(dirname(opts.gt), 'images');
  if (opts.images !== undefined) statUserFolder(opts.images, { what: '--images' });
  else if (!existsSync(imagesDir)) throw new UserError(`${imagesDir}: image folder not found (the default, beside --gt ${opts.gt}); give the folder holding the GT's images with --images`);
  const bad = new BadRecordLog();
  const skippedCount: Skipped = { n: 0 };
  const skipped: string[] = [];
  const views = opts.gt.endsWith('.odgt') ? await odgtViews(opts, imagesDir, bad) : await cocoViews(opts, imagesDir, skippedCount, skipped);
  skippedCount.n += bad.count;
  skipped.push(...bad.examples.slice(0, Math.max(0, 5 - skipped.length)));
  const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const names = new Set<string>();
    let gtBoxes = 0, detections = 0;
    const outputs: string[] = [];
    for (const [i, view] of views.entries()) {
      const name = names.has(view.stem) ? `${view.stem}-${i}.png` : `${view.stem}.png`;
      names.add(view.stem);
      let r;
      try { r = await draw(view, opts, opts.dets !== undefined); } catch (e) {
        if (!opts.skipBad || !(e instanceof ImageError)) throw e;
        skippedCount.n++;
        if (skipped.length < 5) skipped.push(e.message);
        continue;
      }
      await writeFile(join(tmp, name), r.png);
      outputs.push(name);
      gtBoxes += view.gt.length; detections += r.shown;
    }
    if (!existsSync(out)) await rename(tmp, out);
    else for (const name of outputs) await rename(join(tmp, name), join(out, name));
    return { out, images: outputs.length, gtBoxes, detections, skipped: skippedCount.n, skippedExamples: skipped };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function positiveNumber(flag: string, v: string | undefined, fallback: number, integer: boolean): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new UserError(`fusedet show: ${flag} must be a ${integer ? 'non-negative integer' : 'number ≥ 0'}, got '${v}'`, 2);
  return n;
}

const show: Command = {
  name: 'show',
  summary: 'draw ground-truth boxes and detections on the images (PNG)',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        gt: { type: 'string' }, dets: { type: 'string' }, images: { type: 'string' }, out: { type: 'string' },
        score: { type: 'string' }, limit: { type: 'string' }, scale: { type: 'string' },
        force: { type: 'boolean', default: false }, 'skip-bad': { type: 'boolean', default: false },
      },
    });
    void positionals;
    if (!values.gt) throw new UserError(`fusedet show: --gt FILE is required\n${usage}`, 2);
    if (!values.out) throw new UserError(`fusedet show: --out DIR is required\n${usage}`, 2);
    const scale = values.scale === undefined ? undefined : positiveNumber('--scale', values.scale, 1, true);
    if (scale === 0) throw new UserError('fusedet show: --scale must be at least 1', 2);
    const r = await showImages({
      gt: values.gt, dets: values.dets, images: values.images, out: values.out,
      score: positiveNumber('--score', values.score, 0.3, false),
      limit: positiveNumber('--limit', values.limit, Infinity, true),
      scale, force: values.force, skipBad: values['skip-bad'],
    });
    process.stdout.write(`wrote ${r.images} image(s) to ${r.out}: ${r.gtBoxes} ground-truth boxes${values.dets ? `, ${r.detections} detections with score >= ${values.score ?? 0.3}` : ''}\n`);
    if (r.skipped) process.stderr.write(`skipped ${r.skipped} bad record(s) or unreadable image(s) (--skip-bad):\n${r.skippedExamples.map((m) => `  ${m}\n`).join('')}`);
    return 0;
  },
};

export default show;
