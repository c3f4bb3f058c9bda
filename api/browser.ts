// The detection API in browsers: a precompiled program file (compiled by
// Node: the model language reads files) and safetensors weights, run on
// navigator.gpu. The same calls and results as the Node entry (api/index.ts);
// only where images come from differs: ImageData, <img>, ImageBitmap, a
// canvas, encoded bytes (Blob, ArrayBuffer) or a URL, decoded and resized by
// the browser. Nothing here may import Node: test/api/bundle.test.ts bundles
// this file for the browser platform and fails on any Node import.
//
//   const det = await Detector.create({ program: 'defcn.program.json', weights: 'defcn.safetensors' });
//   const { boxes, scores, labels, count } = await det.detect(document.querySelector('img'));
import { createBrowserWebGpu } from '../runtime-webgpu/browser.js';
import { ProgramEngine, Prepared, detectAll, parseProgramFile, pixelsToChw, programWeights, resizeTarget, tensorToPrepared } from './core.js';
import { parseSafetensors } from './safetensors.js';
import { ImageInputError, ModelError, RuntimeUnavailableError, WeightsError, as } from './errors.js';
import type { Detections, PixelsInput, ProgramFile, TensorInput } from './types.js';

export type { Detections, PixelsInput, Preprocess, ProgramFile, RuntimeChoice, TensorInput, Timings } from './types.js';
export { FusedetError, ImageInputError, ModelError, RuntimeUnavailableError, WeightsError, DisposedError } from './errors.js';

/** Anything drawImage takes: HTMLImageElement, ImageBitmap, HTMLCanvasElement, OffscreenCanvas, a video frame. */
export interface DrawableImage { readonly width: number; readonly height: number; readonly naturalWidth?: number; readonly naturalHeight?: number }
/** An encoded image (PNG, JPEG, ...): a Blob or its bytes. */
export type EncodedImage = { arrayBuffer(): Promise<ArrayBuffer>; readonly type: string } | ArrayBuffer | Uint8Array;
export type BrowserImage = PixelsInput | DrawableImage | EncodedImage | TensorInput | string;

export interface BrowserDetectorOptions {
  /** A program file: its URL, its JSON text, or the parsed object. */
  readonly program: string | ProgramFile;
  /** safetensors weights: a URL, or the file's bytes. */
  readonly weights: string | ArrayBuffer | Uint8Array;
  /** 'auto' or 'webgpu' (the only runtime in a page). */
  readonly runtime?: 'auto' | 'webgpu';
}

interface Canvas2D {
  drawImage(src: unknown, x: number, y: number, w: number, h: number): void;
  putImageData(d: unknown, x: number, y: number): void;
  getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  createImageData(w: number, h: number): { data: Uint8ClampedArray };
}
interface BrowserGlobals {
  fetch(url: string): Promise<{ ok: boolean; status: number; statusText: string; arrayBuffer(): Promise<ArrayBuffer>; text(): Promise<string> }>;
  OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: '2d'): Canvas2D | null };
  createImageBitmap?: (b: unknown, o?: Record<string, string>) => Promise<DrawableImage & { close(): void }>;
  Blob: new (parts: unknown[], o?: { type: string }) => unknown;
}
const g = globalThis as unknown as BrowserGlobals;

async function fetchBytes(url: string, what: string, Err: typeof ModelError): Promise<Uint8Array> {
  let r;
  try { r = await g.fetch(url); } catch (e) { throw new Err(`${url}: cannot fetch the ${what}: ${(e as Error).message}`); }
  if (!r.ok) throw new Err(`${url}: cannot fetch the ${what}: HTTP ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

function context(w: number, h: number): Canvas2D {
  const ctx = g.OffscreenCanvas ? new g.OffscreenCanvas(w, h).getContext('2d') : null;
  if (!ctx) throw new ImageInputError('this browser has no OffscreenCanvas 2D context to resize images with');
  return ctx;
}

const isPixels = (x: object): x is PixelsInput => 'data' in x && ((x as PixelsInput).data instanceof Uint8ClampedArray || (x as PixelsInput).data instanceof Uint8Array);
const isTensor = (x: object): x is TensorInput => 'shape' in x && 'dtype' in x;
const isEncoded = (x: object): x is EncodedImage => x instanceof ArrayBuffer || x instanceof Uint8Array || typeof (x as { arrayBuffer?: unknown }).arrayBuffer === 'function';

export class Detector {
  private disposed = false;

  private constructor(private readonly engine: ProgramEngine, readonly runtime: 'webgpu', readonly adapter: string, readonly program: ProgramFile) {}

  static async create(o: BrowserDetectorOptions): Promise<Detector> {
    if (o.runtime !== undefined && o.runtime !== 'auto' && o.runtime !== 'webgpu') {
      throw new RuntimeUnavailableError(`runtime '${String(o.runtime)}' does not run in a browser; use 'webgpu' or 'auto' (or the server's POST /detect)`);
    }
    const progName = typeof o.program === 'string' && !o.program.trimStart().startsWith('{') ? o.program : 'program file';
    const text = progName === 'program file' ? o.program : new TextDecoder().decode(await fetchBytes(progName, 'program file', ModelError));
    const file = parseProgramFile(text as string | ProgramFile, progName);
    const wName = typeof o.weights === 'string' ? o.weights : 'weights';
    const bytes = typeof o.weights === 'string' ? await fetchBytes(o.weights, 'weights', WeightsError) : new Uint8Array(o.weights as ArrayBuffer);
    const weights = programWeights(file, parseSafetensors(bytes, wName).tensors, wName);
    let rt;
    try { rt = await createBrowserWebGpu(); } catch (e) {
      throw as(RuntimeUnavailableError, e, 'WebGPU is not available in this browser: ') as Error;
    }
    const engine = await ProgramEngine.load(rt, file, weights);
    return new Detector(engine, 'webgpu', rt.gpu.description, file);
  }

  /** Detections of one image, or of each image of a list (in the images' original pixels). */
  detect(image: BrowserImage): Promise<Detections>;
  detect(images: readonly BrowserImage[]): Promise<Detections[]>;
  async detect(input: BrowserImage | readonly BrowserImage[]): Promise<Detections | Detections[]> {
    return detectAll(input, Array.isArray as (x: unknown) => x is readonly BrowserImage[], (x) => this.prepare(x), (items, ms) => this.engine.detect(items, ms), this.disposed);
  }

  private async prepare(x: BrowserImage): Promise<Prepared[]> {
    const p = this.program.config;
    if (typeof x === 'string') return this.prepare(await fetchBytes(x, 'image', ImageInputError));
    if (typeof x !== 'object' || x === null) throw new ImageInputError(`detect(): not an image: ${typeof x}`);
    if (isTensor(x)) return tensorToPrepared(x);
    if (isPixels(x)) {
      const ch = x.channels ?? 4;
      const size = resizeTarget(x.width, x.height, p);
      if (size.width === x.width && size.height === x.height) return [{ chw: pixelsToChw(x.data, x.width, x.height, ch, p), ...size, origW: x.width, origH: x.height }];
      const src = context(x.width, x.height);
      const d = src.createImageData(x.width, x.height);
      for (let i = 0; i < x.width * x.height; i++) for (let c = 0; c < 4; c++) d.data[4 * i + c] = c < 3 ? x.data[ch * i + c]! : 255;
      src.putImageData(d, 0, 0);
      return [this.drawn((src as unknown as { canvas: DrawableImage }).canvas, x.width, x.height)];
    }
    if (isEncoded(x)) {
      const blob = x instanceof ArrayBuffer || x instanceof Uint8Array ? new g.Blob([x]) : x;
      let bmp;
      // No colour-space conversion: the pixels the file holds, as sharp decodes them in Node.
      try { bmp = await g.createImageBitmap!(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' }); } catch (e) { throw new ImageInputError(`cannot decode image (corrupt or not an image format this browser reads): ${(e as Error).message}`); }
      try { return [this.drawn(bmp, bmp.width, bmp.height)]; } finally { bmp.close(); }
    }
    const w = x.naturalWidth || x.width, h = x.naturalHeight || x.height;
    if (!(w > 0 && h > 0)) throw new ImageInputError('detect(): the image has no size (an <img> not loaded yet, or not an image)');
    return [this.drawn(x, w, h)];
  }

  /** Drawn at the config's test size by the browser's resampler, then normalised. */
  private drawn(src: unknown, w: number, h: number): Prepared {
    const size = resizeTarget(w, h, this.program.config);
    const ctx = context(size.width, size.height);
    ctx.drawImage(src, 0, 0, size.width, size.height);
    const px = ctx.getImageData(0, 0, size.width, size.height).data;
    return { chw: pixelsToChw(px, size.width, size.height, 4, this.program.config), ...size, origW: w, origH: h };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.dispose();
  }
}

