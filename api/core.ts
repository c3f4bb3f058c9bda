// What the Node and browser entries share: pixels to the model's input
// (resize plan, normalise, pad), a program's outputs to Detections, a
// precompiled program file checked and run on a runtime, and detect()'s
// handling of one input or a batch. No Node import here (the browser bundle
// test holds that): decoding an image is the only platform part, and each
// entry brings its own.
import { parseKeepingNonFinite } from './json-numbers.js';
import type { Tensor } from '../compiler/tensor.js';
import type { Executable, Runtime } from '../runtime/interface.js';
import type { HostProgram } from '../runtime/host.js';
import { type PreparedImage, padImageBatch, planResize } from '../data/augment.js';
import type { Detections, Preprocess, ProgramFile, TensorInput, Timings } from './types.js';

export type { Preprocess };
import { DisposedError, ImageInputError, ModelError, WeightsError } from './errors.js';

/** One image ready for the network: normalised CHW at its resized size, and its original size; `pooled`: chw came from a PlanePool. */
/** A prepared image (data/augment.ts PreparedImage); `pooled` where its plane came from the PlanePool. */
export interface Prepared extends PreparedImage { pooled?: boolean }

/**
 * Float planes reused across detect() calls: a 320 × 320 image's 1.2 MB of
 * fresh memory costs ~2.5 ms of page faults on a virtual machine, more than
 * normalising into it. A plane is taken while its image is prepared and
 * given back once the run is over (runtimes read their inputs only during
 * the run); a few per size are kept.
 */
export class PlanePool {
  private readonly free = new Map<number, Float32Array[]>();
  take(n: number): Float32Array { return this.free.get(n)?.pop() ?? new Float32Array(n); }
  give(a: Float32Array): void {
    const list = this.free.get(a.length) ?? [];
    if (list.length < 4) list.push(a);
    this.free.set(a.length, list);
  }
}


/** The size an image of width × height is resized to before the network (the config's test size). */
export function resizeTarget(width: number, height: number, p: Preprocess): { width: number; height: number } {
  const plan = planResize(width, height, p.testShortSide, p.testMaxSize);
  return { width: plan.width, height: plan.height };
}

/** Interleaved 8-bit pixels (RGB or RGBA, alpha ignored) as normalised float planes: (v/255 − mean) / std. */
export function pixelsToChw(data: ArrayLike<number>, width: number, height: number, channels: number, p: Preprocess, pool?: PlanePool): Float32Array {
  const n = width * height;
  if (data.length < n * channels) throw new ImageInputError(`pixels: ${data.length} bytes for ${width}×${height}×${channels}; the data is shorter than the image`);
  const out = pool ? pool.take(3 * n) : new Float32Array(3 * n); // every element written below
  const [s0, s1, s2] = [0, 1, 2].map((c) => 1 / (255 * p.std[c]!));
  const [t0, t1, t2] = [0, 1, 2].map((c) => p.mean[c]! / p.std[c]!);
  // One pass over the interleaved pixels (three strided passes cost ~1.5× here at 1216 × 800).
  for (let i = 0, j = 0; i < n; i++, j += channels) {
    out[i] = data[j]! * s0! - t0!;
    out[n + i] = data[j + 1]! * s1! - t1!;
    out[2 * n + i] = data[j + 2]! * s2! - t2!;
  }
  return out;
}

/** Model input tensors, [3, H, W] or [B, 3, H, W], as prepared images (boxes in their own pixels). */
export function tensorToPrepared(t: TensorInput): Prepared[] {
  const s = t.shape;
  if (t.dtype !== 'f32' || !(t.data instanceof Float32Array)) throw new ImageInputError(`tensor input: dtype must be 'f32' with a Float32Array, not '${t.dtype}'`);
  const [B, C, H, W] = s.length === 3 ? [1, s[0]!, s[1]!, s[2]!] : s.length === 4 ? s as [number, number, number, number] : [0, 0, 0, 0];
  if (C !== 3 || !(B > 0 && H > 0 && W > 0)) throw new ImageInputError(`tensor input: shape [${s.join(', ')}] is not [3, H, W] or [B, 3, H, W]`);
  if (t.data.length !== B * 3 * H * W) throw new ImageInputError(`tensor input: ${t.data.length} values for shape [${s.join(', ')}]`);
  return Array.from({ length: B }, (_, b) => ({ chw: t.data.subarray(b * 3 * H * W, (b + 1) * 3 * H * W), width: W, height: H, origW: W, origH: H }));
}

/** Images into a program file's fixed input (data/augment.ts padImageBatch), each checked to fit it. */
export function padImages(items: readonly Prepared[], fixed: { batch: number; height: number; width: number }): { image: Tensor; info: Tensor } {
  items.forEach((p, b) => {
    if (p.height > fixed.height || p.width > fixed.width) throw new ImageInputError(`image ${b}: resized to ${p.width}×${p.height}, larger than the program's input ${fixed.width}×${fixed.height}`);
  });
  return padImageBatch(items, { fixed });
}

/** The detect entry's outputs (boxes [B, D, 4], scores/labels [B, D], count [B]) for the first `n` images. */
export function readDetections(out: Record<string, Tensor>, items: readonly Prepared[], timings: Timings): Detections[] {
  const B = out.count!.data.length, D = out.scores!.data.length / B;
  return items.map((p, b) => {
    const count = out.count!.data[b]!;
    return {
      boxes: Float32Array.from(out.boxes!.data.subarray(b * D * 4, (b * D + count) * 4)),
      scores: Float32Array.from(out.scores!.data.subarray(b * D, b * D + count)),
      labels: Int32Array.from(out.labels!.data.subarray(b * D, b * D + count)),
      count, width: p.origW, height: p.origH, timings,
    };
  });
}

/** A program file's text or object, checked before anything is compiled; `name` names it in messages. */
export function parseProgramFile(value: string | ProgramFile, name: string): ProgramFile & { program: HostProgram } {
  let f: unknown = value;
  if (typeof value === 'string') {
    try { f = parseKeepingNonFinite(value); } catch (e) { throw new ModelError(`${name}: not a fusedet program file: not JSON (${(e as Error).message})`); }
  }
  const p = f as Partial<ProgramFile> | null;
  if (!p || p.format !== 'fusedet-program') throw new ModelError(`${name}: not a fusedet program file (no "format": "fusedet-program")`);
  if (p.version !== 1) throw new ModelError(`${name}: program file version ${String(p.version)}; this fusedet reads version 1`);
  const prog = p.program as Partial<HostProgram> | undefined;
  if (!prog || !Array.isArray(prog.kernels) || !Array.isArray(prog.buffers) || !prog.params || !p.input || !p.config) throw new ModelError(`${name}: damaged program file (program, input or config missing)`);
  for (const k of ['boxes', 'scores', 'labels', 'count']) if (!(k in (prog.outputs ?? {}))) throw new ModelError(`${name}: the program has no '${k}' output: not a detect entry`);
  return p as ProgramFile & { program: HostProgram };
}

/** The weights the program's parameters need, by name (a checkpoint's train prefix accepted), shapes checked. */
export function programWeights(file: ProgramFile & { program: HostProgram }, tensors: Map<string, Tensor>, name: string): Map<string, Tensor> {
  const prefix = file.config.prefix;
  const prefixed = prefix !== '' && [...tensors.keys()].some((k) => k.startsWith(prefix));
  const out = new Map<string, Tensor>();
  for (const [param, id] of Object.entries(file.program.params)) {
    const buf = file.program.buffers[id as number]!;
    const key = prefixed ? prefix + param : param;
    const t = tensors.get(key);
    const want = `${buf.dtype}[${(buf.shape ?? []).join(', ')}]`;
    if (!t) throw new WeightsError(`${name}: weights of another model: '${file.config.name}' needs tensor '${key}' (${want}) and the file has none`);
    if (t.dtype !== buf.dtype || t.shape.join(',') !== (buf.shape ?? []).join(',')) throw new WeightsError(`${name}: weights of another model: tensor '${key}' is ${t.dtype}[${t.shape.join(', ')}], '${file.config.name}' expects ${want}`);
    out.set(param, t);
  }
  return out;
}

/** A loaded program file on a runtime: fixed input size, weights resident. */
export class ProgramEngine {
  private constructor(readonly file: ProgramFile & { program: HostProgram }, private readonly exe: Executable) {}

  static async load(runtime: Runtime, file: ProgramFile & { program: HostProgram }, weights: Map<string, Tensor>): Promise<ProgramEngine> {
    const exe = await runtime.load(file.program as Parameters<Runtime['load']>[0]);
    await exe.setParams(weights);
    return new ProgramEngine(file, exe);
  }

  /** Runs the images in chunks of the program's batch. */
  async detect(items: readonly Prepared[], prepareMs: number): Promise<Detections[]> {
    const res: Detections[] = [];
    const B = this.file.input.batch;
    for (let i = 0; i < items.length; i += B) {
      const chunk = items.slice(i, i + B);
      const t0 = now();
      const out = await this.exe.run(padImages(chunk, this.file.input));
      const runMs = now() - t0;
      res.push(...readDetections(out, chunk, { prepareMs, runMs, totalMs: prepareMs + runMs }));
    }
    return res;
  }

  dispose(): void { this.exe.dispose(); }
}

export const now = (): number => globalThis.performance?.now() ?? Date.now();

/** detect()'s argument: one input or a list (a batch); the result has the same form. */
export async function detectAll<I>(
  input: I | readonly I[], isList: (x: I | readonly I[]) => x is readonly I[],
  prepare: (x: I) => Promise<Prepared[]>, run: (items: Prepared[], prepareMs: number) => Promise<Detections[]>, disposed: boolean,
  pool?: PlanePool,
): Promise<Detections | Detections[]> {
  if (disposed) throw new DisposedError('detect() after dispose(): create a new Detector');
  const list = isList(input);
  const inputs = list ? input : [input as I];
  if (inputs.length === 0) return [];
  const t0 = now();
  const items: Prepared[] = [];
  try {
    for (const x of inputs) items.push(...await prepare(x));
    const res = await run(items, now() - t0);
    return list || res.length > 1 ? res : res[0]!;
  } finally {
    if (pool) for (const it of items) if (it.pooled) pool.give(it.chw);
  }
}
