// Issue 15's embedding figure: per-image detection latency through the
// PUBLIC API (api/index.ts: Detector.create, then detect(image bytes) →
// boxes, scores, labels in the image's pixels) against onnxruntime-node
// running the same network, with the same weights, exported to ONNX; batch 1,
// 2 threads on both sides, at 320×320 and 800×1216 (width × height 1216×800).
//
// The network: FCOS with centerness on ResNet-50-FPN (configs/table1-fcos.json
// with centerness on; models/fcos.fd), the detector torchvision also has, so
// both sides run the same layers and the same post-processing (class-aware
// NMS). Its weights are fusedet's init (seeded), written once as safetensors;
// bench/torch/api_onnx.py builds the same network in PyTorch under fusedet's
// parameter names, loads that file and exports it to ONNX (Debian's PyTorch).
// Before timing, the suite checks the two are one network: fusedet's forward
// outputs against onnxruntime's on the same input, and the two pipelines'
// detections against each other.
//
// Two ratios per size (onnxruntime time / fusedet time; above 1 fusedet is faster):
//   network     fusedet's compiled forward entry (no post-processing) on the
//               CPU runtime vs onnxruntime's session.run, on the same input tensor;
//   end to end  fusedet's detect(PNG bytes) (decode, resize, normalise, pad,
//               network and post-processing in one program, boxes read back)
//               vs onnxruntime's pipeline: the same sharp decode and
//               normalisation, session.run, and a JavaScript post-processing
//               equivalent to models/postprocess.fd (written here: per level
//               the top 1000 (location, class) by σ(cls), boxes decoded at the
//               cell centres, score sqrt(σ(cls)·σ(ctr)), class-aware greedy NMS
//               at IoU 0.6, 100 kept, rescaled and clipped). torchvision's own
//               post-processing is not in the ONNX file: the exported module is
//               the dense network, which is what an onnxruntime user ships, with
//               NMS in the host language.
// The repetitions interleave the engines (and rotate which goes first), so a
// load change on this shared machine hits both sides alike.
//
// Random weights (as the detect suite): score threshold 0 on both sides and
// the box head's bias 1, so every level's 1000 candidates reach NMS as on a
// busy image, and boxes are not empty.
// Env: FUSEDET_BENCH_REPS scales repetitions; FUSEDET_BENCH_API_SIZES
// (e.g. "320x320", width × height) limits the sizes.
import { iou } from '../compiler/ops/boxes.js';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { BenchRow, BenchSuite } from './run.js';
import { ort } from './onnx.js';
import { ensureTorchBaseline, TORCH_PYTHON } from './torch-env.js';
import { scaled } from './train.js';

const THREADS = 2;
const BASE_CONFIG = 'configs/table1-fcos.json';
const EXPORT_SCRIPT = 'bench/torch/api_onnx.py';
const TOPK = 1000, DETECTIONS = 100, NMS_IOU = 0.6, SCORE_THRESHOLD = 0;
const STRIDES = [8, 16, 32, 64, 128];

type Ort = Awaited<ReturnType<typeof ort>>;
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
interface Dets { boxes: Float32Array; scores: Float32Array; labels: Int32Array; count: number }
interface Stat { best: number; median: number; all: number[] }

/** The base config with centerness on, a test size equal to the image (no resize) and a 32-pixel size bucket. */
function writeConfig(dir: string, w: number, h: number): string {
  type Section = Record<string, unknown>;
  const c = JSON.parse(readFileSync(BASE_CONFIG, 'utf8')) as { description: string; train: Section; infer: Section; data: Section };
  const on = (x: Section): Section => ({ ...x, args: { ...(x.args as object), centerness: true } });
  c.description = `${c.description}; centerness on, test size ${w}×${h} (bench/api-suite.ts)`;
  c.train = on(c.train); c.infer = on(c.infer);
  c.data = { ...c.data, testShortSide: Math.min(w, h), testMaxSize: Math.max(w, h), sizeBucket: 32 };
  const path = join(dir, `fcos-ctr-${w}x${h}.json`);
  writeFileSync(path, JSON.stringify(c, null, 2));
  return path;
}

/** fusedet's seeded init for the config's detect entry, box-head bias 1 (see the header), as safetensors bytes. */
async function makeWeights(configPath: string): Promise<Uint8Array> {
  const { loadConfig } = await import('../models/config.js');
  const { detectArgs, lowerDetect } = await import('../models/detector.js');
  const { initParams } = await import('../compiler/init.js');
  const { encodeSafetensors } = await import('../api/safetensors.js');
  const cfg = loadConfig(configPath);
  const weights = initParams(lowerDetect(cfg, detectArgs(cfg, { scoreThreshold: SCORE_THRESHOLD }), 1, 64, 64), cfg.schedule.seed);
  const bias = weights.get('head.box.bias');
  if (!bias) throw new Error(`${configPath}: no head.box.bias among the detect entry's parameters`);
  bias.data.fill(1);
  return encodeSafetensors(weights, { note: 'bench/api-suite.ts: FCOS R50-FPN with centerness, fusedet init (seed 0), box bias 1' });
}

/** The ONNX export of the same network with these weights at h×w, cached by the weights' hash (.cache/onnx). */
function exportOnnx(weightsPath: string, weights: Uint8Array, h: number, w: number): string {
  const dir = process.env.FUSEDET_ONNX_CACHE ?? '.cache/onnx';
  mkdirSync(dir, { recursive: true });
  const hash = createHash('sha256').update(weights).digest('hex').slice(0, 12);
  const path = join(dir, `api-fcos-${hash}-${h}x${w}.onnx`);
  if (!existsSync(path)) {
    process.stdout.write(`bench: exporting the API suite's FCOS ${h}×${w} to ${path} (torch.onnx, once)\n`);
    execFileSync(TORCH_PYTHON, [EXPORT_SCRIPT, weightsPath, String(h), String(w), path], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return path;
}

/** A noisy gradient image of w×h as PNG bytes (decoding it costs what a photo's decode costs, roughly). */
async function testPng(w: number, h: number): Promise<Uint8Array> {
  const data = Buffer.alloc(w * h * 3);
  let s = 7;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[(y * w + x) * 3 + c] = (((x * (c + 1)) ^ (y * (3 - c))) & 255) * 0.7 + (s >>> 24) * 0.3;
  }
  return new Uint8Array(await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
}

/**
 * onnxruntime's pre-processing, as a user of it writes it: the API's own
 * decode (sharp: EXIF rotation, alpha flattened, bilinear resize to the test
 * size, here the image's), (v/255 − mean)/std into a zero-padded CHW tensor.
 */
async function ortPrepare(o: Ort, png: Uint8Array, w: number, h: number, H: number, W: number, mean: number[], std: number[]) {
  const { data, info } = await sharp(png, { failOn: 'error' }).rotate().flatten({ background: { r: 0, g: 0, b: 0 } })
    .resize(w, h, { fit: 'fill', kernel: 'linear' }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const ch = info.channels, x = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * std[c]!), shift = mean[c]! / std[c]!;
    for (let y = 0; y < h; y++) {
      const row = (c * H + y) * W, src = y * w * ch + c;
      for (let i = 0; i < w; i++) x[row + i] = data[src + i * ch]! * scale - shift;
    }
  }
  return new o.Tensor('float32', x, [1, 3, H, W]);
}

/**
 * The top n (flat index = location·K + class) of one level by σ(cls) above
 * the threshold, best first, ties to the lower index, as pp_level picks them.
 * A min-heap of n over the logits (σ is monotone): σ is evaluated only for the
 * winners. Returns the flat indices.
 */
function topLevel(cls: Float32Array, K: number, HW: number, n: number, thresh: number): Int32Array {
  const limit = thresh <= 0 ? -Infinity : Math.log(thresh / (1 - thresh));
  const hv = new Float32Array(n), hi = new Int32Array(n);
  let size = 0;
  // "a is worse than b": lower value, or equal value and higher index.
  const worse = (va: number, ia: number, vb: number, ib: number): boolean => va < vb || (va === vb && ia > ib);
  const down = (p: number): void => {
    for (;;) {
      const l = 2 * p + 1, r = l + 1;
      let m = p;
      if (l < size && worse(hv[l]!, hi[l]!, hv[m]!, hi[m]!)) m = l;
      if (r < size && worse(hv[r]!, hi[r]!, hv[m]!, hi[m]!)) m = r;
      if (m === p) return;
      const tv = hv[p]!, ti = hi[p]!; hv[p] = hv[m]!; hi[p] = hi[m]!; hv[m] = tv; hi[m] = ti; p = m;
    }
  };
  for (let k = 0; k < K; k++) {
    const plane = k * HW;
    for (let loc = 0; loc < HW; loc++) {
      const v = cls[plane + loc]!;
      if (!(v > limit)) continue;
      const idx = loc * K + k;
      if (size < n) {
        let p = size++;
        hv[p] = v; hi[p] = idx;
        while (p > 0) {
          const q = (p - 1) >> 1;
          if (!worse(hv[p]!, hi[p]!, hv[q]!, hi[q]!)) break;
          const tv = hv[p]!, ti = hi[p]!; hv[p] = hv[q]!; hi[p] = hi[q]!; hv[q] = tv; hi[q] = ti; p = q;
        }
      } else if (worse(hv[0]!, hi[0]!, v, idx)) { hv[0] = v; hi[0] = idx; down(0); }
    }
  }
  return hi.slice(0, size);
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * models/postprocess.fd in JavaScript for FCOS with centerness on onnxruntime's
 * outputs: candidates per level, merged, class-aware greedy NMS (a box goes
 * when a kept box of its class overlaps it with IoU > nms_iou; (score, index)
 * order), the best `DETECTIONS` rescaled to the original pixels, clipped,
 * empty ones dropped.
 */
export function ortPost(out: Record<string, { data: unknown; dims: readonly number[] }>, origW: number, origH: number, inW: number, inH: number): Dets {
  const bx = new Float32Array(5 * TOPK * 4), sc = new Float32Array(5 * TOPK), lb = new Int32Array(5 * TOPK);
  let m = 0;
  for (let l = 0; l < 5; l++) {
    const cls = out[`cls${l}`]!, box = out[`box${l}`]!.data as Float32Array, ctr = out[`ctr${l}`]!.data as Float32Array;
    const [, K, H, W] = cls.dims as [number, number, number, number];
    const HW = H * W, s = STRIDES[l]!, c = cls.data as Float32Array;
    for (const idx of topLevel(c, K, HW, Math.min(TOPK, HW * K), SCORE_THRESHOLD)) {
      const loc = Math.floor(idx / K), k = idx - loc * K;
      const x = ((loc % W) + 0.5) * s, y = (Math.floor(loc / W) + 0.5) * s;
      bx[4 * m] = x - box[loc]!; bx[4 * m + 1] = y - box[HW + loc]!; bx[4 * m + 2] = x + box[2 * HW + loc]!; bx[4 * m + 3] = y + box[3 * HW + loc]!;
      sc[m] = Math.sqrt(sigmoid(c[k * HW + loc]!) * sigmoid(ctr[loc]!));
      lb[m++] = k;
    }
  }
  const order = new Int32Array(m);
  for (let i = 0; i < m; i++) order[i] = i;
  order.sort((a, b) => sc[b]! - sc[a]! || a - b);
  const kept: number[] = [];
  for (const i of order) {
    if (kept.length === DETECTIONS) break;
    if (!kept.some((j) => lb[j] === lb[i] && iou(bx, 4 * i, bx, 4 * j) > NMS_IOU)) kept.push(i);
  }
  const sx = origW / inW, sy = origH / inH;
  const boxes: number[] = [], scores: number[] = [], labels: number[] = [];
  for (const i of kept) {
    const b = [bx[4 * i]! * sx, bx[4 * i + 1]! * sy, bx[4 * i + 2]! * sx, bx[4 * i + 3]! * sy];
    const [x1, y1, x2, y2] = [Math.min(Math.max(b[0]!, 0), origW), Math.min(Math.max(b[1]!, 0), origH), Math.min(Math.max(b[2]!, 0), origW), Math.min(Math.max(b[3]!, 0), origH)];
    if (!(x2 > x1 && y2 > y1)) continue;
    boxes.push(x1, y1, x2, y2); scores.push(sc[i]!); labels.push(lb[i]!);
  }
  return { boxes: Float32Array.from(boxes), scores: Float32Array.from(scores), labels: Int32Array.from(labels), count: scores.length };
}

/** How many of a's detections have one in b of the same label with IoU ≥ 0.9 and a score within 1e-3 (relative). */
function matched(a: Dets, b: Dets): number {
  let n = 0;
  const used = new Uint8Array(b.count);
  for (let i = 0; i < a.count; i++) {
    for (let j = 0; j < b.count; j++) {
      if (used[j] || a.labels[i] !== b.labels[j] || Math.abs(a.scores[i]! - b.scores[j]!) > 1e-3 * Math.abs(b.scores[j]!)) continue;
      if (iou(a.boxes, 4 * i, b.boxes, 4 * j) >= 0.9) { used[j] = 1; n++; break; }
    }
  }
  return n;
}

const stat = (t: number[]): Stat => {
  const s = [...t].sort((a, b) => a - b);
  return { best: s[0]!, median: s[Math.floor(s.length / 2)]!, all: t };
};

async function atSize(rows: BenchRow[], notes: string[], raw: Record<string, unknown>, dir: string, weights: Uint8Array, weightsPath: string, w: number, h: number, reps: number): Promise<void> {
  const { Detector } = await import('../api/index.js');
  const { loadConfig } = await import('../models/config.js');
  const { detectArgs } = await import('../models/detector.js');
  const { checkFilesOrThrow } = await import('../dsl/index.js');
  const { lower } = await import('../compiler/lower.js');
  const { compileGraph } = await import('../compiler/program.js');
  const { CpuRuntime } = await import('../runtime-cpu/runtime.js');
  const { parseSafetensors } = await import('../api/safetensors.js');
  const o = await ort();
  const size = `${w}×${h}`;
  const cfgPath = writeConfig(dir, w, h);
  const cfg = loadConfig(cfgPath);
  const { mean, std } = cfg.data;
  const H = Math.ceil(h / 32) * 32, W = Math.ceil(w / 32) * 32;
  const png = await testPng(w, h);

  // fusedet: the public API, and the same config's forward entry (the network alone) on the CPU runtime.
  const c0 = performance.now();
  const det = await Detector.create({ weights, config: cfgPath, runtime: 'cpu', scoreThreshold: SCORE_THRESHOLD });
  let ours = await det.detect(png); // compiles this shape's detect program
  const compileDetect = (performance.now() - c0) / 1000;
  const graph = lower(checkFilesOrThrow([cfg.infer.source]), {
    entry: cfg.infer.module, fn: 'forward', args: detectArgs(cfg, { scoreThreshold: SCORE_THRESHOLD }), inputs: { image: { dtype: 'f32', shape: [1, 3, H, W] } },
  });
  const rt = new CpuRuntime();
  const c1 = performance.now();
  const exe = await rt.load(compileGraph(graph, rt.target));
  const compileForward = (performance.now() - c1) / 1000;
  await exe.setParams(parseSafetensors(weights, weightsPath).tensors);

  // onnxruntime: the same network and weights, its CPU provider, graph optimisation "all", the same threads.
  const e0 = performance.now();
  const model = exportOnnx(weightsPath, weights, H, W);
  const exportSeconds = (performance.now() - e0) / 1000;
  const session: Session = await o.InferenceSession.create(model, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential',
  });
  // Stage times of onnxruntime's pipeline (seconds, per call), to say where its end-to-end time goes.
  const stages = { prepare: [] as number[], run: [] as number[], post: [] as number[] };
  const ortDetect = async (): Promise<Dets> => {
    const t0 = performance.now();
    const x = await ortPrepare(o, png, w, h, H, W, mean, std);
    const t1 = performance.now();
    const out = await session.run({ image: x });
    const t2 = performance.now();
    const d = ortPost(out as never, w, h, w, h);
    stages.prepare.push((t1 - t0) / 1000); stages.run.push((t2 - t1) / 1000); stages.post.push((performance.now() - t2) / 1000);
    return d;
  };

  try {
    // The same network? Forward outputs on onnxruntime's input tensor, then both pipelines' detections.
    const input = await ortPrepare(o, png, w, h, H, W, mean, std);
    const image = { dtype: 'f32' as const, shape: [1, 3, H, W], data: input.data as Float32Array };
    const mine = await exe.run({ image });
    const theirs = await session.run({ image: input });
    const agreement: Record<string, number> = {};
    let worst = 0;
    for (const kind of ['cls', 'box', 'ctr']) {
      for (let l = 0; l < 5; l++) {
        const a = mine[`${kind}.${l}`]?.data;
        const b = theirs[`${kind}${l}`]!.data as Float32Array;
        if (!a) throw new Error(`fusedet's forward has no output ${kind}.${l} (outputs: ${Object.keys(mine).join(', ')})`);
        let scale = 1e-6, diff = 0;
        for (let i = 0; i < b.length; i++) { scale = Math.max(scale, Math.abs(b[i]!)); diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); }
        agreement[`${kind}${l}`] = diff / scale;
        worst = Math.max(worst, diff / scale);
      }
    }
    const theirDets = await ortDetect();
    const same = matched(ours, theirDets);
    raw[`${size} equivalence`] = { forwardWorstRelative: worst, perOutput: agreement, fusedetDetections: ours.count, ortDetections: theirDets.count, matched: same };
    notes.push(`${size} same network: fusedet's forward vs onnxruntime on one input, worst |difference| / max|onnxruntime| over the 15 outputs ${worst.toExponential(1)}; detections ${ours.count} (fusedet) and ${theirDets.count} (onnxruntime + JS post-processing), ${same} of fusedet's matched (same label, IoU ≥ 0.9, score within 1e-3)`);
    if (worst > 1e-3) notes.push(`WARNING ${size}: the two networks' outputs differ by ${worst.toExponential(1)} of their scale: not the same network or weights`);

    // Interleaved repetitions; which engine goes first rotates.
    const ourTimings: { prepareMs: number; runMs: number }[] = [];
    const t = { ourNet: [] as number[], ortNet: [] as number[], ourE2e: [] as number[], ortE2e: [] as number[] };
    const steps: [keyof typeof t, () => Promise<unknown>][] = [
      ['ourNet', () => exe.run({ image })], ['ortNet', () => session.run({ image: input })],
      ['ourE2e', async () => { ours = await det.detect(png); ourTimings.push(ours.timings); }], ['ortE2e', ortDetect],
    ];
    await exe.run({ image }); await session.run({ image: input }); // warm
    for (const a of Object.values(stages)) a.length = 0;
    for (let r = 0; r < reps; r++) {
      for (let k = 0; k < steps.length; k++) {
        const [name, f] = steps[(k + r) % steps.length]!;
        const t0 = performance.now();
        await f();
        t[name].push((performance.now() - t0) / 1000);
      }
    }
    const s = { ourNet: stat(t.ourNet), ortNet: stat(t.ortNet), ourE2e: stat(t.ourE2e), ortE2e: stat(t.ortE2e) };
    const ortName = `onnxruntime-node ${o.env.versions.common ?? ''} CPU, graph optimisation all, ${THREADS} threads`.replace('  ', ' ');
    const med = (a: Stat, b: Stat): string => `medians: fusedet ${(a.median * 1000).toFixed(1)} ms, onnxruntime ${(b.median * 1000).toFixed(1)} ms (ratio ${(b.median / a.median).toFixed(2)}×)`;
    rows.push({
      what: `${size} network: FCOS R50-FPN forward, CPU runtime vs the same ONNX and weights`, ours: s.ourNet.best * 1000, baseline: s.ortNet.best * 1000,
      baselineName: ortName, unit: 'ms', ratio: s.ortNet.best / s.ourNet.best, target: '≥ 1×', notes: [med(s.ourNet, s.ortNet)],
    });
    rows.push({
      what: `${size} end to end: Detector.detect(PNG) vs decode + ORT run + JS NMS`, ours: s.ourE2e.best * 1000, baseline: s.ortE2e.best * 1000,
      baselineName: `${ortName}, sharp decode + JS post-processing (top-k, decode, NMS)`, unit: 'ms', ratio: s.ortE2e.best / s.ourE2e.best, target: '> 1×',
      notes: [med(s.ourE2e, s.ortE2e)],
    });
    const ortStages = { prepare: stat(stages.prepare), run: stat(stages.run), post: stat(stages.post) };
    const ourStages = { prepare: stat(ourTimings.map((x) => x.prepareMs / 1000)), run: stat(ourTimings.map((x) => x.runMs / 1000)) };
    notes.push(`${size} stages (medians): onnxruntime pipeline decode + normalise ${(ortStages.prepare.median * 1000).toFixed(1)} ms, session.run ${(ortStages.run.median * 1000).toFixed(1)} ms, JS post-processing ${(ortStages.post.median * 1000).toFixed(1)} ms; fusedet API prepare ${(ourStages.prepare.median * 1000).toFixed(1)} ms, run (network + post-processing + read-back) ${(ourStages.run.median * 1000).toFixed(1)} ms (its Detections.timings)`);
    raw[size] = { reps, seconds: s, ortStages, ourStages, compileSeconds: { detect: compileDetect, forward: compileForward }, onnxExportSeconds: exportSeconds, onnx: model, detections: ours.count };
    notes.push(`${size}: fusedet compile (not in the times): detect program ${compileDetect.toFixed(1)} s (first detect call), forward program ${compileForward.toFixed(1)} s; ONNX export ${exportSeconds.toFixed(1)} s (cached by the weights' hash)`);
  } finally {
    det.dispose();
    exe.dispose();
    await session.release();
  }
}

export const apiSuite: BenchSuite = {
  name: 'api',
  title: 'Detection API (Detector.detect on image bytes) vs onnxruntime-node on the same network and weights, batch 1, 2 threads',
  async run() {
    const rows: BenchRow[] = [], notes: string[] = ensureTorchBaseline().filter((n) => !/BLAS/.test(n)), raw: Record<string, unknown> = {};
    const { tryNativeCpu } = await import('../runtime-cpu/native.js');
    const native = tryNativeCpu();
    native?.setThreads(THREADS);
    notes.push(`fusedet CPU runtime threads: ${native ? native.threads() : 'no native addon'}; onnxruntime intra-op threads ${THREADS}, inter-op 1`);
    const dir = mkdtempSync(join(tmpdir(), 'fusedet-api-bench-'));
    const sizes = (process.env.FUSEDET_BENCH_API_SIZES ?? '320x320,1216x800').split(',').map((s) => s.split('x').map(Number) as [number, number]);
    try {
      const weights = await makeWeights(writeConfig(dir, 320, 320));
      const weightsPath = join(dir, 'weights.safetensors');
      writeFileSync(weightsPath, weights);
      for (const [w, h] of sizes) {
        try { await atSize(rows, notes, raw, dir, weights, weightsPath, w, h, scaled(w * h > 320 * 320 ? 5 : 10)); } catch (e) {
          const msg = (e as Error).message.split('\n').slice(0, 3).join(' / ');
          rows.push({ what: `${w}×${h}: failed`, ours: NaN, baseline: null, baselineName: 'onnxruntime-node', unit: 'ms', ratio: null, notes: [msg] });
          notes.push(`${w}×${h} failed: ${msg}`);
        }
      }
    } finally { rmSync(dir, { recursive: true, force: true }); }
    notes.push('Times are per image, best of the interleaved repetitions (medians in each row\'s notes); the machine is shared and loaded, so read the ratios, not the milliseconds');
    notes.push(`Network: ${BASE_CONFIG} with centerness on (models/fcos.fd, R50-FPN, 80 classes, GN head), fusedet's seeded init with box-head bias 1, the same safetensors loaded into PyTorch and exported to ONNX (opset 13, static shape, ${EXPORT_SCRIPT}); score threshold 0, top ${TOPK} per level, class-aware NMS IoU ${NMS_IOU}, ${DETECTIONS} detections on both sides`);
    return { rows, raw, notes };
  },
};
