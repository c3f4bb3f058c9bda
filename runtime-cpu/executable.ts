// A loaded program on the CPU: its buffers (weights resident across runs) and
// its compiled kernels, run as one native call per run(). Names, checks,
// lifetime, limits and timing rows are runtime/host.ts's; this is the device.
import { freemem } from 'node:os';
import type { Program } from '../compiler/program.js';
import type { DType } from '../compiler/types.js';
import type { TensorData } from '../compiler/tensor.js';
import type { LoadStats } from '../runtime/interface.js';
import { type Device, HostExecutable, type LaunchRequest, type MemoryLimit, type LaunchResult, type ProgramBuffer, type Slot, type Transfer } from '../runtime/host.js';
import { describeBuffer, programNeeds } from '../runtime/errors.js';
import { BufferTooLarge, InputMismatch } from './errors.js';
import type { NativeCpu, NativeLibrary } from './native.js';
import { type CpuOptions, cpuOptionsFromEnv } from './options.js';
import { packLaunches, scheduleLaunches } from './plan.js';

type Memory = ArrayBuffer | null;

function viewOf(dtype: DType, buf: ArrayBuffer): TensorData {
  switch (dtype) {
    case 'f32': return new Float32Array(buf);
    case 'i32': return new Int32Array(buf);
    case 'bool': return new Uint8Array(buf);
    case 'f16': throw new InputMismatch('the CPU runtime does not run f16 buffers yet');
  }
}

/** Host memory and the kernel library: inputs are read in place from the caller's arrays. */
class CpuDevice implements Device<Memory> {
  readonly runtime = 'cpu' as const;
  readonly label = 'CPU';
  readonly inPlace = true;
  private slot = new Map<number, number>();
  private plan: BigInt64Array | undefined;
  /** Barriers only where a launch depends on unfinished work, small launches in serial runs (runtime-cpu/plan.ts). */
  private schedule: Int32Array | undefined;
  /** The same without the prologue's launches (Program.prologue), for runs whose derived buffers are current. */
  private mainPlan: BigInt64Array | undefined;
  private mainSchedule: Int32Array | undefined;
  private perLaunch: BigInt64Array[] | undefined;

  constructor(private readonly program: Program, private readonly native: NativeCpu, private lib: NativeLibrary | null, private readonly limit: number) {}

  allocate(buffers: readonly ProgramBuffer[]): Memory[] {
    buffers.forEach((b, i) => this.slot.set(b.id, i));
    this.plan = packLaunches(this.program.launches, this.slot);
    this.schedule = scheduleLaunches(this.program).entries;
    if (this.program.prologue) {
      const main = this.program.launches.slice(this.program.prologue);
      this.mainPlan = packLaunches(main, this.slot);
      this.mainSchedule = scheduleLaunches({ launches: main, kernels: this.program.kernels }).entries;
    }
    return buffers.map((b) => {
      if (b.role === 'input') return null; // bound to the caller's array at each run
      try {
        return this.native.alloc(b.bytes);
      } catch (e) {
        // RangeError (array buffer allocation failed) or the addon's own: the user sees which buffer, not a stack.
        throw new BufferTooLarge(b.bytes, Math.min(this.limit, freemem()), `${describeBuffer(b)} (${(e as Error).message})`, programNeeds(this.program));
      }
    });
  }

  upload(writes: readonly Transfer<Memory>[]): void {
    for (const w of writes) {
      const d = w.tensor.data;
      new Uint8Array(w.memory!).set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
  }

  async launch(request: LaunchRequest<Memory>): Promise<LaunchResult> {
    // One turn of the event loop first: Node runs the finalizers of collected
    // ArrayBuffers there, which hand the previous runs' dropped outputs back to
    // the addon's free lists (copyOut). A caller awaiting run() in a loop
    // otherwise only ever runs microtasks, and every output lands in fresh
    // memory: max3d's 20.7 MB of outputs, median 53 -> 16 ms per run here.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const bound = this.memory(request);
    let seconds: number[] | undefined;
    if (request.timing) {
      this.perLaunch ??= this.program.launches.map((l) => packLaunches([l], this.slot));
      seconds = this.perLaunch.map((plan, i) => {
        if (i < request.firstLaunch) return 0;
        const t0 = performance.now();
        this.native.runLaunches(this.lib!, plan, bound);
        return (performance.now() - t0) / 1000;
      });
    } else {
      const skip = this.mainPlan !== undefined && request.firstLaunch === this.program.prologue;
      this.native.runLaunches(this.lib!, skip ? this.mainPlan! : this.plan!, bound, skip ? this.mainSchedule : this.schedule);
    }
    // An output may be an input's own array (a graph that returns its input): copied either way, the caller owns it.
    const outputs = request.outputs.map((o) => viewOf(o.buffer.dtype, this.copyOut(bound[this.slot.get(o.buffer.id)!]!, o.buffer.bytes)));
    return { outputs, ...(seconds ? { seconds } : {}) };
  }

  /** The resident memory with this run's inputs bound in place (kernels never write an input). */
  private memory(request: LaunchRequest<Memory>): (ArrayBuffer | ArrayBufferView | null)[] {
    const bound: (ArrayBuffer | ArrayBufferView | null)[] = [...request.memory];
    for (const i of request.inputs) bound[this.slot.get(i.buffer.id)!] = i.tensor.data;
    return bound;
  }

  download(s: Slot<Memory>): TensorData {
    return viewOf(s.buffer.dtype, this.copyOut(s.memory!, s.buffer.bytes));
  }

  /**
   * The caller's copy of a buffer, in memory from the addon's allocator:
   * outputs of one program repeat their sizes every run, and recycled memory
   * is already faulted in (ArrayBuffer.slice's fresh memory costs more than
   * the copy on a virtual machine: native/cpu_addon.cc).
   */
  private copyOut(mem: ArrayBuffer | ArrayBufferView, bytes: number): ArrayBuffer {
    const src = mem instanceof ArrayBuffer ? new Uint8Array(mem, 0, bytes) : new Uint8Array(mem.buffer, mem.byteOffset, bytes);
    const out = this.native.alloc(bytes, false);
    new Uint8Array(out).set(src);
    return out;
  }

  free(): void {
    // The memory and the library are freed when collected; dropping them (HostExecutable drops the memory) makes that possible.
    this.lib = null;
  }
}

/** What the CPU runtime may allocate for one program: inputs are the caller's arrays, the rest counts. */
export function cpuMemoryLimit(opts: Pick<CpuOptions, 'memoryLimit'>): MemoryLimit {
  return {
    total: opts.memoryLimit,
    perBuffer: opts.memoryLimit,
    resident: (b) => b.role !== 'input',
    refuse: (o) => new BufferTooLarge(o.bytes, o.limit, o.what, o.needs),
  };
}

export class CpuExecutable extends HostExecutable<Memory> {
  constructor(program: Program, native: NativeCpu, lib: NativeLibrary | null, stats: LoadStats, opts: CpuOptions = cpuOptionsFromEnv()) {
    const device = new CpuDevice(program, native, lib, opts.memoryLimit);
    super(program, device, stats, {
      timing: opts.debug >= 2,
      ...(opts.debug >= 2 ? { log: (line: string) => process.stderr.write(`[fusedet] ${line}\n`) } : {}),
    }, cpuMemoryLimit(opts)); // checked before anything is allocated: a refused program costs no memory
  }
}
