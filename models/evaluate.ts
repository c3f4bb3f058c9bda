// Scoring a trained detector on a dataset: run it over every image of an
// annotation file (COCO JSON or CrowdHuman .odgt, or a folder holding one),
// write the detections as a COCO results JSON and an .odgt, and compute the
// COCO metrics (as pycocotools) and/or the CrowdHuman ones (AP50, mMR,
// recall), with NMS off, on, or both. The CLI (`fusedet eval --weights`),
// the training loop's --val and the demo call evaluateDetector.
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join } from 'node:path';
import { readCocoFile, type CocoDataset } from '../data/coco.js';
import { readOdgtGt } from '../data/odgt.js';
import { ImageError } from '../data/image.js';
import { evaluateCocoFiles, type CocoMetrics } from '../eval/coco.js';
import type { CrowdHumanMetrics } from '../eval/crowdhuman.js';
import { Detector, DetectorError, type DetectorOptions, type ImageDetections } from './detector.js';

export interface EvalImage { id: number; odgtId: string; file: string }

export interface EvalData {
  /** The annotation file used (COCO JSON, or .odgt). */
  annotations: string;
  /** COCO ground truth when there is one (the file itself, or the .json beside an .odgt). */
  coco?: string;
  /** CrowdHuman ground truth (.odgt) when there is one. */
  odgt?: string;
  images: EvalImage[];
  /** Category id of each model class (COCO ids by rank, as the loader maps them) and names. */
  categoryIds: number[];
  classNames: string[];
}

function firstWith(dir: string, names: readonly string[], ext: string): string | undefined {
  for (const n of names) if (existsSync(join(dir, n))) return join(dir, n);
  return readdirSync(dir).filter((f) => f.toLowerCase().endsWith(ext)).sort().map((f) => join(dir, f))[0];
}

/** Where image files are: beside the annotations or in their images/ (Images/) folder. */
function imageRoot(annotations: string, sample: string | undefined): string {
  const dir = dirname(annotations);
  for (const r of [dir, join(dir, 'images'), join(dir, 'Images')]) if (sample === undefined || existsSync(join(r, sample))) return r;
  return dir;
}

/** Resolves --data: a COCO .json, an .odgt, or a folder with annotations.json / annotations.odgt / one of either. */
export async function openEvalData(path: string): Promise<EvalData> {
  if (!existsSync(path)) throw new DetectorError(`${path}: no such file or folder (give COCO JSON, a CrowdHuman .odgt, or a folder holding one)`);
  let annotations = path;
  if (statSync(path).isDirectory()) {
    const found = firstWith(path, ['annotations.json'], '.json') ?? firstWith(path, ['annotations.odgt'], '.odgt');
    if (!found) throw new DetectorError(`${path}: the folder has no annotations (expected annotations.json (COCO) or an .odgt file)`);
    annotations = found;
  }
  const isOdgt = extname(annotations).toLowerCase() === '.odgt';
  const besideJson = isOdgt ? join(dirname(annotations), `${basename(annotations, extname(annotations))}.json`) : undefined;
  const cocoPath = !isOdgt ? annotations : besideJson && existsSync(besideJson) ? besideJson : undefined;
  const besideOdgt = !isOdgt ? join(dirname(annotations), `${basename(annotations, extname(annotations))}.odgt`) : annotations;
  const odgt = existsSync(besideOdgt) ? besideOdgt : undefined;
  if (cocoPath) {
    const ds: CocoDataset = await readCocoFile(cocoPath);
    const root = imageRoot(cocoPath, ds.images[0]?.fileName);
    const cats = [...ds.categories].sort((a, b) => a.id - b.id);
    return {
      annotations, coco: cocoPath, odgt,
      images: ds.images.map((im) => ({ id: im.id, odgtId: basename(im.fileName, extname(im.fileName)), file: isAbsolute(im.fileName) ? im.fileName : join(root, im.fileName) })),
      categoryIds: cats.map((c) => c.id), classNames: cats.map((c) => c.name),
    };
  }
  // A bare .odgt: images named by ID (CrowdHuman's Images/ID.jpg), one class (person).
  const images: EvalImage[] = [];
  const dir = dirname(annotations);
  for await (const r of readOdgtGt(annotations)) {
    const cands = ['.jpg', '.png', '.jpeg'].flatMap((e) => [join(dir, 'Images', r.id + e), join(dir, 'images', r.id + e), join(dir, r.id + e)]);
    images.push({ id: images.length + 1, odgtId: r.id, file: cands.find((c) => existsSync(c)) ?? cands[0] });
  }
  return { annotations, odgt: annotations, images, categoryIds: [1], classNames: ['person'] };
}

export type Protocol = 'coco' | 'crowdhuman' | 'both';

export interface EvaluateOptions extends Omit<DetectorOptions, 'nms' | 'weights'> {
  /** Weights file (unless `detector` is given). */
  weights?: string;
  /** Where the detection files go (made if missing). */
  out: string;
  /** NMS off, on, or each in turn; default the config's own. */
  nms?: 'on' | 'off' | 'both';
  protocol?: Protocol;
  /** Skip unreadable images (counted) instead of stopping at the first. */
  skipBad?: boolean;
  /** Called after each image: (done, total, label of the pass). */
  onProgress?: (done: number, total: number, pass: string) => void;
  /**
   * A detector to use instead of loading `weights` (the training loop's:
   * Detector.fromTensors); `nms` still picks the passes.
   */
  detector?: Detector;
}

export interface EvalRow {
  nms: boolean;
  coco?: CocoMetrics;
  crowd?: CrowdHumanMetrics;
  results: string;
  odgtResults: string;
}

export interface EvalReport {
  data: EvalData;
  rows: EvalRow[];
  images: number;
  /** Images skipped as unreadable (--skip-bad), with the first few messages. */
  skipped: number;
  skippedExamples: string[];
  config: string;
  runtime: string;
}

/** Runs the detector over every image and scores it; see the file comment. */
export async function evaluateDetector(data: EvalData, o: EvaluateOptions): Promise<EvalReport> {
  const protocol = o.protocol ?? 'both';
  if (protocol === 'coco' && !data.coco) {
    throw new DetectorError(`${data.annotations}: the COCO protocol needs COCO ground truth (a .json beside the .odgt); use --protocol crowdhuman`);
  }
  mkdirSync(o.out, { recursive: true });
  // undefined: the config's own setting (FCOS on, DeFCN off).
  const passes: (boolean | undefined)[] = o.nms === 'both' ? [false, true] : o.nms === 'on' ? [true] : o.nms === 'off' ? [false] : [undefined];
  const rows: EvalRow[] = [];
  let skipped = 0, runtime = '', config = '';
  const examples: string[] = [];
  const base = o.detector;
  for (const want of passes) {
    if (!base && !o.weights) throw new DetectorError('evaluateDetector: give weights or a detector');
    const det = base ? (want === undefined ? base : base.withNms(want)) : await Detector.load({ ...o, weights: o.weights!, nms: want });
    const nms = det.nmsOn;
    config = det.config.name;
    const label = nms ? 'w/ NMS' : 'w/o NMS';
    const results: object[] = [];
    const odgtLines: string[] = [];
    skipped = 0;
    let done = 0;
    for (const im of data.images) {
      let r: ImageDetections;
      try {
        r = await det.detectFile(im.file);
      } catch (e) {
        if (!(e instanceof ImageError) || !o.skipBad) throw e;
        skipped++;
        if (examples.length < 5) examples.push(e.message);
        o.onProgress?.(++done, data.images.length, label);
        continue;
      }
      const dt: object[] = [];
      for (const d of r.detections) {
        const [x1, y1, x2, y2] = d.box;
        const bbox = [x1, y1, x2 - x1, y2 - y1].map((v) => Math.round(v * 1000) / 1000);
        results.push({ image_id: im.id, category_id: data.categoryIds[d.label] ?? d.label + 1, bbox, score: Math.round(d.score * 1e6) / 1e6 });
        dt.push({ box: bbox, score: Math.round(d.score * 1e6) / 1e6, tag: data.classNames[d.label] ?? String(d.label) });
      }
      odgtLines.push(JSON.stringify({ ID: im.odgtId, width: r.width, height: r.height, dtboxes: dt }));
      o.onProgress?.(++done, data.images.length, label);
    }
    runtime = det.runtimeName;
    if (det !== base) det.dispose();
    const stem = join(o.out, `detections-${nms ? 'nms' : 'no-nms'}`);
    const row: EvalRow = { nms, results: `${stem}.json`, odgtResults: `${stem}.odgt` };
    writeFileSync(row.results, JSON.stringify(results));
    writeFileSync(row.odgtResults, odgtLines.join('\n') + (odgtLines.length ? '\n' : ''));
    if ((protocol === 'coco' || protocol === 'both') && data.coco) row.coco = (await evaluateCocoFiles(data.coco, row.results)).metrics;
    if (protocol === 'crowdhuman' || protocol === 'both') {
      const ch = await import('../eval/crowdhuman.js');
      // COCO ground truth (scenes) pairs with the COCO results by image id; a bare .odgt with the .odgt results by ID.
      row.crowd = data.coco ? await ch.evaluateCrowdHumanFiles(data.coco, row.results) : await ch.evaluateCrowdHumanFiles(data.odgt!, row.odgtResults);
    }
    rows.push(row);
  }
  return { data, rows, images: data.images.length, skipped, skippedExamples: examples, config, runtime };
}

const pct = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '   n/a' : (100 * x).toFixed(1).padStart(6));

/** The Table-1-shaped table: one column per NMS setting, and Δ when both ran. */
export function formatEvalTable(r: EvalReport): string {
  const metrics: [string, (row: EvalRow) => number | undefined][] = [
    ['AP', (w) => w.coco?.AP], ['AP50', (w) => w.coco?.AP50], ['AP75', (w) => w.coco?.AP75], ['AR100', (w) => w.coco?.AR100],
    ['CH AP50', (w) => w.crowd?.ap50], ['CH mMR', (w) => w.crowd?.mMR], ['CH recall', (w) => w.crowd?.recall],
  ];
  const cols = r.rows.map((w) => (w.nms ? 'w/ NMS' : 'w/o NMS'));
  const both = r.rows.length === 2;
  const head = `${'metric'.padEnd(10)}${cols.map((c) => c.padStart(9)).join('')}${both ? '        Δ' : ''}`;
  const lines = [`${r.config} on ${r.data.annotations} (${r.images - r.skipped} images${r.skipped ? `, ${r.skipped} skipped` : ''}, ${r.runtime})`, head];
  for (const [name, get] of metrics) {
    const vals = r.rows.map(get);
    if (vals.every((v) => v === undefined)) continue;
    const delta = both && vals[0] !== undefined && vals[1] !== undefined ? (100 * (vals[1]! - vals[0]!)).toFixed(1).padStart(9) : '';
    lines.push(`${name.padEnd(10)}${vals.map((v) => pct(v).padStart(9)).join('')}${delta}`);
  }
  return lines.join('\n') + '\n';
}

/** The report as JSON (what the CLI writes beside the table). */
export function evalReportJson(r: EvalReport): object {
  return {
    config: r.config, runtime: r.runtime, annotations: r.data.annotations, images: r.images, skipped: r.skipped,
    rows: r.rows.map((w) => {
      const coco = w.coco ? (({ stats: _s, perCategory: _p, ...rest }) => rest)(w.coco) : undefined;
      return { nms: w.nms, coco, crowdhuman: w.crowd, results: w.results, odgtResults: w.odgtResults };
    }),
  };
}
