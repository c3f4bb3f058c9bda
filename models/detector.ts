// A trained detector behind one call: a config (configs/*.json) and its
// weights in, detections in original-image pixels out. The model's `detect`
// entry (models/postprocess.fd) does everything after the pixels — heads,
// decode, top-k, merge, NMS when on, rescale, clip — inside the compiled
// program; this host side only decodes, resizes (the config's test size, as
// data/loader.ts does), normalises and pads images to a multiple of 32.
//
// One compiled program per distinct padded batch shape, kept for reuse. The
// runtime is any of runtime/select.ts's or 'reference' (the interpreter).
// No CLI concerns here: the CLI, evaluation and the library call this.
import { lower } from '../compiler/lower.js';
import { interpret } from '../compiler/interpret.js';
import type { Graph } from '../compiler/graph.js';
import type { Tensor } from '../compiler/tensor.js';
import type { Executable, Runtime } from '../runtime/interface.js';
import { checkFilesOrThrow } from '../dsl/index.js';
import { DetectorConfig, loadConfig, recordMismatch, resolveSource } from './config.js';
import { readSafetensors } from './checkpoint/safetensors.js';
import { existsSync } from 'node:fs';
import { ImageError, imageSize, readResized, toFloatChw } from '../data/image.js';
import { padImageBatch, planResize } from '../data/augment.js';
import { FusedetError } from '../io/errors.js';

export class DetectorError extends FusedetError {
  constructor(message: string) { super(message); this.name = 'DetectorError'; }
}

export interface Detection {
  /** x1, y1, x2, y2 in the original image's pixels. */
  box: [number, number, number, number];
  score: number;
  /** 0-based class index of the model. */
  label: number;
}

export interface ImageDetections {
  width: number;
  height: number;
  detections: Detection[];
}

export interface PostOptions {
  /** Class-aware NMS (IoU > nmsIou suppresses); default: the config's. */
  nms?: boolean;
  nmsIou?: number;
  /** Kept per image; default: the config's (100 COCO, 500 CrowdHuman). */
  detections?: number;
  scoreThreshold?: number;
  /** 3DMF as post-processing (FCOS, Table 5); default: the config's. */
  maxFilter?: boolean;
  /** NMS within each pyramid level only (Table 2's per-scale rows); default: the config's. */
  nmsPerLevel?: boolean;
  /** Table 2's spatial range per scale (odd k: a k×k window of locations; 0 unlimited); default: the config's. Needs nmsPerLevel. */
  nmsRange?: number;
}

export interface DetectorOptions extends PostOptions {
  /** safetensors weights: a training checkpoint (names with the train prefix, e.g. "net.") or bare inference weights. */
  weights: string;
  /** Config path or name; default: the one the weights record. */
  config?: string;
  /** cpu, webgpu, cuda, auto or reference (default auto). */
  runtime?: string;
}

/** What post-processing a module accepts, by constructor parameter (models/defcn.fd, models/fcos.fd). */
function postArgs(cfg: DetectorConfig, params: readonly string[], o: PostOptions): Record<string, number | boolean> {
  const want: Record<string, number | boolean> = {
    detections: o.detections ?? cfg.inference.detections,
    nms_on: o.nms ?? cfg.inference.nms,
    nms_iou: o.nmsIou ?? cfg.inference.nmsIou,
    score_thresh: o.scoreThreshold ?? cfg.inference.scoreThreshold,
    topk_level: cfg.inference.topkPerLevel,
    max_filter: o.maxFilter ?? cfg.inference.maxFilterPost,
    nms_per_level: o.nmsPerLevel ?? cfg.inference.nmsPerLevel,
    nms_range: o.nmsRange ?? cfg.inference.nmsRange,
  };
  if (want.max_filter && !params.includes('max_filter')) throw new DetectorError(`${cfg.path}: 3DMF as post-processing is asked for, but ${cfg.infer.module} has no max_filter option`);
  const range = want.nms_range as number;
  if (!(Number.isSafeInteger(range) && range >= 0 && (range === 0 || range % 2 === 1))) throw new DetectorError(`${cfg.path}: NMS spatial range ${range} must be an odd number of locations (1, 3, 5, …) or 0 (unlimited)`);
  if (range > 0 && !want.nms_per_level) throw new DetectorError(`${cfg.path}: NMS spatial range ${range}×${range} is within one pyramid level: it needs NMS per level`);
  if (range > 0 && !params.includes('nms_range')) throw new DetectorError(`${cfg.path}: an NMS spatial range is asked for, but ${cfg.infer.module} has no nms_range option`);
  return Object.fromEntries(Object.entries(want).filter(([k]) => params.includes(k)));
}

/**
 * The weights by inference name: a checkpoint's names carry the training
 * module's prefix ("net."); optimizer state and other training tensors are
 * ignored. Every tensor the model needs must be there with its shape, and no
 * other tensor under the prefix: the first that differs is named.
 */
export function matchWeights(path: string, file: Map<string, Tensor>, graph: Graph, prefix: string): Map<string, Tensor> {
  const prefixed = [...file.keys()].some((k) => k.startsWith(prefix)) && prefix !== '';
  const lookup = (name: string): string => (prefixed ? prefix + name : name);
  const out = new Map<string, Tensor>();
  for (const p of graph.params) {
    const want = graph.values[p.value].type;
    const t = file.get(lookup(p.name));
    if (!t) throw new DetectorError(`${path}: weights of another config: the model needs tensor '${lookup(p.name)}' (${want.dtype}[${want.shape.join(', ')}]) and the file has none`);
    if (t.dtype !== want.dtype || t.shape.length !== want.shape.length || t.shape.some((d, i) => d !== want.shape[i])) {
      throw new DetectorError(`${path}: weights of another config: tensor '${lookup(p.name)}' is ${t.dtype}[${t.shape.join(', ')}], the model expects ${want.dtype}[${want.shape.join(', ')}]`);
    }
    out.set(p.name, t);
  }
  const names = new Set(graph.params.map((p) => lookup(p.name)));
  const extra = [...file.keys()].find((k) => !names.has(k) && (prefixed ? k.startsWith(prefix) : !k.startsWith('opt.')));
  if (extra) throw new DetectorError(`${path}: weights of another config: tensor '${extra}' is not part of this model`);
  return out;
}

/** The config a weights file records (checkpoint metadata config.experiment), if any. */
function recordedConfig(metadata: Record<string, string>): { name?: string; record?: unknown } {
  if (metadata.config === undefined) return {};
  try {
    const c = JSON.parse(metadata.config) as { experiment?: { name?: string } } | null;
    return c?.experiment ? { name: c.experiment.name, record: c.experiment } : {};
  } catch { return {}; }
}

interface Compiled { run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>; dispose(): void }

export class Detector {
  private readonly compiled = new Map<string, Promise<Compiled>>();
  private runtime?: Runtime;

  private constructor(
    readonly config: DetectorConfig,
    readonly weightsPath: string,
    private readonly weights: Map<string, Tensor>,
    private readonly args: Record<string, number | boolean>,
    private readonly runtimeChoice: string,
    /** Class names the weights record (training data), if any. */
    readonly classNames: readonly string[] | undefined,
  ) {}

  /**
   * A detector on weights in memory (a training loop's current ones, by
   * training or inference names), for evaluation during training; `label`
   * names them in messages.
   */
  static fromTensors(config: string | DetectorConfig, tensors: Map<string, Tensor>, o: PostOptions & { runtime?: string; label?: string; classNames?: readonly string[] } = {}): Detector {
    const cfg = typeof config === 'string' ? loadConfig(config) : config;
    const args = detectArgs(cfg, o);
    const weights = matchWeights(o.label ?? 'weights in memory', tensors, lowerDetect(cfg, args, 1, 64, 64), cfg.train.prefix);
    return new Detector(cfg, o.label ?? 'weights in memory', weights, args, o.runtime ?? 'auto', o.classNames);
  }

  /** Loads the config and weights and checks they belong together; compiles lazily, per image shape. */
  static async load(o: DetectorOptions): Promise<Detector> {
    let file;
    try { file = readSafetensors(o.weights); } catch (e) { throw new DetectorError((e as Error).message); }
    const rec = recordedConfig(file.metadata);
    const cfgName = o.config ?? rec.name;
    if (!cfgName) throw new DetectorError(`${o.weights}: the weights do not say which config made them; give --config`);
    const cfg = loadConfig(cfgName);
    const args = detectArgs(cfg, o);
    // A small graph only to learn the parameter names and shapes (they do not depend on the image size).
    const probe = lowerDetect(cfg, args, 1, 64, 64);
    const weights = matchWeights(o.weights, file.tensors, probe, cfg.train.prefix);
    if (rec.record !== undefined) {
      const why = recordMismatch(rec.record, cfg);
      if (why) throw new DetectorError(`${o.weights}: ${why}`);
    }
    let names: string[] | undefined;
    try {
      const c = JSON.parse(file.metadata.config ?? 'null') as { classNames?: unknown } | null;
      if (Array.isArray(c?.classNames) && c!.classNames.every((n) => typeof n === 'string')) names = c!.classNames as string[];
    } catch { /* no class names */ }
    return new Detector(cfg, o.weights, weights, args, o.runtime ?? 'auto', names);
  }

  /** The same weights and post-processing with NMS on or off (compiles its own programs). */
  withNms(on: boolean): Detector {
    if (this.nmsOn === on) return this;
    return new Detector(this.config, this.weightsPath, this.weights, { ...this.args, nms_on: on }, this.runtimeChoice, this.classNames);
  }

  /** Whether this detector's program runs NMS. */
  get nmsOn(): boolean { return Boolean(this.args.nms_on); }

  /** The runtime's name once one was chosen ('reference' for the interpreter). */
  get runtimeName(): string { return this.runtimeChoice === 'reference' ? 'reference' : this.runtime?.name ?? this.runtimeChoice; }

  private async compile(B: number, H: number, W: number): Promise<Compiled> {
    const graph = lowerDetect(this.config, this.args, B, H, W);
    if (this.runtimeChoice === 'reference') {
      return { run: async (inputs) => interpret(graph, inputs, this.weights), dispose: () => {} };
    }
    const { parseRuntimeChoice, selectRuntime } = await import('../runtime/select.js');
    const { compileOptionsFromEnv } = await import('../runtime/compile-options.js');
    const { compileGraph } = await import('../compiler/program.js');
    this.runtime ??= (await selectRuntime(parseRuntimeChoice(this.runtimeChoice))).runtime;
    const exe: Executable = await this.runtime.load(compileGraph(graph, this.runtime.target, compileOptionsFromEnv()));
    await exe.setParams(this.weights);
    return { run: (inputs) => exe.run(inputs), dispose: () => exe.dispose() };
  }

  /**
   * Runs one padded batch: images [B, 3, H, W] (H, W multiples of 32),
   * info [B, 4] = (scale_x, scale_y, width, height) per image.
   */
  async runBatch(images: Tensor, info: Tensor): Promise<ImageDetections[]> {
    const [B, , H, W] = images.shape;
    const key = `${B}x${H}x${W}`;
    let c = this.compiled.get(key);
    if (!c) { c = this.compile(B, H, W); this.compiled.set(key, c); }
    const out = await (await c).run({ image: images, info });
    const D = out.scores.data.length / B;
    const res: ImageDetections[] = [];
    for (let b = 0; b < B; b++) {
      const dets: Detection[] = [];
      for (let r = 0; r < out.count.data[b]; r++) {
        const o = b * D + r;
        const bx = out.boxes.data;
        dets.push({ box: [bx[4 * o], bx[4 * o + 1], bx[4 * o + 2], bx[4 * o + 3]], score: out.scores.data[o], label: out.labels.data[o] });
      }
      res.push({ width: info.data[4 * b + 2], height: info.data[4 * b + 3], detections: dets });
    }
    return res;
  }

  /** Decodes, resizes to the config's test size, normalises and pads one image file. */
  async prepare(path: string): Promise<{ image: Tensor; info: Tensor }> {
    if (!existsSync(path)) throw new ImageError(`${path}: cannot read image: no such file`);
    const { width, height } = await imageSize(path);
    const d = this.config.data;
    const plan = planResize(width, height, d.testShortSide, d.testMaxSize);
    const img = await readResized(path, plan.width, plan.height, false);
    // Padded to the config's size bucket (a multiple of 32): each padded shape is one compiled program, so
    // a coarser bucket means fewer compiles on datasets of many image sizes (COCO).
    return padImageBatch([{ chw: toFloatChw(img, d.mean, d.std), width: plan.width, height: plan.height, origW: width, origH: height }], { divisor: d.sizeBucket });
  }

  /** Detections for one image file. */
  async detectFile(path: string): Promise<ImageDetections> {
    const { image, info } = await this.prepare(path);
    return (await this.runBatch(image, info))[0];
  }

  dispose(): void {
    for (const c of this.compiled.values()) void c.then((x) => x.dispose(), () => {});
    this.compiled.clear();
  }
}

/** The detect entry's constructor arguments: the config's model arguments and the post-processing the module accepts. */
export function detectArgs(cfg: DetectorConfig, o: PostOptions): Record<string, number | boolean> {
  const decl = checkFilesOrThrow([resolveSource(cfg.infer.source)]).modules.get(cfg.infer.module);
  if (!decl) throw new DetectorError(`${cfg.path}: ${cfg.infer.source} has no module ${cfg.infer.module}`);
  return { ...cfg.infer.args, ...postArgs(cfg, decl.params.map((p) => p.name), o) };
}

/** The detect graph of a config at one batch shape. */
export function lowerDetect(cfg: DetectorConfig, args: Record<string, number | boolean>, B: number, H: number, W: number): Graph {
  const program = checkFilesOrThrow([resolveSource(cfg.infer.source)]);
  return lower(program, {
    entry: cfg.infer.module, fn: 'detect', args,
    inputs: { image: { dtype: 'f32', shape: [B, 3, H, W] }, info: { dtype: 'f32', shape: [B, 4] } },
  });
}


