// What the demo and the quality run (bench/quality.ts) do after training:
// run a trained detector (models/detector.ts) over a test set with and
// without NMS, score each run with COCO (AP, AP50, AR100) and the
// CrowdHuman protocol (AP50, mMR, recall; class-agnostic on scenes), print
// the Table-1-shaped comparison and draw detections side by side.
//
// Each run is models/evaluate.ts's evaluateDetector (what `fusedet eval`
// runs): detections go through files, as a user's would.
import { readFileSync } from 'node:fs';
import type { ImageDetections } from '../../models/detector.js';
import type { EvalData } from '../../models/evaluate.js';

export interface RunMetrics {
  AP: number; AP50: number; AP75: number; AR100: number;
  crowdAP50: number; mMR: number; recall: number;
  detections: number;
}

export interface ModelResult {
  /** Row label, e.g. 'DeFCN (POTO+3DMF+Aux)'. */
  label: string;
  config: string;
  weights: string;
  nms: RunMetrics;
  noNms: RunMetrics;
  /** Per test image (in annotation order), the detections of each run: for drawing. */
  drawn?: { nms: ImageDetections[]; noNms: ImageDetections[] };
}

/** A test set as models/evaluate.ts opens it (COCO JSON, .odgt, or a folder with one). */
export type TestSet = EvalData;

export async function openTestSet(annotations: string): Promise<TestSet> {
  const { openEvalData } = await import('../../models/evaluate.js');
  return openEvalData(annotations);
}

/**
 * One run of a trained model over the test set through models/evaluate.ts
 * (detections written as COCO results and .odgt, scored by both
 * protocols); `nms` undefined is the config's own setting. The detections
 * come back per image (read from the results file) for drawing.
 */
export async function evaluateRun(o: { config: string; weights: string; test: TestSet; out: string; runtime: string; nms?: boolean }): Promise<{ metrics: RunMetrics; detections: ImageDetections[] }> {
  const { evaluateDetector } = await import('../../models/evaluate.js');
  const report = await evaluateDetector(o.test, {
    weights: o.weights, config: o.config, runtime: o.runtime, out: o.out, protocol: 'both',
    ...(o.nms === undefined ? {} : { nms: o.nms ? 'on' : 'off' }),
  });
  const row = report.rows[0]!;
  // A bare .odgt has no COCO ground truth: those metrics are −1 (shown as '-').
  const coco = row.coco ?? { AP: -1, AP50: -1, AP75: -1, AR100: -1 }, crowd = row.crowd!;
  const results = JSON.parse(readFileSync(row.results, 'utf8')) as { image_id: number; category_id: number; bbox: number[]; score: number }[];
  const index = new Map(o.test.images.map((im, i) => [im.id, i]));
  const labelOf = new Map(o.test.categoryIds.map((id, k) => [id, k]));
  const detections: ImageDetections[] = o.test.images.map(() => ({ width: 0, height: 0, detections: [] }));
  for (const d of results) {
    const [x, y, w, h] = d.bbox as [number, number, number, number];
    detections[index.get(d.image_id)!]!.detections.push({ box: [x, y, x + w, y + h], score: d.score, label: labelOf.get(d.category_id) ?? d.category_id - 1 });
  }
  return {
    metrics: { AP: coco.AP, AP50: coco.AP50, AP75: coco.AP75, AR100: coco.AR100, crowdAP50: crowd.ap50, mMR: crowd.mMR, recall: crowd.recall, detections: results.length },
    detections,
  };
}

/** One trained model over the test set, NMS on and off. */
export async function evaluateModel(o: { label: string; config: string; weights: string; test: TestSet; out: string; runtime: string; keepDetections?: number }): Promise<ModelResult> {
  const keep = o.keepDetections ?? 4;
  const on = await evaluateRun({ ...o, nms: true });
  const off = await evaluateRun({ ...o, nms: false });
  return {
    label: o.label, config: o.config, weights: o.weights, nms: on.metrics, noNms: off.metrics,
    drawn: { nms: on.detections.slice(0, keep), noNms: off.detections.slice(0, keep) },
  };
}

const pct = (v: number): string => (v < 0 ? '   -' : (100 * v).toFixed(1).padStart(5));
const delta = (a: number, b: number): string => {
  if (a < 0 || b < 0) return '     -';
  const d = Math.round(1000 * (b - a)) / 10 || 0; // || 0: no "-0.0"
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}`.padStart(6);
};

/** The paper's Table 1 layout: per model, each metric with NMS, without, and Δ = without − with. */
export function formatTable(results: readonly ModelResult[]): string {
  const w = Math.max(8, ...results.map((r) => r.label.length));
  const metrics: [string, keyof RunMetrics][] = [['AP', 'AP'], ['AP50', 'AP50'], ['AR100', 'AR100'], ['CH AP50', 'crowdAP50'], ['mMR', 'mMR'], ['recall', 'recall']];
  const head1 = `${''.padEnd(w)} | ${metrics.map(([n]) => n.padStart(20)).join(' | ')}`;
  const head2 = `${'model'.padEnd(w)} | ${metrics.map(() => `${'w/'.padStart(5)} ${'w/o'.padStart(5)} ${'Δ'.padStart(6)}`).join(' | ')}`;
  const lines = [head1, head2, '-'.repeat(head2.length)];
  for (const r of results) lines.push(`${r.label.padEnd(w)} | ${metrics.map(([, k]) => `${pct(r.nms[k])} ${pct(r.noNms[k])} ${delta(r.nms[k], r.noNms[k])}`).join(' | ')}`);
  lines.push('', 'AP, AP50, AR100: COCO protocol. CH AP50, mMR (lower is better), recall: CrowdHuman protocol, class-agnostic.', 'w/: with NMS (IoU 0.6), w/o: without, Δ = w/o − w/ (points).');
  return lines.join('\n');
}

/** The table as JSON (what the tests and the README read). */
export function tableJson(results: readonly ModelResult[], extra: Record<string, unknown> = {}): unknown {
  return { ...extra, models: results.map((r) => ({ label: r.label, config: r.config, weights: r.weights, nms: r.nms, noNms: r.noNms })) };
}

const COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45', '#fabed4', '#469990'];

/**
 * Test images in rows; columns: ground truth, then each (model, NMS) run.
 * Per image each run shows its best n detections, n = the image's objects
 * (so a weakly trained model still shows where it looks, and duplicates
 * show as such), coloured by class, labelled "class score".
 */
export async function drawSideBySide(path: string, test: TestSet, columns: { title: string; dets: ImageDetections[] }[], opts: { rows: number; scale: number }): Promise<void> {
  const { createCanvas, loadImage } = await import('@napi-rs/canvas');
  const { readCocoFile } = await import('../../data/coco.js');
  const gt = await readCocoFile(test.coco ?? test.annotations);
  const imgs = await Promise.all(test.images.slice(0, opts.rows).map((im) => loadImage(im.file)));
  const cw = Math.max(...imgs.map((i) => i.width)) * opts.scale, ch = Math.max(...imgs.map((i) => i.height)) * opts.scale;
  const cols = [{ title: 'ground truth', dets: [] as ImageDetections[] }, ...columns];
  const top = 24, pad = 6;
  const canvas = createCanvas(cols.length * (cw + pad) + pad, top + imgs.length * (ch + pad) + 18);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = '13px sans-serif';
  ctx.fillStyle = '#000';
  cols.forEach((c, j) => ctx.fillText(c.title, pad + j * (cw + pad), 16));
  ctx.fillText('each run: its n best detections per image, n = objects in the image', pad, canvas.height - 5);
  const catIndex = new Map(test.categoryIds.map((id, k) => [id, k]));
  imgs.forEach((img, i) => {
    const y0 = top + i * (ch + pad);
    const ii = gt.imageIndexOf(test.images[i]!.id);
    cols.forEach((c, j) => {
      const x0 = pad + j * (cw + pad);
      ctx.drawImage(img, x0, y0, img.width * opts.scale, img.height * opts.scale);
      const boxes: { box: number[]; label: number; text: string }[] = [];
      const [s, e] = ii >= 0 ? gt.annotationRange(ii) : [0, 0];
      if (j === 0) {
        for (let a = s; a < e; a++) {
          const [x, y, w, h] = gt.annotations.bbox.subarray(4 * a, 4 * a + 4);
          const label = catIndex.get(gt.categories[gt.annotations.categoryIndex[a]!]!.id) ?? 0;
          boxes.push({ box: [x!, y!, x! + w!, y! + h!], label, text: test.classNames[label] ?? '' });
        }
      } else {
        const best = [...(c.dets[i]?.detections ?? [])].sort((a, b) => b.score - a.score).slice(0, e - s);
        for (const d of best) boxes.push({ box: d.box, label: d.label, text: `${test.classNames[d.label] ?? d.label} ${d.score.toFixed(2)}` });
      }
      ctx.lineWidth = 1.5;
      ctx.font = '10px sans-serif';
      for (const b of boxes) {
        const color = COLORS[b.label % COLORS.length]!;
        ctx.strokeStyle = color;
        ctx.strokeRect(x0 + b.box[0]! * opts.scale, y0 + b.box[1]! * opts.scale, (b.box[2]! - b.box[0]!) * opts.scale, (b.box[3]! - b.box[1]!) * opts.scale);
        ctx.fillStyle = color;
        ctx.fillText(b.text, x0 + b.box[0]! * opts.scale + 2, y0 + b.box[1]! * opts.scale + 10);
      }
    });
  });
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, await canvas.encode('png'));
}
