// A loaded program on the CPU: its buffers (weights resident across runs) and
// its compiled kernels, run as one native call per run().
import { freemem, totalmem } from 'node:os';
import type { Program } from '../compiler/program.js';
import { bytesOf, type DType } from '../compiler/types.js';
import type { Tensor, TensorData } from '../compiler/tensor.js';
import type { Executable, LaunchTime, LoadStats } from '../runtime/interface.js';
import { debugLevel, debugLog } from './debug.js';
import { BufferTooLarge, InputMismatch, formatBytes } from './errors.js';
import { describeBuffer, programNeeds } from '../runtime/errors.js';
import { NativeCpu, NativeLibrary } from './native.js';
import { packLaunches } from './plan.js';

import { checkTensorFits, namedBuffer, shapeOf, type ProgramBuffer } from '../runtime/program-buffers.js';

/** Bytes the CPU runtime may allocate: FUSEDET_CPU_MEMORY_LIMIT, else physical memory. */
export function memoryLimit(): number {
  const env = Number(process.env.FUSEDET_CPU_MEMORY_LIMIT);
  return Number.isFinite(env) && env > 0 ? env : totalmem();
}

function viewOf(dtype: DType, buf: ArrayBuffer): TensorData {
  switch (dtype) {
    case 'f32': return new Float32Array(buf);
    case 'i32': return new Int32Array(buf);
    case 'bool': return new Uint8Array(buf);
    case 'f16': throw new InputMismatch('the CPU runtime does not run f16 buffers yet');
  }
}

export class CpuExecutable implements Executable {
  readonly runtime = 'cpu' as const;
  private readonly memory: (ArrayBuffer | null)[];
  private readonly slot = new Map<number, number>();
  private readonly byId = new Map<number, ProgramBuffer>();
  private readonly plan: BigInt64Array;
  private readonly launchPlans: BigInt64Array[];
  private times: LaunchTime[] = [];
  private disposed = false;

  constructor(private readonly program: Program, private readonly native: NativeCpu, private lib: NativeLibrary | null, readonly stats: LoadStats) {
    const limit = memoryLimit();
    const needs = programNeeds(program);
    let total = 0;
    let first: ProgramBuffer | undefined; // the buffer that takes the running total over the limit
    for (const b of program.buffers) {
      if (b.role !== 'input') total += b.bytes;
      if (b.bytes > limit) throw new BufferTooLarge(b.bytes, limit, describeBuffer(b), needs);
      if (total > limit) first ??= b;
    }
    if (first) throw new BufferTooLarge(total, limit, `the program's ${program.buffers.length} buffers`, `the first over the limit is ${describeBuffer(first)} (${formatBytes(first.bytes)}); ${needs}`);
    program.buffers.forEach((b, i) => { this.slot.set(b.id, i); this.byId.set(b.id, b); });
    this.memory = program.buffers.map((b) => {
      if (b.role === 'input') return null; // bound to the caller's array at each run
      try {
        return native.alloc(b.bytes);
      } catch (e) {
        // RangeError (array buffer allocation failed) or the addon's own: the user sees which buffer, not a stack.
        throw new BufferTooLarge(b.bytes, Math.min(limit, freemem()), `${describeBuffer(b)} (${(e as Error).message})`, needs);
      }
    });
    this.plan = packLaunches(program.launches, this.slot);
    this.launchPlans = debugLevel() >= 2 ? program.launches.map((l) => packLaunches([l], this.slot)) : [];
  }

  private buffer(kind: 'input' | 'param' | 'output', name: string): ProgramBuffer {
    return namedBuffer(this.program, this.byId, kind, name);
  }

  private checkTensor(kind: string, name: string, b: ProgramBuffer, t: Tensor): void {
    checkTensorFits('CPU', kind, name, b, t);
  }


  async setParams(params: Map<string, Tensor> | Record<string, Tensor>): Promise<void> {
    this.alive();
    const entries = params instanceof Map ? [...params] : Object.entries(params);
    for (const [name, t] of entries) {
      const b = this.buffer('param', name);
      this.checkTensor('parameter', name, b, t);
      new Uint8Array(this.memory[this.slot.get(b.id)!]!).set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
  }

  async getParam(name: string): Promise<Tensor> {
    this.alive();
    const b = this.buffer('param', name);
    return { dtype: b.dtype, shape: shapeOf(b), data: viewOf(b.dtype, this.memory[this.slot.get(b.id)!]!.slice(0)) };
  }

  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.alive();
    const bound: (ArrayBuffer | ArrayBufferView | null)[] = [...this.memory];
    for (const name of Object.keys(this.program.inputs)) {
      const b = this.buffer('input', name);
      const t = inputs[name];
      if (!t) throw new InputMismatch(`input '${name}' is missing (${b.dtype}, ${b.bytes / bytesOf(b.dtype)} elements)`);
      this.checkTensor('input', name, b, t);
      bound[this.slot.get(b.id)!] = t.data; // read in place: kernels never write an input
    }
    for (const name of Object.keys(inputs)) if (!(name in this.program.inputs)) this.buffer('input', name);

    if (this.launchPlans.length > 0) {
      this.times = this.launchPlans.map((plan, i) => {
        const t0 = performance.now();
        this.native.runLaunches(this.lib!, plan, bound);
        const l = this.program.launches[i];
        const time = { kernel: this.program.kernels[l.kernel].name, grid: l.grid, seconds: (performance.now() - t0) / 1000 };
        const r = this.program.report?.launches[i];
        const rates = r ? `, ${((r.bytesRead + r.bytesWritten) / time.seconds / 1e9).toFixed(2)} GB/s, ${(r.flops / time.seconds / 1e9).toFixed(2)} GFLOP/s` : '';
        debugLog(2, `launch ${i} ${time.kernel} grid ${time.grid}: ${(time.seconds * 1e3).toFixed(3)} ms${rates}`);
        return time;
      });
    } else {
      this.native.runLaunches(this.lib!, this.plan, bound);
    }

    const out: Record<string, Tensor> = {};
    for (const name of Object.keys(this.program.outputs)) {
      const b = this.buffer('output', name);
      const mem = bound[this.slot.get(b.id)!];
      const copy = mem instanceof ArrayBuffer ? mem.slice(0) : new Uint8Array((mem as ArrayBufferView).buffer, (mem as ArrayBufferView).byteOffset, b.bytes).slice().buffer;
      out[name] = { dtype: b.dtype, shape: shapeOf(b), data: viewOf(b.dtype, copy) };
    }
    return out;
  }

  lastTimes(): readonly LaunchTime[] { return this.times; }

  dispose(): void {
    // The memory and the library are freed when collected; dropping them here makes that possible.
    this.disposed = true;
    this.memory.fill(null);
    this.lib = null;
  }

  private alive(): void {
    if (this.disposed) throw new Error('this executable was disposed');
  }
}
