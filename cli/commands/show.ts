// `fusedet show --gt GT [--dets DETS] [--images DIR] --out DIR`: draws ground
// truth and detections on the images, one PNG per image, for looking at data
// and at what a model found.
import { parseArgs } from 'node:util';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { readCocoFile, type CocoDataset } from '../../data/coco.js';
import { readDetectionsFile, resolveDetections, type ResolvedDetections } from '../../data/detections.js';
import { readImage } from '../../data/image.js';

const usage = `usage: fusedet show --gt GT.json [--dets DETS.json] --out DIR [options]

Draws the ground-truth boxes (green; crowd and ignore boxes dashed orange)
and the detections (a colour per class, with class name and score) on each
image and writes one PNG per image into DIR.

options:
  --gt FILE        COCO instances file (required)
  --dets FILE      COCO results file: [{image_id, category_id, bbox, score}, ...]
  --images DIR     folder the GT's file_name entries are relative to
                   (default: the GT file's folder + /images)
  --out DIR        output folder (required); must be empty or new unless --force
  --score S        draw detections with score >= S (default 0.3)
  --limit N        draw the first N images only (default: all)
  --scale K        magnify images K times (default: small images are enlarged
                   until their long side is at least 512 px)
  --force          write into a non-empty output folder
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
}

// Distinct, readable on most backgrounds; class k takes PALETTE[k % n].
const PALETTE = ['#ff3b30', '#0a84ff', '#ffd60a', '#bf5af2', '#ff9f0a', '#64d2ff', '#ff2d55', '#30d158', '#ffffff', '#ac8e68'];
const GT_COLOUR = '#00ff66';
const IGNORE_COLOUR = '#ff9500';

function label(ctx: SKRSContext2D, text: string, x: number, y: number, colour: string, below: boolean): void {
  ctx.font = '11px DejaVu Sans, sans-serif';
  const w = ctx.measureText(text).width + 4, h = 13;
  const ty = below ? y : Math.max(0, y - h);
  ctx.fillStyle = colour;
  ctx.fillRect(x, ty, w, h);
  ctx.fillStyle = colour === '#ffffff' || colour === '#ffd60a' || colour === GT_COLOUR || colour === '#64d2ff' ? '#000000' : '#ffffff';
  ctx.fillText(text, x + 2, ty + 10);
}

function box(ctx: SKRSContext2D, b: ArrayLike<number>, k: number, scale: number, colour: string, dashed: boolean): [number, number, number, number] {
  const x = b[4 * k]! * scale, y = b[4 * k + 1]! * scale, w = b[4 * k + 2]! * scale, h = b[4 * k + 3]! * scale;
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.setLineDash(dashed ? [5, 4] : []);
  ctx.strokeRect(x, y, w, h);
  ctx.setLineDash([]);
  return [x, y, w, h];
}

async function drawOne(gt: CocoDataset, dets: ResolvedDetections | null, imageIndex: number, detRows: number[], imagesDir: string, opts: ShowOptions): Promise<{ png: Buffer; gtBoxes: number; shown: number }> {
  const im = gt.images[imageIndex]!;
  const img = await readImage(join(imagesDir, im.fileName));
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
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(src, 0, 0, img.width * scale, img.height * scale);

  const a = gt.annotations;
  const [start, end] = gt.annotationRange(imageIndex);
  for (let r = start; r < end; r++) {
    const crowd = a.iscrowd[r]! !== 0 || a.ignore[r]! !== 0;
    const [x, y] = box(ctx, a.bbox, r, scale, crowd ? IGNORE_COLOUR : GT_COLOUR, crowd);
    if (!dets) label(ctx, gt.categories[a.categoryIndex[r]!]!.name, x, y, crowd ? IGNORE_COLOUR : GT_COLOUR, false);
  }
  let shown = 0;
  if (dets) {
    const d = dets.dets;
    // Highest scores drawn last, on top.
    const rows = detRows.filter((row) => d.score[row]! >= opts.score).sort((p, q) => d.score[p]! - d.score[q]!);
    for (const row of rows) {
      const ci = gt.categoryIndexOf(d.categoryId[row]!);
      const colour = PALETTE[(ci < 0 ? 0 : ci) % PALETTE.length]!;
      const [x, y, , h] = box(ctx, d.bbox, row, scale, colour, false);
      const name = ci < 0 ? `cat ${d.categoryId[row]}` : gt.categories[ci]!.name;
      label(ctx, `${name} ${d.score[row]!.toFixed(2)}`, x, y + h, colour, true);
      shown++;
    }
  }
  return { png: await canvas.encode('png'), gtBoxes: end - start, shown };
}

/** Draws and writes the PNGs; the command's work, callable from tests. */
export async function showImages(opts: ShowOptions): Promise<{ out: string; images: number; gtBoxes: number; detections: number }> {
  const out = resolve(opts.out);
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new UserError(`${opts.out}: exists and is not a folder; choose another --out`);
    if (readdirSync(out).length > 0 && !opts.force) throw new UserError(`${opts.out}: folder exists and is not empty; use --force to write into it, or choose another --out`);
  }
  const gt = await readCocoFile(opts.gt);
  const imagesDir = opts.images ?? join(dirname(opts.gt), 'images');
  if (!existsSync(imagesDir)) throw new UserError(`${imagesDir}: image folder not found; give the folder holding the GT's file_name entries with --images`);
  let dets: ResolvedDetections | null = null;
  const byImage = new Map<number, number[]>();
  if (opts.dets) {
    dets = resolveDetections(await readDetectionsFile(opts.dets), gt);
    dets.rows.forEach((row, k) => {
      const ii = dets!.imageIndex[k]!;
      const list = byImage.get(ii);
      if (list) list.push(row); else byImage.set(ii, [row]);
    });
  }
  const count = Math.min(gt.images.length, opts.limit);
  const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const names = new Set<string>();
    let gtBoxes = 0, detections = 0;
    const outputs: string[] = [];
    for (let i = 0; i < count; i++) {
      const stem = basename(gt.images[i]!.fileName, extname(gt.images[i]!.fileName));
      const name = names.has(stem) ? `${stem}-${gt.images[i]!.id}.png` : `${stem}.png`;
      names.add(stem);
      const r = await drawOne(gt, dets, i, byImage.get(i) ?? [], imagesDir, opts);
      await writeFile(join(tmp, name), r.png);
      outputs.push(name);
      gtBoxes += r.gtBoxes; detections += r.shown;
    }
    if (!existsSync(out)) await rename(tmp, out);
    else for (const name of outputs) await rename(join(tmp, name), join(out, name));
    return { out, images: count, gtBoxes, detections };
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
        force: { type: 'boolean', default: false },
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
      scale, force: values.force,
    });
    process.stdout.write(`wrote ${r.images} image(s) to ${r.out}: ${r.gtBoxes} ground-truth boxes${values.dets ? `, ${r.detections} detections with score >= ${values.score ?? 0.3}` : ''}\n`);
    return 0;
  },
};

export default show;
