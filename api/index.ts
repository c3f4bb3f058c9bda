// The detection API in Node: a config (model source in the language + its
// arguments) or a precompiled program file, safetensors weights, a runtime
// (auto by default) → detect(image) → boxes, scores, labels in the image's
// pixels. Built on models/detector.ts (which compiles the config's `detect`
// entry, post-processing included, per input shape); only image decoding
// (api/node-image.ts, sharp) is Node's own. The browser entry, api/browser.ts,
// has the same Detector calls and results.
//
//   import { Detector } from 'fusedet';
//   const det = await Detector.create({ weights: 'defcn.safetensors' });
//   const { boxes, scores, labels, count } = await det.detect('street.jpg');
//   det.dispose();
import { stringifyKeepingNonFinite } from './json-numbers.js';
import { readFile } from 'node:fs/promises';
import { Detector as ModelDetector, detectArgs, lowerDetect } from '../models/detector.js';
import { loadConfig } from '../models/config.js';
import { compileGraph } from '../compiler/program.js';
import { webgpuTarget } from '../compiler/target.js';
import { padImageBatch, padTo } from '../data/augment.js';
import type { Tensor } from '../compiler/tensor.js';
import { PlanePool, ProgramEngine, Prepared, detectAll, now, parseProgramFile, programWeights, tensorToPrepared } from './core.js';
import { parseSafetensors } from './safetensors.js';
import { prepareBytes, prepareFile, preparePixels } from './node-image.js';
import { DisposedError, FusedetError, ImageInputError, ModelError, RuntimeUnavailableError, WeightsError, as } from './errors.js';
import type { Detections, PixelsInput, PostOptions, Preprocess, ProgramFile, RuntimeChoice, TensorInput } from './types.js';

export type { Detections, PixelsInput, PostOptions, Preprocess, ProgramFile, RuntimeChoice, TensorInput, Timings } from './types.js';
export { FusedetError, ImageInputError, ModelError, RuntimeUnavailableError, WeightsError, DisposedError } from './errors.js';

/** A file path, encoded image bytes (PNG, JPEG, ...), decoded pixels, or a model input tensor. */
export type NodeImage = string | Uint8Array | PixelsInput | TensorInput;

export interface DetectorOptions extends PostOptions {
  /** safetensors weights: a path, or the file's bytes (a training checkpoint or bare inference weights). */
  readonly weights: string | Uint8Array;
  /** Config name (configs/NAME.json) or path: the model source and its arguments. Default: the one the weights record. */
  readonly config?: string;
  /** Instead of a config: a precompiled program file (path, JSON text or object; compileProgramFile), run on WebGPU. */
  readonly program?: string | ProgramFile;
  /** Default 'auto': CUDA if a driver answers, else WebGPU if an adapter is found, else the CPU. */
  readonly runtime?: RuntimeChoice;
}

const RUNTIME_MISSING = /Unavailable|NoRuntime|RequiredRuntimeMissing|UnknownRuntime/;

/** Internal errors as the API's classes (runtime missing, bad weights, bad model). */
function apiError(e: unknown): Error {
  const name = e instanceof Error ? e.name : '';
  if (RUNTIME_MISSING.test(name) || RUNTIME_MISSING.test(e?.constructor?.name ?? '')) return as(RuntimeUnavailableError, e);
  if (e instanceof ImageInputError || e instanceof WeightsError || e instanceof ModelError || e instanceof RuntimeUnavailableError || e instanceof DisposedError) return e;
  // models/detector.ts's DetectorError is about the weights (unreadable, of another config) except a module or option the model lacks.
  const modelSide = e instanceof Error && /has no module|has no max_filter/.test(e.message);
  if (!modelSide && (/Safetensors|Weights|Checkpoint|DetectorError/.test(name) || (e instanceof Error && /weights/.test(e.message)))) return as(WeightsError, e);
  if (e instanceof FusedetError || (e instanceof Error && typeof (e as { exitCode?: unknown }).exitCode === 'number')) return as(ModelError, e);
  return e instanceof Error ? e : new Error(String(e));
}

async function readWeights(w: string | Uint8Array): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string>; name: string }> {
  if (typeof w !== 'string') return { ...parseSafetensors(w, 'weights'), name: 'weights' };
  let bytes: Uint8Array;
  try { bytes = await readFile(w); } catch (e) {
    throw new WeightsError(`${w}: cannot read the weights: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return { ...parseSafetensors(bytes, w), name: w };
}

const isTensor = (x: object): x is TensorInput => 'shape' in x && 'dtype' in x;

interface Engine { detect(items: Prepared[], prepareMs: number): Promise<Detections[]>; dispose(): void; readonly runtime: string }

/** The config's compiled detect entry on a runtime (models/detector.ts), one program per batch shape. */
class ConfigEngine implements Engine {
  constructor(private readonly det: ModelDetector) {}
  get runtime(): string { return this.det.runtimeName; }
  async detect(items: Prepared[], prepareMs: number): Promise<Detections[]> {
    // Padded as the CLI and evaluation pad (the config's size bucket), so the API gives their detections.
    const { image, info } = padImageBatch(items, { divisor: this.det.config.data.sizeBucket });
    const t0 = now();
    const res = await this.det.runBatch(image, info);
    const runMs = now() - t0;
    return res.map((r) => ({
      boxes: Float32Array.from(r.detections.flatMap((d) => d.box)),
      scores: Float32Array.from(r.detections.map((d) => d.score)),
      labels: Int32Array.from(r.detections.map((d) => d.label)),
      count: r.detections.length, width: r.width, height: r.height,
      timings: { prepareMs, runMs, totalMs: prepareMs + runMs },
    }));
  }
  dispose(): void { this.det.dispose(); }
}

export class Detector {
  private disposed = false;
  /** The images' float planes, reused across detect() calls. */
  private readonly planes = new PlanePool();

  private constructor(private readonly engine: Engine, readonly preprocess: Preprocess, readonly classNames: readonly string[] | undefined) {}

  static async create(o: DetectorOptions): Promise<Detector> {
    try {
      return o.program !== undefined ? await Detector.fromProgram(o) : await Detector.fromConfig(o);
    } catch (e) { throw apiError(e); }
  }

  private static async fromConfig(o: DetectorOptions): Promise<Detector> {
    const post = { nms: o.nms, nmsIou: o.nmsIou, detections: o.detections, scoreThreshold: o.scoreThreshold };
    const runtime = o.runtime ?? 'auto';
    let det: ModelDetector;
    if (typeof o.weights === 'string') det = await ModelDetector.load({ weights: o.weights, config: o.config, runtime, ...post });
    else {
      const w = await readWeights(o.weights);
      const cfg = o.config ?? recordedName(w.metadata);
      if (!cfg) throw new WeightsError('weights: the weights do not say which config made them; pass { config }');
      det = ModelDetector.fromTensors(cfg, w.tensors, { ...post, runtime, label: 'weights' });
    }
    return new Detector(new ConfigEngine(det), det.config.data, det.classNames);
  }

  private static async fromProgram(o: DetectorOptions): Promise<Detector> {
    if (o.runtime !== undefined && o.runtime !== 'auto' && o.runtime !== 'webgpu') {
      throw new ModelError(`a program file is compiled for WebGPU; runtime '${o.runtime}' runs a config instead: pass { config } without { program }`);
    }
    const p = o.program!;
    const name = typeof p === 'string' && !p.trimStart().startsWith('{') ? p : 'program file';
    let text: string | ProgramFile = p;
    if (name !== 'program file') {
      try { text = await readFile(name, 'utf8'); } catch (e) { throw new ModelError(`${name}: cannot read the program file: ${(e as Error).message}`); }
    }
    const file = parseProgramFile(text, name);
    const w = await readWeights(o.weights);
    const weights = programWeights(file, w.tensors, w.name);
    const { createNodeWebGpu } = await import('../runtime-webgpu/node.js');
    const rt = await createNodeWebGpu();
    const engine = await ProgramEngine.load(rt, file, weights);
    return new Detector({ detect: (i, ms) => engine.detect(i, ms), dispose: () => { engine.dispose(); rt.destroy?.(); }, runtime: 'webgpu' }, file.config, file.classNames);
  }

  /** The runtime's name once the first detect() chose it ('auto' until then). */
  get runtime(): string { return this.engine.runtime; }

  /** Detections of one image, or of each image of a list (one batch), in the images' original pixels. */
  detect(image: NodeImage): Promise<Detections>;
  detect(images: readonly NodeImage[]): Promise<Detections[]>;
  async detect(input: NodeImage | readonly NodeImage[]): Promise<Detections | Detections[]> {
    try {
      return await detectAll(input, Array.isArray as (x: unknown) => x is readonly NodeImage[], (x) => this.prepare(x), (items, ms) => this.engine.detect(items, ms), this.disposed, this.planes);
    } catch (e) { throw apiError(e); }
  }

  private async prepare(x: NodeImage): Promise<Prepared[]> {
    if (typeof x === 'string') return [await prepareFile(x, this.preprocess, this.planes)];
    if (x instanceof Uint8Array) return [await prepareBytes(x, 'image bytes', this.preprocess, this.planes)];
    if (typeof x === 'object' && x !== null && isTensor(x)) return tensorToPrepared(x);
    if (typeof x === 'object' && x !== null && 'data' in x) return [await preparePixels(x, this.preprocess, this.planes)];
    throw new ImageInputError(`detect(): not an image: give a file path, encoded bytes, { width, height, data } pixels or a [3, H, W] tensor`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.dispose();
  }
}

function recordedName(metadata: Record<string, string>): string | undefined {
  try { return (JSON.parse(metadata.config ?? 'null') as { experiment?: { name?: string } } | null)?.experiment?.name; } catch { return undefined; }
}

export interface CompileProgramOptions extends PostOptions {
  /** Config name or path; default: the one the weights record. */
  readonly config?: string;
  /** Weights whose recorded config to compile (only read for that). */
  readonly weights?: string;
  /** The program's fixed input (default: the config's test size, square, so every aspect ratio fits; batch 1). */
  readonly height?: number;
  readonly width?: number;
  readonly batch?: number;
}

/**
 * A config's detect entry compiled for WebGPU at a browser's default limits,
 * as a program file: what a page (api/browser.ts) or Detector.create({ program }) runs.
 */
/**
 * A program file as text, to save or serve: JSON in which the kernels'
 * non-finite constants (±Infinity, NaN) survive; plain JSON.stringify would
 * write them as null. Detector.create({ program }) reads both.
 */
export function programFileText(file: ProgramFile): string {
  return stringifyKeepingNonFinite(file);
}

export async function compileProgramFile(o: CompileProgramOptions): Promise<ProgramFile> {
  try {
    let name = o.config;
    let classNames: string[] | undefined;
    if (o.weights !== undefined) {
      const w = await readWeights(o.weights);
      name ??= recordedName(w.metadata);
      try { const c = JSON.parse(w.metadata.config ?? 'null') as { classNames?: unknown } | null; if (Array.isArray(c?.classNames)) classNames = c!.classNames as string[]; } catch { /* none */ }
    }
    if (!name) throw new ModelError('compileProgramFile: give { config } (or weights that record their config)');
    const cfg = loadConfig(name);
    const side = padTo(cfg.data.testMaxSize, 32);
    const H = o.height ?? side, W = o.width ?? side, B = o.batch ?? 1;
    if (H % 32 || W % 32) throw new ModelError(`compileProgramFile: height and width must be multiples of 32 (the largest stride), not ${H}×${W}`);
    const args = detectArgs(cfg, { nms: o.nms, nmsIou: o.nmsIou, detections: o.detections, scoreThreshold: o.scoreThreshold });
    const program = compileGraph(lowerDetect(cfg, args, B, H, W), webgpuTarget());
    const d = cfg.data;
    return {
      format: 'fusedet-program', version: 1, target: 'webgpu',
      config: { name: cfg.name, modelHash: cfg.modelHash, prefix: cfg.train.prefix, testShortSide: d.testShortSide, testMaxSize: d.testMaxSize, mean: d.mean, std: d.std },
      input: { batch: B, height: H, width: W }, ...(classNames ? { classNames } : {}), program,
    };
  } catch (e) { throw apiError(e); }
}
