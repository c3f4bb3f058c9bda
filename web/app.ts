// The demo page (index.html): loads the served model (a program file and
// safetensors weights) through the packaged browser API (./fusedet.js, built
// from api/browser.ts), runs it on a built-in scene or a chosen image, draws
// boxes and scores, and shows the adapter and per-stage timings. Without
// WebGPU it says so and offers the server's POST /detect instead. Any
// failure (damaged weights, an image that does not decode) is shown on the
// page. The outcome is also left on globalThis.fusedetResult for the
// browser tests. Query: ?scene=N | ?image=URL, ?program=URL, ?weights=URL, ?score=S.
import { Detector, ImageInputError, RuntimeUnavailableError, type Detections } from '../api/browser.js';

/** What the page ends with, for tests (plain JSON). */
export interface DemoResult {
  ok: boolean;
  mode?: 'webgpu' | 'server';
  adapter?: string;
  error?: string;
  loadMs?: number;
  detections?: { boxes: number[]; scores: number[]; labels: number[]; count: number; width: number; height: number };
  timings?: Detections['timings'];
}

interface Ctx { fillStyle: string; strokeStyle: string; lineWidth: number; font: string; imageSmoothingEnabled: boolean;
  drawImage(i: unknown, x: number, y: number, w: number, h: number): void; strokeRect(x: number, y: number, w: number, h: number): void;
  fillRect(x: number, y: number, w: number, h: number): void; fillText(t: string, x: number, y: number): void; measureText(t: string): { width: number } }
interface El { textContent: string | null; innerHTML: string; value: string; hidden: boolean; className: string; width: number; height: number;
  files?: ArrayLike<Blobish> | null; onclick: (() => void) | null; onchange: (() => void) | null; getContext(k: '2d'): Ctx; append(...n: unknown[]): void }
interface Blobish { arrayBuffer(): Promise<ArrayBuffer>; readonly type: string; readonly name?: string }
interface Bitmap { width: number; height: number; close(): void }
interface PageGlobals {
  fusedetResult?: DemoResult;
  document: { getElementById(id: string): El | null; createElement(t: string): El };
  location: { search: string };
  fetch(url: string, init?: { method: string; body: unknown }): Promise<{ ok: boolean; status: number; json(): Promise<unknown>; blob(): Promise<Blobish> }>;
  createImageBitmap(b: unknown, o?: Record<string, string>): Promise<Bitmap>;
}
const g = globalThis as unknown as PageGlobals;
const $ = (id: string): El => g.document.getElementById(id)!;
const query = new URLSearchParams(g.location.search);
const COLOURS = ['#ff3b30', '#0a84ff', '#ffd60a', '#bf5af2', '#ff9f0a', '#64d2ff', '#ff2d55', '#30d158', '#ffffff', '#ac8e68'];

function status(text: string, error = false): void {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

function finish(r: DemoResult): void {
  g.fusedetResult = r;
  if (!r.ok) status(r.error ?? 'failed', true);
}

/** The message for the page; the stack goes to the console (developer tools). */
const errorText = (e: unknown): string => {
  console.error(e);
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
};

/** The chosen image's bytes: ?image=URL, a file from the picker, or a built-in scene. */
async function currentImage(): Promise<{ blob: Blobish; name: string }> {
  const file = $('file').files?.[0];
  if (file) return { blob: file, name: file.name ?? 'file' };
  const url = query.get('image') && !$('scene').value ? query.get('image')! : $('scene').value;
  const r = await g.fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return { blob: await r.blob(), name: url };
}

/** Boxes are drawn from this score (?score=S; the table lists the best 20 whatever their score). */
const MIN_SCORE = Number(query.get('score') ?? 0.3);

function draw(bmp: Bitmap, d: { boxes: ArrayLike<number>; scores: ArrayLike<number>; labels: ArrayLike<number>; count: number }, minScore = MIN_SCORE): void {
  const c = $('view');
  const k = Math.max(1, Math.min(8, Math.floor(512 / Math.max(bmp.width, bmp.height))));
  c.width = bmp.width * k; c.height = bmp.height * k;
  const ctx = c.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(bmp, 0, 0, c.width, c.height);
  ctx.lineWidth = 2; ctx.font = '12px system-ui, sans-serif';
  const rows: string[] = [];
  // Lowest score first, so the best detections are drawn on top.
  for (let i = d.count - 1; i >= 0; i--) {
    const [x1, y1, x2, y2] = [0, 1, 2, 3].map((j) => d.boxes[4 * i + j]! * k);
    const s = d.scores[i]!, l = d.labels[i]!;
    if (i < 20) rows.unshift(`<tr><td>${l}</td><td class="n">${s.toFixed(3)}</td><td class="n">${[x1, y1, x2, y2].map((v) => (v / k).toFixed(1)).join(', ')}</td></tr>`);
    if (s < minScore) continue;
    const colour = COLOURS[l % COLOURS.length]!;
    ctx.strokeStyle = colour; ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const label = `${l} ${s.toFixed(2)}`;
    ctx.fillStyle = colour; ctx.fillRect(x1, Math.max(0, y1 - 14), ctx.measureText(label).width + 6, 14);
    ctx.fillStyle = '#000'; ctx.fillText(label, x1 + 3, Math.max(11, y1 - 3));
  }
  $('dets').innerHTML = `<tr><th>label</th><th>score</th><th>box (x1, y1, x2, y2)</th></tr>${rows.join('')}` +
    (d.count > 20 ? `<tr><td colspan="3">… ${d.count - 20} more (boxes drawn from score ${minScore})</td></tr>` : '');
}

function showTimings(rows: [string, string][]): void {
  $('timings').innerHTML = rows.map(([k, v]) => `<tr><th>${k}</th><td class="n">${v}</td></tr>`).join('');
}

const plain = (d: Detections): NonNullable<DemoResult['detections']> =>
  ({ boxes: Array.from(d.boxes), scores: Array.from(d.scores), labels: Array.from(d.labels), count: d.count, width: d.width, height: d.height });

async function detectInBrowser(det: Detector, loadMs: number): Promise<void> {
  try {
    status('detecting…');
    const { blob, name } = await currentImage();
    let bmp: Bitmap;
    try { bmp = await g.createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' }); } catch (e) {
      throw new ImageInputError(`${name}: cannot decode image (corrupt or not an image this browser reads): ${(e as Error).message}`);
    }
    const d = await det.detect(blob);
    draw(bmp, d);
    bmp.close();
    showTimings([['adapter', det.adapter], ['load (fetch, compile)', `${loadMs.toFixed(1)} ms`], ['decode + resize + normalise', `${d.timings.prepareMs.toFixed(1)} ms`],
      ['run (upload, network, post-processing, read-back)', `${d.timings.runMs.toFixed(1)} ms`], ['total', `${d.timings.totalMs.toFixed(1)} ms`]]);
    status(`${d.count} detections in ${name} (${d.width}×${d.height}) on WebGPU`);
    finish({ ok: true, mode: 'webgpu', adapter: det.adapter, loadMs, detections: plain(d), timings: d.timings });
  } catch (e) {
    finish({ ok: false, mode: 'webgpu', error: errorText(e) });
  }
}

/** No WebGPU here: the same detector behind the server's POST /detect. */
async function detectOnServer(): Promise<void> {
  try {
    status('detecting on the server…');
    const { blob, name } = await currentImage();
    const t0 = performance.now();
    const r = await g.fetch('detect', { method: 'POST', body: blob });
    const body = await r.json() as { error?: string; count: number; width: number; height: number; detections: { box: number[]; score: number; label: number }[] };
    if (!r.ok) throw new Error(`${name}: the server answered ${r.status}: ${body.error}`);
    const ms = performance.now() - t0;
    const bmp = await g.createImageBitmap(blob);
    const d = { boxes: body.detections.flatMap((x) => x.box), scores: body.detections.map((x) => x.score), labels: body.detections.map((x) => x.label), count: body.count };
    draw(bmp, d);
    bmp.close();
    showTimings([['where', 'server (POST /detect)'], ['round trip', `${ms.toFixed(1)} ms`]]);
    status(`${body.count} detections in ${name} (${body.width}×${body.height}) by the server`);
    finish({ ok: true, mode: 'server', detections: { ...d, width: body.width, height: body.height } });
  } catch (e) {
    finish({ ok: false, mode: 'server', error: errorText(e) });
  }
}

async function main(): Promise<void> {
  const scenes = await g.fetch('scenes/index.json').then((r) => (r.ok ? r.json() as Promise<string[]> : []), () => []);
  const select = $('scene');
  for (const s of scenes) { const o = g.document.createElement('option'); o.value = s; o.textContent = s; select.append(o); }
  if (query.get('image')) { const o = g.document.createElement('option'); o.value = ''; o.textContent = query.get('image'); select.append(o); select.value = ''; }
  else if (query.get('scene')) select.value = `scenes/${query.get('scene')}.png`;
  const t0 = performance.now();
  let det: Detector;
  try {
    det = await Detector.create({ program: query.get('program') ?? 'model/program.json', weights: query.get('weights') ?? 'model/weights.safetensors' });
  } catch (e) {
    if (e instanceof RuntimeUnavailableError) {
      $('fallback').hidden = false;
      $('fallback-text').textContent = `${e.message}. The server runs the same detector: POST an image to /detect (or press the button).`;
      $('server').onclick = () => void detectOnServer();
      $('run').onclick = () => void detectOnServer();
      status('no WebGPU in this browser', true);
      finish({ ok: false, error: errorText(e) });
      return;
    }
    finish({ ok: false, error: `the model could not be loaded: ${errorText(e)}` });
    return;
  }
  const loadMs = performance.now() - t0;
  status(`model ${det.program.config.name} loaded on ${det.adapter} in ${loadMs.toFixed(0)} ms`);
  $('run').onclick = () => void detectInBrowser(det, loadMs);
  $('file').onchange = () => void detectInBrowser(det, loadMs);
  select.onchange = () => void detectInBrowser(det, loadMs);
  if (scenes.length || query.get('image')) await detectInBrowser(det, loadMs);
}

void main().catch((e: unknown) => finish({ ok: false, error: errorText(e) }));
