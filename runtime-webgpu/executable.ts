/// <reference types="@webgpu/types" />
// One loaded Program on one device: its planned buffers (params resident),
// its launches as prebuilt bind groups, and a run that writes the inputs,
// encodes every dispatch into one command buffer, copies the outputs into one
// staging buffer, submits once and maps it back. Names, tensor checks,
// lifetime, memory limits and timing rows are runtime/host.ts's.
//
// Binding convention every WGSL kernel follows (documented for the renderer):
//   @group(0) @binding(i)  var<storage, read|read_write>  the launch's buffers, in order
//   @group(0) @binding(n)  var<uniform> args               n = number of buffers
// `args` is a struct of 4-byte words: word 0 is `grid` (u32, the number of
// workgroups the kernel expects), words 1.. are the launch's int args in
// order. Grids over maxComputeWorkgroupsPerDimension are dispatched as 2-D
// (x, y) with x·y ≥ grid, so a kernel reads its workgroup index as
//   let wg = workgroup_id.x + workgroup_id.y * num_workgroups.x;
//   if (wg >= args.grid) { return; }
// The early return is safe before a workgroupBarrier: wg is the same for every
// thread of a workgroup, so the whole workgroup returns together.
// A kernel binds at most the device's storage buffers per stage when the
// program was compiled for this runtime's target: fusion cuts groups at the
// limit (compiler/fuse.ts) and an op that alone would bind more schedules
// several launches (max3d over a pyramid: compiler/ops/max3d-launches.kernel.ts).
// A program compiled for another target may not: the pipeline cache refuses
// such a kernel and says so (pipelines.ts).
import type { TensorData } from '../compiler/tensor.js';
import type { Program, ProgramBuffer, ProgramKernel } from './contract.js';
import type { OpenDevice } from './device.js';
import type { PipelineCache, CompiledKernel } from './pipelines.js';
import { WebGpuError, DeviceLimitError, guarded } from './errors.js';
import { type Device, HostExecutable, type LaunchRequest, type LaunchResult, type MemoryLimit, type Slot, type Transfer, checkMemory } from '../runtime/host.js';
import { describeBuffer, formatBytes, programNeeds } from '../runtime/errors.js';
import { tensorBytes, bytesTensor, deviceBytes } from './host-data.js';

const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const;
const MAP_READ = 0x1;

export interface RunOptions {
  timeoutMs: number;
  /** FUSEDET_DEBUG level: 1 load summary, 2 per-launch times. */
  debug: number;
  /** Collect per-launch GPU times (lastTimes) without printing them. */
  timing: boolean;
  log: (line: string) => void;
  /** WGSL of a kernel (the renderer, or a hand-written source). */
  source: (kernel: ProgramKernel) => string;
}

/** Workgroup counts (x, y) covering `grid` with neither over `maxPerDim`. */
export function splitGrid(grid: number, maxPerDim: number): [number, number] {
  if (grid <= maxPerDim) return [Math.max(1, grid), 1];
  const y = Math.ceil(grid / maxPerDim);
  if (y > maxPerDim) throw new DeviceLimitError(`a launch of ${grid} workgroups exceeds ${maxPerDim}² (2-D dispatch limit of this device)`);
  return [Math.ceil(grid / y), y];
}

function bufferLabel(b: ProgramBuffer): string {
  return `${b.role} buffer ${b.name ? `'${b.name}' ` : ''}(#${b.id})`;
}

/** What one binding may hold on this device, checked before anything is compiled or allocated. */
function memoryLimit(dev: OpenDevice): MemoryLimit {
  const { maxStorageBufferBindingSize: bind, maxBufferSize: max } = dev.limits;
  return {
    perBuffer: Math.min(bind, max),
    bytesOf: (b) => deviceBytes(b.dtype, b.bytes),
    refuse: ({ bytes, buffer, needs, what }) => {
      const which = bind <= max ? `maxStorageBufferBindingSize ${bind}` : `maxBufferSize ${max}`;
      return new DeviceLimitError(`${buffer ? bufferLabel(buffer) : what} needs ${bytes} bytes (${(bytes / 2 ** 20).toFixed(1)} MiB), over this device's ${which} bytes (${needs}); use a smaller batch or image size`);
    },
  };
}

/** WGSL has no 64-bit integers: args travel as i32 words. */
function checkArgs(p: Program): void {
  p.launches.forEach((l, i) => {
    const big = l.args.find((a) => !Number.isInteger(a) || a > 2147483647 || a < -2147483648);
    if (big !== undefined) throw new DeviceLimitError(`launch ${i} (${p.kernels[l.kernel]?.name ?? `kernel ${l.kernel}`}) has argument ${big}, which does not fit the 32-bit integers WGSL kernels take`);
  });
}

interface Step {
  readonly kernel: CompiledKernel;
  readonly bindGroup: GPUBindGroup;
  readonly dispatch: [number, number];
}

/** GPU buffers, one uniform for every launch's arguments, one staging buffer for the outputs. */
class WebGpuDevice implements Device<GPUBuffer> {
  readonly runtime = 'webgpu' as const;
  readonly label = 'WebGPU';
  readonly inPlace = false;
  private memory: GPUBuffer[] = [];
  private readonly extra: GPUBuffer[] = [];
  private readonly steps: Step[] = [];
  private staging: GPUBuffer | undefined;
  private stagingOffsets: number[] = [];
  private timer: { set: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer } | undefined;
  /** Error scopes of the allocation, popped by settle(). */
  private bufferOoms: Promise<GPUError | null>[] = [];
  private open = false;

  constructor(private readonly dev: OpenDevice, private readonly program: Program, private readonly opts: RunOptions) {}

  /** Under an out-of-memory scope per buffer, so an error names the buffer that failed; popped by settle(). */
  allocate(buffers: readonly ProgramBuffer[]): GPUBuffer[] {
    const { device } = this.dev;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    this.open = true;
    for (const b of buffers) {
      device.pushErrorScope('out-of-memory');
      try {
        this.memory.push(device.createBuffer({ label: bufferLabel(b), size: deviceBytes(b.dtype, b.bytes), usage: USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC }));
      } finally {
        this.bufferOoms.push(device.popErrorScope());
      }
    }
    return this.memory;
  }

  /** Bind groups, the argument uniform, staging and timestamp buffers: everything a run encodes, made once. */
  prepare(pipelines: readonly CompiledKernel[], slotOf: (id: number) => number): void {
    const { device, limits } = this.dev;
    const p = this.program;
    // One uniform buffer holds every launch's [grid, ...args], each at its own aligned slot.
    const align = limits.minUniformBufferOffsetAlignment;
    const argWords = p.launches.map((l) => [l.grid, ...l.args]);
    const sizes = argWords.map((w) => Math.ceil((w.length * 4) / 16) * 16);
    const offsets: number[] = [];
    let total = 0;
    for (const s of sizes) { offsets.push(total); total = Math.ceil((total + s) / align) * align; }
    const words = new Int32Array(Math.max(4, total / 4));
    argWords.forEach((w, i) => words.set(w, offsets[i] / 4));
    const args = device.createBuffer({ label: 'launch args', size: words.byteLength, usage: USAGE.UNIFORM | USAGE.COPY_DST });
    this.extra.push(args);
    device.queue.writeBuffer(args, 0, words);
    p.launches.forEach((l, i) => {
      const entries: GPUBindGroupEntry[] = l.buffers.map((id, j) => ({ binding: j, resource: { buffer: this.memory[slotOf(id)] } }));
      entries.push({ binding: entries.length, resource: { buffer: args, offset: offsets[i], size: sizes[i] } });
      this.steps.push({
        kernel: pipelines[i],
        bindGroup: device.createBindGroup({ label: p.kernels[l.kernel].name, layout: pipelines[i].layout, entries }),
        dispatch: splitGrid(l.grid, limits.maxComputeWorkgroupsPerDimension),
      });
    });
    let stagingSize = 0;
    this.stagingOffsets = Object.values(p.outputs).map((id) => {
      const at = stagingSize;
      const b = p.buffers[slotOf(id)];
      stagingSize += Math.ceil(deviceBytes(b.dtype, b.bytes) / 256) * 256;
      return at;
    });
    this.staging = device.createBuffer({ label: 'readback', size: Math.max(4, stagingSize), usage: USAGE.MAP_READ | USAGE.COPY_DST });
    if ((this.opts.debug >= 2 || this.opts.timing) && this.dev.features.has('timestamp-query') && p.launches.length > 0) {
      const count = 2 * p.launches.length;
      this.timer = {
        set: device.createQuerySet({ type: 'timestamp', count }),
        resolve: device.createBuffer({ size: count * 8, usage: USAGE.QUERY_RESOLVE | USAGE.COPY_SRC }),
        read: device.createBuffer({ size: count * 8, usage: USAGE.MAP_READ | USAGE.COPY_DST }),
      };
    }
  }

  /** Pops the allocation's scopes (both at once: another load may push its own in between awaits) and reports what failed. */
  async settle(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    const { device } = this.dev;
    const invalidP = device.popErrorScope(), oomP = device.popErrorScope();
    const wait = <T>(x: Promise<T>): Promise<T> => guarded(x, 'allocating buffers', this.opts.timeoutMs, this.dev.lost);
    const [invalid, oom, perBuffer] = [await wait(invalidP), await wait(oomP), await wait(Promise.all(this.bufferOoms))];
    const failed = perBuffer.findIndex((e) => e !== null);
    if (failed >= 0) {
      const b = this.program.buffers[failed];
      const bytes = deviceBytes(b.dtype, b.bytes);
      throw new DeviceLimitError(`out of GPU memory allocating ${describeBuffer(b)}: ${formatBytes(bytes)} (${bytes} bytes); ${programNeeds(this.program)}; use a smaller batch or image size (${perBuffer[failed]!.message})`);
    }
    if (oom) throw new DeviceLimitError(`out of GPU memory allocating the program's buffers; ${programNeeds(this.program)}: ${oom.message}`);
    if (invalid) throw new WebGpuError(`WebGPU rejected the program's buffers or bindings: ${invalid.message}`);
  }

  upload(writes: readonly Transfer<GPUBuffer>[]): void {
    // Converted first (bool widened, f16 narrowed), so a bad tensor throws before any write.
    const bytes = writes.map((w) => tensorBytes(w.tensor, w.buffer.dtype, w.buffer.bytes, `${w.buffer.role} '${w.name}'`));
    writes.forEach((w, i) => this.dev.device.queue.writeBuffer(w.memory, 0, bytes[i]));
  }

  async launch(request: LaunchRequest<GPUBuffer>): Promise<LaunchResult> {
    const { device } = this.dev;
    const staging = this.staging!;
    const timer = request.timing ? this.timer : undefined;
    device.pushErrorScope('validation');
    this.upload(request.inputs);
    const enc = device.createCommandEncoder({ label: 'run' });
    if (timer) {
      // One pass per launch so each has its own begin/end timestamps.
      this.steps.forEach((s, i) => {
        const pass = enc.beginComputePass({ timestampWrites: { querySet: timer.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        encodeStep(pass, s);
        pass.end();
      });
      enc.resolveQuerySet(timer.set, 0, 2 * this.steps.length, timer.resolve, 0);
      enc.copyBufferToBuffer(timer.resolve, 0, timer.read, 0, 16 * this.steps.length);
    } else if (this.steps.length > 0) {
      const pass = enc.beginComputePass();
      for (const s of this.steps) encodeStep(pass, s);
      pass.end();
    }
    request.outputs.forEach((o, i) => enc.copyBufferToBuffer(o.memory, 0, staging, this.stagingOffsets[i], deviceBytes(o.buffer.dtype, o.buffer.bytes)));
    device.queue.submit([enc.finish()]);
    const invalid = await guarded(device.popErrorScope(), 'submitting a run', this.opts.timeoutMs, this.dev.lost);
    if (invalid) throw new WebGpuError(`WebGPU rejected the run: ${invalid.message}`);
    await guarded(staging.mapAsync(MAP_READ), 'reading back the outputs', this.opts.timeoutMs, this.dev.lost);
    let outputs: TensorData[];
    try {
      const range = staging.getMappedRange();
      outputs = request.outputs.map((o, i) => bytesTensor(range, this.stagingOffsets[i], o.buffer.dtype, o.buffer.bytes, undefined).data);
    } finally {
      staging.unmap();
    }
    return { outputs, ...(timer ? { seconds: await this.readTimes(timer.read) } : {}) };
  }

  private async readTimes(read: GPUBuffer): Promise<number[]> {
    await guarded(read.mapAsync(MAP_READ), 'reading timestamps', this.opts.timeoutMs, this.dev.lost);
    const t = new BigInt64Array(read.getMappedRange().slice(0));
    read.unmap();
    return this.steps.map((_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1e9);
  }

  /** Reads a resident buffer back through its own staging buffer. */
  async download(s: Slot<GPUBuffer>): Promise<TensorData> {
    const { device } = this.dev;
    const size = deviceBytes(s.buffer.dtype, s.buffer.bytes);
    const read = device.createBuffer({ label: `read ${s.buffer.name ?? s.buffer.id}`, size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    try {
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(s.memory, 0, read, 0, size);
      device.queue.submit([enc.finish()]);
      await guarded(read.mapAsync(MAP_READ), `reading ${s.buffer.role} '${s.buffer.name ?? s.buffer.id}'`, this.opts.timeoutMs, this.dev.lost);
      return bytesTensor(read.getMappedRange(), 0, s.buffer.dtype, s.buffer.bytes, undefined).data;
    } finally {
      read.destroy();
    }
  }

  check(): void {
    const lost = this.dev.lostError();
    if (lost) throw lost;
  }

  free(): void {
    for (const b of [...this.memory, ...this.extra]) b.destroy();
    this.memory = [];
    this.staging?.destroy();
    if (this.timer) { this.timer.set.destroy(); this.timer.resolve.destroy(); this.timer.read.destroy(); }
  }
}

function encodeStep(pass: GPUComputePassEncoder, s: Step): void {
  pass.setPipeline(s.kernel.pipeline);
  pass.setBindGroup(0, s.bindGroup);
  pass.dispatchWorkgroups(s.dispatch[0], s.dispatch[1]);
}

/** Each launch's pipeline, from the cache; a kernel is rendered once however many launches share it. */
async function pipelinesOf(p: Program, cache: PipelineCache, opts: RunOptions): Promise<CompiledKernel[]> {
  const sources = new Map<number, string>();
  return Promise.all(p.launches.map((l, i) => {
    const k = p.kernels[l.kernel];
    if (!k) throw new WebGpuError(`launch ${i} names kernel ${l.kernel}, but the program has ${p.kernels.length}`);
    let src = sources.get(l.kernel);
    if (src === undefined) { src = opts.source(k); sources.set(l.kernel, src); }
    return cache.get(k.name, k.hash, src, l.buffers.length, k.workgroupSize);
  }));
}

export class WebGpuExecutable extends HostExecutable<GPUBuffer> {
  private constructor(dev: OpenDevice, program: Program, gpu: WebGpuDevice, opts: RunOptions) {
    super(program, gpu, { compiled: 0, cached: 0, kernels: 0, seconds: 0 }, {
      timing: opts.debug >= 2 || opts.timing,
      ...(opts.debug >= 2 ? { log: (line: string) => opts.log(`[webgpu] ${line}`) } : {}),
    }, memoryLimit(dev));
  }

  /** Checks, compiles the pipelines, then allocates and binds; a failure at any step leaves nothing allocated. */
  static async load(dev: OpenDevice, program: Program, cache: PipelineCache, opts: RunOptions): Promise<WebGpuExecutable> {
    const lost = dev.lostError();
    if (lost) throw lost;
    const t0 = performance.now();
    const compiledBefore = cache.compiles;
    // What a plain exception can catch is checked before the device is asked for anything.
    checkMemory(program, memoryLimit(dev));
    checkArgs(program);
    const pipelines = await pipelinesOf(program, cache, opts);
    const gpu = new WebGpuDevice(dev, program, opts);
    let ex: WebGpuExecutable | undefined;
    try {
      ex = new WebGpuExecutable(dev, program, gpu, opts);
      gpu.prepare(pipelines, (id) => ex!.slotIndex(id));
      await gpu.settle();
    } catch (e) {
      // Balances the allocation's error scopes even when the constructor threw midway.
      await gpu.settle().catch(() => undefined);
      if (ex) ex.dispose(); else gpu.free();
      throw e;
    }
    const compiled = cache.compiles - compiledBefore;
    const p = program;
    ex.stats = { compiled, cached: p.kernels.length - compiled, kernels: p.kernels.length, seconds: (performance.now() - t0) / 1000 };
    if (opts.debug >= 1) {
      opts.log(`[webgpu] loaded ${p.kernels.length} kernels (${compiled} compiled, ${ex.stats.cached} cached) in ${ex.stats.seconds.toFixed(2)} s, ${p.launches.length} launches, ${p.buffers.length} buffers on ${dev.description}`);
    }
    return ex;
  }
}
