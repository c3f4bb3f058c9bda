/// <reference types="@webgpu/types" />
// The WebGPU runtime over any `GPU` object: navigator.gpu in browsers, the
// `webgpu` package's Dawn in Node (see node.ts / browser.ts). Nothing here
// imports Node modules; what differs by host (where to dump a rejected
// shader, how to log, the debug level) comes in as options.
import type { Program, Runtime, ProgramKernel } from './contract.js';
import { openDevice, DEFAULT_TIMEOUT_MS, type OpenDevice, type ComputeLimits } from './device.js';
import { PipelineCache, type SourceDump } from './pipelines.js';
import { WebGpuExecutable } from './executable.js';
import { WebGpuError, DeviceLimitError } from './errors.js';
import { renderWgsl } from '../compiler/render/wgsl.js';
import type { Kernel } from '../compiler/kernel/ir.js';
import { webgpuDeviceTarget, type Target } from '../compiler/target.js';

export interface WebGpuOptions {
  /** FUSEDET_DEBUG: 1 load summary, 2 per-launch GPU times (timestamp queries), 4 each kernel's WGSL. */
  debug?: number;
  /** Collect per-launch GPU times for lastTimes() without printing (benchmarks). */
  timing?: boolean;
  timeoutMs?: number;
  log?: (line: string) => void;
  dumpSource?: SourceDump;
  /** WGSL for a kernel; defaults to the WGSL renderer, or `ir.wgsl` for hand-written kernels. */
  render?: (kernel: ProgramKernel) => string;
  /** Appended to the "no adapter" reason. */
  adapterHint?: string;
  /**
   * Storage buffers per kernel to plan for, when lower than the device's (8
   * acts like a browser's default): the target reports it, so fusion and the
   * schedules keep every kernel within it.
   */
  maxStorageBuffers?: number;
}

/** A kernel whose IR is hand-written WGSL (tests, hand-scheduled kernels). */
export function handWritten(ir: unknown): string | undefined {
  if (typeof ir === 'object' && ir !== null && typeof (ir as { wgsl?: unknown }).wgsl === 'string') return (ir as { wgsl: string }).wgsl;
  return undefined;
}

function isKernelIr(ir: unknown): ir is Kernel {
  return typeof ir === 'object' && ir !== null && Array.isArray((ir as Kernel).bufs) && Array.isArray((ir as Kernel).body);
}

function defaultRender(k: ProgramKernel): string {
  const src = handWritten(k.ir);
  if (src !== undefined) return src;
  if (isKernelIr(k.ir)) return renderWgsl(k.ir);
  throw new WebGpuError(`kernel ${k.name}: its IR is neither kernel IR nor hand-written WGSL`);
}

/**
 * Limits a kernel's IR shows before any compile: the device would refuse the
 * pipeline later with a less direct message. Every WGSL scalar is 4 bytes.
 */
export function checkKernelLimits(program: Program, limits: ComputeLimits): void {
  for (const k of program.kernels) {
    if (!isKernelIr(k.ir)) continue;
    const bytes = k.ir.locals.reduce((s, a) => s + 4 * a.size, 0);
    if (bytes > limits.maxComputeWorkgroupStorageSize) {
      throw new DeviceLimitError(`kernel ${k.name} uses ${bytes} bytes of workgroup memory (${k.ir.locals.map((a) => `${a.name}[${a.size}]`).join(', ')}); this device allows ${limits.maxComputeWorkgroupStorageSize}`);
    }
  }
}

export class WebGpuRuntime implements Runtime {
  readonly name = 'webgpu' as const;
  private readonly cache: PipelineCache;

  private constructor(readonly gpu: OpenDevice, private readonly opts: WebGpuOptions) {
    // Building a large pipeline on SwiftShader under load can take tens of
    // seconds; only a device that stops answering should hit this.
    this.cache = new PipelineCache(gpu, 3 * (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS), opts.dumpSource,
      Math.min(opts.maxStorageBuffers ?? Infinity, gpu.limits.maxStorageBuffersPerShaderStage));
  }

  static async create(gpu: GPU, opts: WebGpuOptions = {}): Promise<WebGpuRuntime> {
    const dev = await openDevice(gpu, { timestamps: (opts.debug ?? 0) >= 2 || !!opts.timing, timeoutMs: opts.timeoutMs }, opts.adapterHint);
    if ((opts.debug ?? 0) >= 1) (opts.log ?? console.error)(`[webgpu] device: ${dev.description}`);
    return new WebGpuRuntime(dev, opts);
  }

  /** A kernel's WGSL; FUSEDET_DEBUG=4 also writes it where a user can read it. */
  private readonly sourceOf = (k: ProgramKernel): string => {
    const src = (this.opts.render ?? defaultRender)(k);
    if ((this.opts.debug ?? 0) >= 4) {
      const path = this.opts.dumpSource?.(k.name, k.hash, src);
      (this.opts.log ?? console.error)(path ? `[webgpu] ${k.name}: ${path}` : `[webgpu] ${k.name}:\n${src}`);
    }
    return src;
  };

  /** What the fusion pass and buffer planner must respect on this device. */
  get limits(): ComputeLimits { return this.gpu.limits; }
  /** This device's limits and adapter kind (software: SwiftShader's barrier-free GEMMs). */
  get target(): Target { return webgpuDeviceTarget(this.gpu.limits, this.gpu.software, this.opts.maxStorageBuffers); }

  /** Pipelines compiled so far (a cache hit does not count). */
  get compiles(): number { return this.cache.compiles; }

  async load(program: Program): Promise<WebGpuExecutable> {
    checkKernelLimits(program, this.gpu.limits);
    return WebGpuExecutable.load(this.gpu, program, this.cache, {
      timeoutMs: this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      debug: this.opts.debug ?? 0,
      timing: this.opts.timing ?? false,
      log: this.opts.log ?? ((l) => console.error(l)),
      source: this.sourceOf,
    });
  }

  /** Releases the device; later calls fail with DeviceLostError. */
  destroy(): void { this.gpu.device.destroy(); }
}
