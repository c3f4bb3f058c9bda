// The public types of the detection API, the same in Node (api/index.ts) and
// browsers (api/browser.ts). Self-contained on purpose: the emitted .d.ts of
// the two entries refers to nothing but this file, so a user's type checker
// never reads the compiler's internals.

/** Where the detector runs. 'auto': CUDA if a driver answers, else WebGPU, else the CPU (Node); WebGPU (browsers). */
export type RuntimeChoice = 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'reference';

/** A model input tensor: already resized and normalised, f32 [3, H, W] or [B, 3, H, W]; boxes come back in its pixels. */
export interface TensorInput {
  readonly dtype: 'f32';
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Decoded pixels, the shape of a browser ImageData: RGBA (4 channels, the default) or RGB, row-major. */
export interface PixelsInput {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly channels?: 3 | 4;
}

/** Detections of one image, in its original pixels, sorted by score (highest first). */
export interface Detections {
  /** count × 4: x1, y1, x2, y2 of each detection. */
  readonly boxes: Float32Array;
  readonly scores: Float32Array;
  /** 0-based class index of the model. */
  readonly labels: Int32Array;
  readonly count: number;
  /** The original image's size. */
  readonly width: number;
  readonly height: number;
  /** Milliseconds of this call's stages (shared by the images of one batch). */
  readonly timings: Timings;
}

export interface Timings {
  /** Decoding, resizing, normalising and padding the images. */
  readonly prepareMs: number;
  /** Upload, the program's kernels (network and post-processing) and read-back. */
  readonly runMs: number;
  readonly totalMs: number;
}

/** How images become the network's input: resized so the short side is testShortSide (long side at most testMaxSize), then (v/255 − mean) / std per channel. */
export interface Preprocess {
  readonly testShortSide: number;
  readonly testMaxSize: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** Post-processing choices compiled into the program (defaults: the config's). Node only: a program file fixes them. */
export interface PostOptions {
  /** Class-aware NMS. */
  readonly nms?: boolean;
  readonly nmsIou?: number;
  /** Detections kept per image. */
  readonly detections?: number;
  readonly scoreThreshold?: number;
}

/**
 * A precompiled detector program (fusedet's `compileProgramFile`, Node): the
 * compiled detect entry of one config at one input size, with what the host
 * needs to feed it. JSON; weights travel separately (safetensors).
 */
export interface ProgramFile {
  readonly format: 'fusedet-program';
  readonly version: 1;
  /** Compiled for: 'webgpu' (browser default limits, runs on any adapter). */
  readonly target: 'webgpu';
  readonly config: {
    readonly name: string;
    readonly modelHash: string;
    /** The training module's prefix of checkpoint tensor names ("net."). */
    readonly prefix: string;
    readonly testShortSide: number;
    readonly testMaxSize: number;
    readonly mean: readonly number[];
    readonly std: readonly number[];
  };
  /** The program's fixed input: [batch, 3, height, width]; smaller images are zero-padded into it. */
  readonly input: { readonly batch: number; readonly height: number; readonly width: number };
  readonly classNames?: readonly string[];
  /** The compiled Program (kernels, buffers, launches); opaque to users. */
  readonly program: unknown;
}
