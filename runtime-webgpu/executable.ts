/// <reference types="@webgpu/types" />
// One loaded Program on one device: its planned buffers (params resident),
// its launches as prebuilt bind groups, and a run that writes the inputs,
// encodes every dispatch into one command buffer, copies the outputs into one
// staging buffer, submits once and maps it back.
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
import type { Tensor } from '../compiler/tensor.js';
import type { Program, ProgramBuffer, Executable, LoadStats, LaunchTime } from './contract.js';
import type { OpenDevice } from './device.js';
import type { PipelineCache, CompiledKernel } from './pipelines.js';
import { WebGpuError, DeviceLimitError, guarded } from './errors.js';
import { describeBuffer, formatBytes, programNeeds } from '../runtime/errors.js';
import { tensorBytes, bytesTensor, deviceBytes } from './host-data.js';
import { packPlan, type PackPlan } from './packing.js';

const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const;
const MAP_READ = 0x1;

export interface RunOptions {
  timeoutMs: number;
  /** FUSEDET_DEBUG level: 1 load summary, 2 per-launch times. */
  debug: number;
  /** Collect per-launch GPU times (lastTimes) without printing them. */
  timing: boolean;
  log: (line: string) => void;
  /** WGSL of a kernel (the renderer, or a hand-written source), reading `packed` buffers through one binding. */
  source: (kernel: Program['kernels'][number], packed: readonly number[]) => string;
  /** Per buffer of a kernel, whether it is read-only; undefined when its WGSL cannot be re-rendered packed. */
  readOnly: (kernel: Program['kernels'][number]) => boolean[] | undefined;
  /** Storage buffers a kernel may bind (the device's, or lower to act like a browser's default). */
  storageLimit: number;
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

function checkSize(b: ProgramBuffer, dev: OpenDevice, needs: string): void {
  const { maxStorageBufferBindingSize: bind, maxBufferSize: max } = dev.limits;
  const limit = Math.min(bind, max);
  const bytes = deviceBytes(b.dtype, b.bytes);
  if (bytes > limit) {
    const which = bind <= max ? `maxStorageBufferBindingSize ${bind}` : `maxBufferSize ${max}`;
    throw new DeviceLimitError(`${bufferLabel(b)} needs ${bytes} bytes (${(bytes / 2 ** 20).toFixed(1)} MiB), over this device's ${which} bytes (${needs}); use a smaller batch or image size`);
  }
}

interface Copy { readonly from: GPUBuffer; readonly to: GPUBuffer; readonly offset: number; readonly size: number }

interface Step {
  readonly name: string;
  readonly grid: number;
  /** Packing copies to encode before the dispatch (outside any compute pass). */
  readonly copies: readonly Copy[];
  readonly kernel: CompiledKernel;
  readonly bindGroup: GPUBindGroup;
  readonly dispatch: [number, number];
  readonly bytes: number;
}

export class WebGpuExecutable implements Executable {
  readonly runtime = 'webgpu' as const;
  stats: LoadStats = { compiled: 0, cached: 0, kernels: 0, seconds: 0 };
  private times: LaunchTime[] = [];
  private readonly buffers = new Map<number, GPUBuffer>();
  private readonly steps: Step[] = [];
  private argsBuffer: GPUBuffer | undefined;
  private readonly packs: GPUBuffer[] = [];
  private staging: GPUBuffer | undefined;
  private readonly stagingOffsets = new Map<string, number>();
  private timing: { set: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(private readonly dev: OpenDevice, private readonly program: Program, private readonly opts: RunOptions) {}

  static async load(dev: OpenDevice, program: Program, cache: PipelineCache, opts: RunOptions): Promise<WebGpuExecutable> {
    const ex = new WebGpuExecutable(dev, program, opts);
    try {
      await ex.init(cache);
    } catch (e) {
      ex.dispose();
      throw e;
    }
    return ex;
  }

  private fail(): void {
    const lost = this.dev.lostError();
    if (lost) throw lost;
    if (this.disposed) throw new WebGpuError('this executable was disposed');
  }

  private async init(cache: PipelineCache): Promise<void> {
    const { device, limits } = this.dev;
    const p = this.program;
    this.fail();
    const t0 = performance.now();
    const compiledBefore = cache.compiles;
    const needs = programNeeds(p);
    for (const b of p.buffers) checkSize(b, this.dev, needs);
    // Rendered once per kernel (and packing), however many launches share it.
    const sources = new Map<string, string>();
    const plans: (PackPlan | undefined)[] = p.launches.map((l) => {
      const k = p.kernels[l.kernel];
      const ro = k ? this.opts.readOnly(k) : undefined;
      if (!ro || ro.length !== l.buffers.length) return undefined;
      const sizes = l.buffers.map((id) => { const b = p.buffers.find((x) => x.id === id); return b ? deviceBytes(b.dtype, b.bytes) : 4; });
      return packPlan(ro, sizes, this.opts.storageLimit);
    });
    const pipelines = await Promise.all(p.launches.map((l, i) => {
      const k = p.kernels[l.kernel];
      if (!k) throw new WebGpuError(`launch ${i} names kernel ${l.kernel}, but the program has ${p.kernels.length}`);
      const packed = plans[i]?.packed ?? [];
      const key = `${l.kernel}/${packed.join('.')}`;
      let src = sources.get(key);
      if (src === undefined) { src = this.opts.source(k, packed); sources.set(key, src); }
      const hash = packed.length ? `${k.hash}+pack${packed.join('.')}` : k.hash;
      return cache.get(k.name, hash, src, l.buffers.length - packed.length + (packed.length ? 1 : 0), k.workgroupSize);
    }));
    // Everything a plain exception can catch is checked before the error
    // scopes open: a throw between push and pop would unbalance them.
    const ids = new Set(p.buffers.map((b) => b.id));
    p.launches.forEach((l, i) => {
      const bad = l.buffers.find((id) => !ids.has(id));
      if (bad !== undefined) throw new WebGpuError(`launch ${i} (${p.kernels[l.kernel].name}) binds buffer #${bad}, which the program does not declare`);
    });
    for (const [name, id] of Object.entries(p.outputs)) this.declared(id, `output '${name}'`);
    p.launches.forEach((l, i) => {
      // WGSL has no 64-bit integers: args travel as i32 words.
      const big = l.args.find((a) => !Number.isInteger(a) || a > 2147483647 || a < -2147483648);
      if (big !== undefined) throw new DeviceLimitError(`launch ${i} (${p.kernels[l.kernel].name}) has argument ${big}, which does not fit the 32-bit integers WGSL kernels take`);
    });
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    // A scope per buffer, so an out-of-memory error names the buffer that failed.
    const bufferOoms: Promise<GPUError | null>[] = [];
    for (const b of p.buffers) {
      device.pushErrorScope('out-of-memory');
      try {
        this.buffers.set(b.id, device.createBuffer({
          label: bufferLabel(b), size: deviceBytes(b.dtype, b.bytes), usage: USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC,
        }));
      } finally {
        bufferOoms.push(device.popErrorScope());
      }
    }
    // One uniform buffer holds every launch's [grid, ...args, ...pack offsets], each at its own aligned slot.
    const align = limits.minUniformBufferOffsetAlignment;
    const argWords = p.launches.map((l, i) => [l.grid, ...l.args, ...(plans[i]?.offsets ?? [])]);
    const slots = argWords.map((w) => Math.ceil((w.length * 4) / 16) * 16);
    const offsets: number[] = [];
    let total = 0;
    for (const s of slots) { offsets.push(total); total = Math.ceil((total + s) / align) * align; }
    const words = new Int32Array(Math.max(4, total / 4));
    argWords.forEach((w, i) => words.set(w, offsets[i] / 4));
    this.argsBuffer = device.createBuffer({ label: 'launch args', size: words.byteLength, usage: USAGE.UNIFORM | USAGE.COPY_DST });
    device.queue.writeBuffer(this.argsBuffer, 0, words);
    p.launches.forEach((l, i) => {
      const kernel = pipelines[i];
      const plan = plans[i];
      const packed = new Set(plan?.packed ?? []);
      const entries: GPUBindGroupEntry[] = [];
      const copies: Copy[] = [];
      l.buffers.forEach((id, j) => { if (!packed.has(j)) entries.push({ binding: entries.length, resource: { buffer: this.buffers.get(id)! } }); });
      if (plan) {
        const pack = device.createBuffer({ label: `pack of launch ${i}`, size: Math.max(4, plan.bytes), usage: USAGE.STORAGE | USAGE.COPY_DST });
        this.packs.push(pack);
        plan.packed.forEach((j, slot) => copies.push({ from: this.buffers.get(l.buffers[j])!, to: pack, offset: 4 * plan.offsets[slot], size: plan.sizes[slot] }));
        entries.push({ binding: entries.length, resource: { buffer: pack } });
      }
      entries.push({ binding: entries.length, resource: { buffer: this.argsBuffer!, offset: offsets[i], size: slots[i] } });
      const bytes = l.buffers.reduce((s, id) => s + (p.buffers.find((b) => b.id === id)?.bytes ?? 0), 0);
      this.steps.push({
        name: p.kernels[l.kernel].name, grid: l.grid, kernel, copies,
        bindGroup: device.createBindGroup({ label: p.kernels[l.kernel].name, layout: kernel.layout, entries }),
        dispatch: splitGrid(l.grid, limits.maxComputeWorkgroupsPerDimension), bytes,
      });
    });
    let stagingSize = 0;
    for (const [name, id] of Object.entries(p.outputs)) {
      const b = this.declared(id, `output '${name}'`);
      this.stagingOffsets.set(name, stagingSize);
      stagingSize += Math.ceil(deviceBytes(b.dtype, b.bytes) / 256) * 256;
    }
    this.staging = device.createBuffer({ label: 'readback', size: Math.max(4, stagingSize), usage: USAGE.MAP_READ | USAGE.COPY_DST });
    if ((this.opts.debug >= 2 || this.opts.timing) && this.dev.features.has('timestamp-query') && p.launches.length > 0) {
      const count = 2 * p.launches.length;
      this.timing = {
        set: device.createQuerySet({ type: 'timestamp', count }),
        resolve: device.createBuffer({ size: count * 8, usage: USAGE.QUERY_RESOLVE | USAGE.COPY_SRC }),
        read: device.createBuffer({ size: count * 8, usage: USAGE.MAP_READ | USAGE.COPY_DST }),
      };
    }
    const invalid = await guarded(device.popErrorScope(), 'allocating buffers', this.opts.timeoutMs, this.dev.lost);
    const oom = await guarded(device.popErrorScope(), 'allocating buffers', this.opts.timeoutMs, this.dev.lost);
    const perBuffer = await guarded(Promise.all(bufferOoms), 'allocating buffers', this.opts.timeoutMs, this.dev.lost);
    const failed = perBuffer.findIndex((e) => e !== null);
    if (failed >= 0) {
      const b = p.buffers[failed];
      const bytes = deviceBytes(b.dtype, b.bytes);
      throw new DeviceLimitError(`out of GPU memory allocating ${describeBuffer(b)}: ${formatBytes(bytes)} (${bytes} bytes); ${needs}; use a smaller batch or image size (${perBuffer[failed]!.message})`);
    }
    if (oom) throw new DeviceLimitError(`out of GPU memory allocating the program's buffers; ${needs}: ${oom.message}`);
    if (invalid) throw new WebGpuError(`WebGPU rejected the program's buffers or bindings: ${invalid.message}`);
    const compiled = cache.compiles - compiledBefore;
    this.stats = { compiled, cached: p.kernels.length - compiled, kernels: p.kernels.length, seconds: (performance.now() - t0) / 1000 };
    if (this.opts.debug >= 1) {
      this.opts.log(`[webgpu] loaded ${p.kernels.length} kernels (${compiled} compiled, ${this.stats.cached} cached) in ${this.stats.seconds.toFixed(2)} s, ${p.launches.length} launches, ${p.buffers.length} buffers on ${this.dev.description}`);
    }
  }

  private declared(id: number, what: string): ProgramBuffer {
    const b = this.program.buffers.find((x) => x.id === id);
    if (!b) throw new WebGpuError(`${what} is buffer #${id}, which the program does not declare`);
    return b;
  }

  /** Checks every tensor first and converts it, so a bad input throws before any GPU work. */
  private staged(kind: 'input' | 'param', names: Record<string, number>, values: Map<string, Tensor> | Record<string, Tensor>, all: boolean): [GPUBuffer, Uint8Array<ArrayBuffer>][] {
    const get = (n: string): Tensor | undefined => (values instanceof Map ? values.get(n) : values[n]);
    for (const name of values instanceof Map ? values.keys() : Object.keys(values)) {
      if (!Object.hasOwn(names, name)) throw new WebGpuError(`unknown ${kind} '${name}'; the program's ${kind}s are: ${Object.keys(names).join(', ') || '(none)'}`);
    }
    const out: [GPUBuffer, Uint8Array<ArrayBuffer>][] = [];
    for (const [name, id] of Object.entries(names)) {
      const t = get(name);
      if (!t) { if (all) throw new WebGpuError(`missing ${kind} '${name}'`); continue; }
      const b = this.declared(id, `${kind} '${name}'`);
      if (t.dtype !== b.dtype) throw new WebGpuError(`${kind} '${name}': expected ${b.dtype}, got ${t.dtype}`);
      out.push([this.buffers.get(id)!, tensorBytes(t, b.dtype, b.bytes, `${kind} '${name}'`)]);
    }
    return out;
  }

  private write(staged: [GPUBuffer, Uint8Array<ArrayBuffer>][]): void {
    for (const [buffer, bytes] of staged) this.dev.device.queue.writeBuffer(buffer, 0, bytes);
  }

  async setParams(params: Map<string, Tensor> | Record<string, Tensor>): Promise<void> {
    this.fail();
    this.write(this.staged('param', this.program.params, params, false));
  }

  /** Reads a resident parameter back through its own staging buffer. */
  async getParam(name: string): Promise<Tensor> {
    this.fail();
    const id = this.program.params[name];
    if (id === undefined) throw new WebGpuError(`unknown param '${name}'; the program's params are: ${Object.keys(this.program.params).join(', ') || '(none)'}`);
    const b = this.declared(id, `param '${name}'`);
    const size = deviceBytes(b.dtype, b.bytes);
    const { device } = this.dev;
    const read = device.createBuffer({ label: `read ${name}`, size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    try {
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(this.buffers.get(id)!, 0, read, 0, size);
      device.queue.submit([enc.finish()]);
      await guarded(read.mapAsync(MAP_READ), `reading param '${name}'`, this.opts.timeoutMs, this.dev.lost);
      return bytesTensor(read.getMappedRange(), 0, b.dtype, b.bytes, b.shape);
    } finally {
      read.destroy();
    }
  }

  lastTimes(): readonly LaunchTime[] { return this.times; }

  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    // Runs share the staging buffer: one at a time.
    const next = this.queue.then(() => this.runNow(inputs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.fail();
    const { device } = this.dev;
    const p = this.program;
    const staged = this.staged('input', p.inputs, inputs, true);
    device.pushErrorScope('validation');
    this.write(staged);
    const enc = device.createCommandEncoder({ label: 'run' });
    if (this.timing) {
      // One pass per launch so each has its own begin/end timestamps.
      this.steps.forEach((s, i) => {
        for (const c of s.copies) enc.copyBufferToBuffer(c.from, 0, c.to, c.offset, c.size);
        const pass = enc.beginComputePass({ timestampWrites: { querySet: this.timing!.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        this.encodeStep(pass, s);
        pass.end();
      });
      enc.resolveQuerySet(this.timing.set, 0, 2 * this.steps.length, this.timing.resolve, 0);
      enc.copyBufferToBuffer(this.timing.resolve, 0, this.timing.read, 0, 16 * this.steps.length);
    } else if (this.steps.length > 0) {
      // One pass, broken only where a launch needs its pack copied first.
      let pass = enc.beginComputePass();
      for (const s of this.steps) {
        if (s.copies.length) {
          pass.end();
          for (const c of s.copies) enc.copyBufferToBuffer(c.from, 0, c.to, c.offset, c.size);
          pass = enc.beginComputePass();
        }
        this.encodeStep(pass, s);
      }
      pass.end();
    }
    for (const [name, id] of Object.entries(p.outputs)) {
      const b = this.declared(id, name);
      enc.copyBufferToBuffer(this.buffers.get(id)!, 0, this.staging!, this.stagingOffsets.get(name)!, deviceBytes(b.dtype, b.bytes));
    }
    device.queue.submit([enc.finish()]);
    const invalid = await guarded(device.popErrorScope(), 'submitting a run', this.opts.timeoutMs, this.dev.lost);
    if (invalid) throw new WebGpuError(`WebGPU rejected the run: ${invalid.message}`);
    await guarded(this.staging!.mapAsync(MAP_READ), 'reading back the outputs', this.opts.timeoutMs, this.dev.lost);
    const out: Record<string, Tensor> = {};
    try {
      const range = this.staging!.getMappedRange();
      for (const [name, id] of Object.entries(p.outputs)) {
        const b = this.declared(id, name);
        out[name] = bytesTensor(range, this.stagingOffsets.get(name)!, b.dtype, b.bytes, b.shape);
      }
    } finally {
      this.staging!.unmap();
    }
    if (this.timing) await this.reportTimes();
    return out;
  }

  private encodeStep(pass: GPUComputePassEncoder, s: Step): void {
    pass.setPipeline(s.kernel.pipeline);
    pass.setBindGroup(0, s.bindGroup);
    pass.dispatchWorkgroups(s.dispatch[0], s.dispatch[1]);
  }

  private async reportTimes(): Promise<void> {
    const read = this.timing!.read;
    await guarded(read.mapAsync(MAP_READ), 'reading timestamps', this.opts.timeoutMs, this.dev.lost);
    const t = new BigInt64Array(read.getMappedRange().slice(0));
    read.unmap();
    this.times = this.steps.map((s, i) => ({ kernel: s.name, grid: s.grid, seconds: Number(t[2 * i + 1] - t[2 * i]) / 1e9 }));
    if (this.opts.debug < 2) return;
    this.steps.forEach((s, i) => {
      const ms = this.times[i].seconds * 1e3;
      const gbs = ms > 0 ? (s.bytes / 1e9) / (ms / 1e3) : 0;
      this.opts.log(`[webgpu] launch ${i} ${s.name} grid ${s.dispatch.join('×')}: ${ms.toFixed(3)} ms, ${gbs.toFixed(2)} GB/s`);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.buffers.values()) b.destroy();
    for (const b of this.packs) b.destroy();
    this.argsBuffer?.destroy();
    this.staging?.destroy();
    if (this.timing) { this.timing.set.destroy(); this.timing.resolve.destroy(); this.timing.read.destroy(); }
  }
}
