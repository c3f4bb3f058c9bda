// `fusedet detect --weights W IMAGES_OR_DIR... --out DIR`: a trained
// detector on image files; one PNG with the boxes drawn and one JSON of the
// detections per image. Also `detectToStdout`, what `fusedet run --weights`
// prints for one image.
import { parseArgs } from 'node:util';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { ImageError, readImage } from '../../data/image.js';
import { Detector, type ImageDetections } from '../../models/detector.js';

const usage = `usage: fusedet detect --weights W IMAGES_OR_DIR... --out DIR [options]

Runs a trained detector on image files (PNG or JPEG; a folder means its
images) and writes, per image, DIR/NAME.png with the detections drawn (box,
class, score) and DIR/NAME.json with them in original-image pixels:
{"image", "width", "height", "detections": [{"box": [x1, y1, x2, y2], "score", "label", "name"}]}.

options:
  --weights FILE    trained weights (.safetensors checkpoint) (required)
  --out DIR         output folder (required)
  --config C        config name or path (default: the one the weights record)
  --runtime R       cpu, webgpu, cuda, auto or reference (default: auto)
  --nms on|off      class-aware NMS (default: the config's; FCOS on, DeFCN off)
  --score S         draw detections with score >= S (default 0.3; the JSON has all)
  --skip-bad        skip images that cannot be read or decoded, and count them
`;

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);
const PALETTE = ['#ff3b30', '#0a84ff', '#ffd60a', '#bf5af2', '#ff9f0a', '#64d2ff', '#ff2d55', '#30d158', '#ffffff', '#ac8e68'];

/** Files named on the command line, folders expanded to their images (sorted). */
export function listImages(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (existsSync(a) && statSync(a).isDirectory()) {
      const files = readdirSync(a).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase())).sort();
      if (files.length === 0) throw new UserError(`${a}: the folder has no PNG or JPEG images`, 1);
      out.push(...files.map((f) => join(a, f)));
    } else out.push(a);
  }
  return out;
}

export function parseNms(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (v !== 'on' && v !== 'off') throw new UserError(`--nms must be on or off, not '${v}'`, 2);
  return v === 'on';
}

/** The image with its detections drawn; small images are magnified to be looked at. */
async function drawDetections(file: string, r: ImageDetections, names: (label: number) => string, minScore: number): Promise<Buffer> {
  const img = await readImage(file);
  const scale = Math.max(1, Math.min(8, Math.floor(512 / Math.max(img.width, img.height))));
  const src = createCanvas(img.width, img.height);
  const sctx = src.getContext('2d');
  const data = sctx.createImageData(img.width, img.height);
  for (let p = 0; p < img.width * img.height; p++) {
    data.data.set([img.data[3 * p]!, img.data[3 * p + 1]!, img.data[3 * p + 2]!, 255], 4 * p);
  }
  sctx.putImageData(data, 0, 0);
  const canvas = createCanvas(img.width * scale, img.height * scale);
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(src, 0, 0, img.width * scale, img.height * scale);
  ctx.font = '11px DejaVu Sans, sans-serif';
  // Highest scores last, on top.
  for (const d of r.detections.filter((x) => x.score >= minScore).reverse()) {
    const colour = PALETTE[d.label % PALETTE.length]!;
    const [x1, y1, x2, y2] = d.box.map((v) => v * scale);
    ctx.strokeStyle = colour; ctx.lineWidth = 2;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = `${names(d.label)} ${d.score.toFixed(2)}`;
    const w = ctx.measureText(text).width + 4;
    ctx.fillStyle = colour; ctx.fillRect(x1, Math.max(0, y1 - 13), w, 13);
    ctx.fillStyle = '#000000'; ctx.fillText(text, x1 + 2, Math.max(0, y1 - 13) + 10);
  }
  return canvas.encode('png');
}

function nameOf(det: Detector): (label: number) => string {
  return (label) => det.classNames?.[label] ?? `class ${label}`;
}

function detectionsJson(file: string, r: ImageDetections, names: (label: number) => string): object {
  return {
    image: file, width: r.width, height: r.height,
    detections: r.detections.map((d) => ({ box: d.box.map((v) => Math.round(v * 1000) / 1000), score: Math.round(d.score * 1e6) / 1e6, label: d.label, name: names(d.label) })),
  };
}

/** `fusedet run --weights W IMAGE`: the detections of one image as JSON on stdout. */
export async function detectToStdout(weights: string, images: readonly string[], opts: { config?: string; runtime?: string; nms?: string }): Promise<number> {
  if (images.length !== 1) throw new UserError(`fusedet run --weights: give one image file, got ${images.length}`, 2);
  const det = await Detector.load({ weights, config: opts.config, runtime: opts.runtime, nms: parseNms(opts.nms) });
  try {
    const t0 = performance.now();
    const r = await det.detectFile(images[0]!);
    const ms = performance.now() - t0;
    process.stdout.write(JSON.stringify(detectionsJson(images[0]!, r, nameOf(det)), null, 1) + '\n');
    process.stderr.write(`${r.detections.length} detections, ${det.config.name} on ${det.runtimeName}, ${ms.toFixed(1)} ms (with compile)\n`);
  } finally { det.dispose(); }
  return 0;
}

const detect: Command = {
  name: 'detect',
  summary: 'run a trained detector on images: PNGs with the boxes drawn and a JSON per image',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv, allowPositionals: true,
      options: {
        weights: { type: 'string' }, out: { type: 'string' }, config: { type: 'string' }, runtime: { type: 'string', default: 'auto' },
        nms: { type: 'string' }, score: { type: 'string', default: '0.3' }, 'skip-bad': { type: 'boolean', default: false },
      },
    });
    if (!values.weights) throw new UserError(`fusedet detect: --weights FILE is required\n${usage}`, 2);
    if (!values.out) throw new UserError(`fusedet detect: --out DIR is required\n${usage}`, 2);
    if (positionals.length === 0) throw new UserError(`fusedet detect: no images given\n${usage}`, 2);
    const minScore = Number(values.score);
    if (!(minScore >= 0 && minScore <= 1)) throw new UserError(`fusedet detect: --score must be a number in [0, 1], not '${values.score}'`, 2);
    if (!existsSync(values.weights)) throw new UserError(`fusedet detect: --weights ${values.weights}: no such file`, 1);
    const files = listImages(positionals);
    const det = await Detector.load({ weights: values.weights, config: values.config, runtime: values.runtime, nms: parseNms(values.nms) });
    await mkdir(values.out, { recursive: true });
    const names = nameOf(det);
    type Bar = { start(total: number, value: number): void; increment(): void; stop(): void };
    let bar: Bar | undefined;
    if (files.length > 1) {
      const { default: progress } = await import('cli-progress');
      bar = new progress.SingleBar({ stream: process.stderr, hideCursor: true, format: 'detect [{bar}] {value}/{total} images | ETA {eta_formatted}' }, progress.Presets.shades_classic);
      bar.start(files.length, 0);
    }
    let skipped = 0, total = 0;
    const used = new Set<string>();
    try {
      for (const file of files) {
        let r: ImageDetections;
        try {
          r = await det.detectFile(file);
        } catch (e) {
          if (!(e instanceof ImageError) || !values['skip-bad']) throw e;
          skipped++;
          process.stderr.write(`\nfusedet detect: skipped ${e.message}\n`);
          bar?.increment();
          continue;
        }
        // Same stem in two folders: keep both outputs apart.
        let stem = basename(file, extname(file));
        for (let k = 2; used.has(stem); k++) stem = `${basename(file, extname(file))}-${k}`;
        used.add(stem);
        await writeFile(join(values.out, `${stem}.json`), JSON.stringify(detectionsJson(file, r, names), null, 1) + '\n');
        await writeFile(join(values.out, `${stem}.png`), await drawDetections(file, r, names, minScore));
        total += r.detections.length;
        bar?.increment();
      }
    } finally {
      bar?.stop();
      det.dispose();
    }
    process.stdout.write(`${files.length - skipped} images, ${total} detections (${det.config.name}, ${det.nmsOn ? 'with' : 'without'} NMS, ${det.runtimeName}) -> ${values.out}` +
      `${skipped ? `; skipped ${skipped} unreadable image(s)` : ''}\n`);
    return 0;
  },
};

export default detect;
