// A loaded CUDA program: every buffer on the device (params resident between
// runs), one native call per run that uploads the inputs, queues every launch
// on one stream (or replays them as one CUDA graph, graphs.ts), downloads the
// outputs and waits once. Nothing here depends on what the launches do: a
// training step's update launches write its param buffers in place.
import type { Program } from '../compiler/program.js';
import type { Tensor, TensorData } from '../compiler/tensor.js';
import { bytesOf, type DType } from '../compiler/types.js';
import type { Executable, LaunchTime, LoadStats } from '../runtime/interface.js';
import { debugLevel, debugLog } from '../runtime-cpu/debug.js';
import { InputMismatch } from '../runtime/errors.js';
import { Block, DeviceAllocator, roundSize } from './allocator.js';
import { CudaRunError } from './errors.js';
import { GraphRunner, graphMode } from './graphs.js';
import type { CudaModule, HostCopy, NativeCuda, RunOptions } from './native.js';
import { packCudaLaunches } from './plan.js';

import { checkTensorFits, namedBuffer, shapeOf, type ProgramBuffer } from '../runtime/program-buffers.js';

function hostArray(dtype: DType, bytes: number): TensorData {
  switch (dtype) {
    case 'f32': return new Float32Array(bytes / 4);
    case 'i32': return new Int32Array(bytes / 4);
    case 'bool': return new Uint8Array(bytes);
    case 'f16': throw new InputMismatch('the CUDA runtime does not run f16 buffers yet');
  }
}

/** FUSEDET_CUDA_TIMEOUT (seconds, default 300): how long one run may keep the GPU before it is reported as hung. */
export function runOptions(): RunOptions {
  const s = Number(process.env.FUSEDET_CUDA_TIMEOUT);
  return {
    timeoutMs: (Number.isFinite(s) && s > 0 ? s : 300) * 1000,
    timing: debugLevel() >= 2,
    syncEach: process.env.FUSEDET_CUDA_SYNC === '1',
  };
}

export class CudaExecutable implements Executable {
  readonly runtime = 'cuda' as const;
  private readonly blocks: Block[] = [];
  private readonly slot = new Map<number, number>();
  private readonly byId = new Map<number, ProgramBuffer>();
  private readonly slots: BigInt64Array;
  private readonly plan: BigInt64Array;
  private readonly graphs: GraphRunner;
  private times: LaunchTime[] = [];
  private disposed = false;

  constructor(private readonly program: Program, private readonly native: NativeCuda, module: CudaModule,
    private readonly allocator: DeviceAllocator, readonly stats: LoadStats) {
    program.buffers.forEach((b, i) => { this.slot.set(b.id, i); this.byId.set(b.id, b); });
    const programBytes = program.buffers.reduce((sum, b) => sum + roundSize(b.bytes), 0);
    try {
      for (const b of program.buffers) this.blocks.push(allocator.acquire(b.bytes, `buffer ${b.id}${b.name ? ` (${b.name})` : ''}`, programBytes));
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.slots = BigInt64Array.from(this.blocks.map((b) => b.ptr));
    this.plan = packCudaLaunches(program, program.launches, this.slot);
    this.graphs = new GraphRunner(native, module);
  }

  private buffer(kind: 'input' | 'param' | 'output', name: string): ProgramBuffer {
    return namedBuffer(this.program, this.byId, kind, name);
  }

  private checkTensor(kind: string, name: string, b: ProgramBuffer, t: Tensor): void {
    checkTensorFits('CUDA', kind, name, b, t);
  }


  private ptr(b: ProgramBuffer): bigint { return this.slots[this.slot.get(b.id)!]; }

  async setParams(params: Map<string, Tensor> | Record<string, Tensor>): Promise<void> {
    this.alive();
    const entries = params instanceof Map ? [...params] : Object.entries(params);
    const uploads: HostCopy[] = entries.map(([name, t]) => {
      const b = this.buffer('param', name);
      this.checkTensor('parameter', name, b, t);
      return [this.ptr(b), t.data];
    });
    this.device(() => this.native.copy(uploads, [], runOptions().timeoutMs), 'uploading parameters');
  }

  async getParam(name: string): Promise<Tensor> {
    this.alive();
    const b = this.buffer('param', name);
    const data = hostArray(b.dtype, b.bytes);
    this.device(() => this.native.copy([], [[this.ptr(b), data]], runOptions().timeoutMs), `reading parameter '${name}'`);
    return { dtype: b.dtype, shape: shapeOf(b), data };
  }

  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.alive();
    const uploads: HostCopy[] = [];
    for (const name of Object.keys(this.program.inputs)) {
      const b = this.buffer('input', name);
      const t = inputs[name];
      if (!t) throw new InputMismatch(`input '${name}' is missing (${b.dtype}, ${b.bytes / bytesOf(b.dtype)} elements)`);
      this.checkTensor('input', name, b, t);
      uploads.push([this.ptr(b), t.data]);
    }
    for (const name of Object.keys(inputs)) if (!(name in this.program.inputs)) this.buffer('input', name);
    const out: Record<string, Tensor> = {};
    const downloads: HostCopy[] = Object.keys(this.program.outputs).map((name) => {
      const b = this.buffer('output', name);
      const data = hostArray(b.dtype, b.bytes);
      out[name] = { dtype: b.dtype, shape: shapeOf(b), data };
      return [this.ptr(b), data];
    });
    const options = runOptions(), mode = graphMode();
    const ms = this.device(() => this.graphs.run(this.plan, this.slots, uploads, downloads, options, mode), 'running the program').times;
    this.times = ms ? this.program.launches.map((l, i) => this.timed(i, l, ms[i] / 1000)) : [];
    return out;
  }

  private timed(i: number, l: Program['launches'][number], seconds: number): LaunchTime {
    const time = { kernel: this.program.kernels[l.kernel].name, grid: l.grid, seconds };
    const r = this.program.report?.launches[i];
    const rates = r ? `, ${((r.bytesRead + r.bytesWritten) / seconds / 1e9).toFixed(1)} GB/s, ${(r.flops / seconds / 1e9).toFixed(1)} GFLOP/s` : '';
    debugLog(2, `launch ${i} ${time.kernel} grid ${l.grid} x ${this.program.kernels[l.kernel].workgroupSize}: ${(seconds * 1e3).toFixed(3)} ms${rates}`);
    return time;
  }

  /** Native failures become CudaRunError; a context reset makes this executable unusable (its memory is gone). */
  private device<T>(f: () => T, what: string): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError) throw e;
      const reset = this.blocks.length > 0 && this.blocks[0].generation !== this.native.generation();
      if (reset) this.disposed = true;
      throw new CudaRunError(`CUDA error while ${what}: ${(e as Error).message}`);
    }
  }

  lastTimes(): readonly LaunchTime[] { return this.times; }

  dispose(): void {
    if (this.disposed && this.blocks.length === 0) return;
    this.disposed = true;
    // Before the blocks: the graph's launches point into them.
    this.graphs?.dispose();
    for (const b of this.blocks.splice(0)) this.allocator.release(b);
  }

  private alive(): void {
    // Another executable's fault reset the context: this one's memory is gone too.
    if (this.blocks.length > 0 && this.blocks[0].generation !== this.native.generation()) this.disposed = true;
    if (this.disposed) throw new CudaRunError('this CUDA executable was disposed (or its context was reset after a GPU error): load the program again');
  }
}
