// The host side of every runtime, written once (tinygrad's Allocator +
// Program split): finding a program's buffers by name, checking the tensors
// given for them, the executable's lifetime, memory limits before anything is
// allocated, and per-launch timing rows. A runtime supplies only a Device:
// allocate, upload, launch, download, free. No Node imports: the browser's
// WebGPU runtime uses it too.
import type { Program } from '../compiler/program.js';
import type { Tensor, TensorData } from '../compiler/tensor.js';
import { bytesOf } from '../compiler/types.js';
import type { Executable, LaunchTime, LoadStats, RuntimeName } from './interface.js';
import { InputMismatch, RuntimeError, describeBuffer, formatBytes, programNeeds } from './errors.js';

/**
 * The compiler's Program with a kernel's IR left open: a runtime needs only
 * the kernels' names (its own loader reads the IR), so hand-written test
 * programs (WGSL in `ir`) load the same way compiled ones do.
 */
export type HostProgram = Omit<Program, 'kernels'> & { kernels: (Omit<Program['kernels'][number], 'ir'> & { ir: unknown })[] };
export type ProgramBuffer = Program['buffers'][number];

/** A planned buffer and the device memory that holds it. */
export interface Slot<B> { readonly buffer: ProgramBuffer; readonly memory: B }
/** A checked host tensor for a slot. */
export interface Transfer<B> extends Slot<B> { readonly name: string; readonly tensor: Tensor }

export interface LaunchRequest<B> {
  /** Every buffer's memory, in program order (as allocate returned it). */
  readonly memory: readonly B[];
  /** Inputs to write before the first launch. */
  readonly inputs: readonly Transfer<B>[];
  /** Outputs to read back after the last launch, in the program's order. */
  readonly outputs: readonly Slot<B>[];
  /** Time each launch (lastTimes, FUSEDET_DEBUG=2). */
  readonly timing: boolean;
  /**
   * Launches before this one (Program.prologue) computed derived buffers that are still current:
   * the device may skip them (a skipped launch times 0 s). Running them anyway is correct too.
   */
  readonly firstLaunch: number;
}

export interface LaunchResult {
  /** Fresh host arrays the caller will own, one per requested output. */
  readonly outputs: readonly TensorData[];
  /** Seconds per launch, in program order, when timing was asked and the device could. */
  readonly seconds?: ArrayLike<number>;
}

/** What a runtime implements for one loaded program. */
export interface Device<B> {
  readonly runtime: RuntimeName;
  /** For messages: 'CPU', 'CUDA', 'WebGPU'. */
  readonly label: string;
  /**
   * Host arrays are read in place (CPU, CUDA), so they must hold the dtype's
   * element width; a converting upload (WebGPU) takes any numeric array.
   */
  readonly inPlace: boolean;
  /** Memory for every planned buffer, in program order; throws a runtime error naming the buffer that failed. */
  allocate(buffers: readonly ProgramBuffer[]): B[];
  /** Writes checked tensors (setParams). */
  upload(writes: readonly Transfer<B>[]): void | Promise<void>;
  /** Writes the inputs, runs every launch in order, reads the outputs back. */
  launch(request: LaunchRequest<B>): Promise<LaunchResult>;
  /** A buffer's current contents (getParam). */
  download(slot: Slot<B>): TensorData | Promise<TensorData>;
  /** Releases everything allocate gave (and the compiled code). */
  free(memory: readonly B[]): void;
  /** Throws when the device can no longer serve this program (a lost device, a reset context). */
  check?(): void;
}

/** What the device may hold, checked against the plan before anything is allocated. */
export interface MemoryLimit {
  /** Bytes one buffer may take on the device. */
  readonly perBuffer?: number;
  /** Bytes all resident buffers together may take. */
  readonly total?: number;
  /** Device bytes of a buffer when they differ from the plan's (WebGPU widens bool). */
  readonly bytesOf?: (b: ProgramBuffer) => number;
  /** Buffers that take device memory (the CPU binds inputs to the caller's arrays instead). */
  readonly resident?: (b: ProgramBuffer) => boolean;
  /**
   * The error for one buffer (`buffer` set) or the whole set over the limit:
   * `what` names it, `needs` states the program's total.
   */
  readonly refuse: (over: { bytes: number; limit: number; what: string; needs: string; buffer?: ProgramBuffer }) => Error;
}

/** Refuses a plan that cannot fit, naming the buffer that does not (or the first that takes the total over). */
export function checkMemory(program: HostProgram, limit: MemoryLimit): void {
  const needs = programNeeds(program);
  const size = limit.bytesOf ?? ((b: ProgramBuffer) => b.bytes);
  let total = 0;
  let first: ProgramBuffer | undefined;
  for (const b of program.buffers) {
    const bytes = size(b);
    if (limit.perBuffer !== undefined && bytes > limit.perBuffer) throw limit.refuse({ bytes, limit: limit.perBuffer, what: describeBuffer(b), needs, buffer: b });
    if (limit.resident && !limit.resident(b)) continue;
    total += bytes;
    if (limit.total !== undefined && total > limit.total) first ??= b;
  }
  if (first && limit.total !== undefined) {
    throw limit.refuse({ bytes: total, limit: limit.total, what: `the program's ${program.buffers.length} buffers`, needs: `the first over the limit is ${describeBuffer(first)} (${formatBytes(size(first))}); ${needs}` });
  }
}

export interface HostOptions {
  /** Per-launch times (FUSEDET_DEBUG=2 or a benchmark); a function when it may change between runs. */
  readonly timing: boolean | (() => boolean);
  /** Prints a launch's time row; absent: rows are kept (lastTimes) but not printed. */
  readonly log?: (line: string) => void;
}

/** A host tensor must have the buffer's dtype and element count (and, read in place, its element width). */
export function checkTensor(device: Pick<Device<unknown>, 'label' | 'inPlace'>, kind: string, name: string, b: ProgramBuffer, t: Tensor): void {
  const width = bytesOf(b.dtype);
  if (t.dtype !== b.dtype) throw new InputMismatch(`${kind} '${name}' is ${t.dtype}, the program expects ${b.dtype}`);
  if (device.inPlace && t.data.BYTES_PER_ELEMENT !== width) {
    throw new InputMismatch(`${kind} '${name}' is held in a ${t.data.constructor.name}; the ${device.label} runtime reads ${b.dtype} as ${width}-byte elements (convert it, e.g. Float32Array.from(data))`);
  }
  if (t.data.length * width !== b.bytes) {
    throw new InputMismatch(`${kind} '${name}' has ${t.data.length} elements (${formatBytes(t.data.byteLength)}, shape [${t.shape.join(', ')}]), the program expects ${b.bytes / width}`);
  }
}

/** The logical shape of a buffer when the program states one (optional in the contract), else flat. */
export function shapeOf(b: ProgramBuffer): number[] {
  const n = b.bytes / bytesOf(b.dtype);
  const s = (b as { shape?: readonly number[] }).shape;
  return s && s.reduce((p, d) => p * d, 1) === n ? [...s] : [n];
}

type Kind = 'input' | 'param' | 'output';

/** One loaded program: the Executable every runtime returns. */
export class HostExecutable<B> implements Executable {
  readonly runtime: RuntimeName;
  private memory: B[] = [];
  private readonly slotOf = new Map<number, number>();
  private times: LaunchTime[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  /** The prologue's derived buffers hold what the current params give (Program.prologue). */
  private derivedCurrent = false;

  /** Allocates every buffer; `limit` is checked first, so a plan that cannot fit allocates nothing. */
  constructor(protected readonly program: HostProgram, protected readonly device: Device<B>, public stats: LoadStats,
    private readonly opts: HostOptions, limit?: MemoryLimit) {
    this.runtime = device.runtime;
    program.buffers.forEach((b, i) => {
      if (this.slotOf.has(b.id)) throw new RuntimeError(`the program declares buffer ${b.id} twice`);
      this.slotOf.set(b.id, i);
    });
    for (const [i, l] of program.launches.entries()) {
      if (!program.kernels[l.kernel]) throw new RuntimeError(`launch ${i} names kernel ${l.kernel}, but the program has ${program.kernels.length}`);
      const bad = l.buffers.find((id) => !this.slotOf.has(id));
      if (bad !== undefined) throw new RuntimeError(`launch ${i} (${program.kernels[l.kernel].name}) binds buffer #${bad}, which the program does not declare`);
    }
    for (const kind of ['input', 'param', 'output'] as const) {
      for (const [name, id] of Object.entries(this.table(kind))) {
        if (!this.slotOf.has(id)) throw new RuntimeError(`${kind} '${name}' is buffer #${id}, which the program does not declare`);
      }
    }
    if (limit) checkMemory(program, limit);
    this.memory = device.allocate(program.buffers);
  }

  private table(kind: Kind): Record<string, number> {
    return kind === 'input' ? this.program.inputs : kind === 'param' ? this.program.params : this.program.outputs;
  }

  /** A named buffer and its memory; an unknown name lists the names there are. */
  protected slot(kind: Kind, name: string): Slot<B> {
    const table = this.table(kind);
    const id = Object.hasOwn(table, name) ? table[name] : undefined;
    if (id === undefined) throw new InputMismatch(`the program has no ${kind} named '${name}'; its ${kind}s: ${Object.keys(table).join(', ') || '(none)'}`);
    const i = this.slotOf.get(id)!;
    return { buffer: this.program.buffers[i], memory: this.memory[i] };
  }

  /** The memory of a buffer by id (a runtime's launch list refers to ids). */
  memoryOf(id: number): B { return this.memory[this.slotOf.get(id)!]; }
  /** The slot index of a buffer id: its position in program.buffers and in allocate's result. */
  slotIndex(id: number): number { return this.slotOf.get(id)!; }

  /** Every tensor checked before any is written: a bad one leaves the device untouched. */
  private transfers(kind: 'input' | 'param', values: Map<string, Tensor> | Record<string, Tensor>): Transfer<B>[] {
    const entries = values instanceof Map ? [...values] : Object.entries(values);
    const out = entries.map(([name, tensor]) => {
      const s = this.slot(kind, name);
      checkTensor(this.device, kind === 'param' ? 'parameter' : kind, name, s.buffer, tensor);
      return { ...s, name, tensor };
    });
    if (kind === 'input') {
      for (const name of Object.keys(this.program.inputs)) {
        if (out.some((t) => t.name === name)) continue;
        const b = this.slot('input', name).buffer;
        throw new InputMismatch(`input '${name}' is missing (${b.dtype}, ${b.bytes / bytesOf(b.dtype)} elements)`);
      }
      // In the program's order, whatever order the caller gave them in.
      out.sort((a, b) => this.slotIndex(a.buffer.id) - this.slotIndex(b.buffer.id));
    }
    return out;
  }

  private alive(): void {
    this.device.check?.();
    if (this.disposed) throw new RuntimeError(`this ${this.device.label} executable was disposed: load the program again`);
  }

  async setParams(params: Map<string, Tensor> | Record<string, Tensor>): Promise<void> {
    this.alive();
    // Before the upload: a failed upload may have written some params.
    this.derivedCurrent = false;
    await this.device.upload(this.transfers('param', params));
  }

  async getParam(name: string): Promise<Tensor> {
    this.alive();
    const s = this.slot('param', name);
    return { dtype: s.buffer.dtype, shape: shapeOf(s.buffer), data: await this.device.download(s) };
  }

  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    // One run at a time: a device may reuse staging memory between runs.
    const next = this.queue.then(() => this.runNow(inputs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.alive();
    const transfers = this.transfers('input', inputs);
    const names = Object.keys(this.program.outputs);
    const outputs = names.map((name) => this.slot('output', name));
    const timing = typeof this.opts.timing === 'function' ? this.opts.timing() : this.opts.timing;
    const firstLaunch = this.derivedCurrent ? this.program.prologue ?? 0 : 0;
    const result = await this.device.launch({ memory: this.memory, inputs: transfers, outputs, timing, firstLaunch });
    // The prologue ran on the params as they are (a program updating them in place has none).
    this.derivedCurrent = true;
    this.times = timing && result.seconds ? this.program.launches.map((l, i) => this.row(i, l, result.seconds![i])) : [];
    const out: Record<string, Tensor> = {};
    names.forEach((name, i) => { out[name] = { dtype: outputs[i].buffer.dtype, shape: shapeOf(outputs[i].buffer), data: result.outputs[i] }; });
    return out;
  }

  /** One launch's timing row, printed with its rates when the compiler reported its traffic and work. */
  private row(i: number, l: HostProgram['launches'][number], seconds: number): LaunchTime {
    const k = this.program.kernels[l.kernel];
    const time = { kernel: k.name, grid: l.grid, seconds };
    if (this.opts.log) {
      const r = this.program.report?.launches[i];
      const bytes = r ? r.bytesRead + r.bytesWritten : l.buffers.reduce((s, id) => s + this.program.buffers[this.slotIndex(id)].bytes, 0);
      const rate = (n: number): string => (seconds > 0 ? (n / seconds / 1e9).toFixed(2) : '0.00');
      this.opts.log(`launch ${i} ${k.name} grid ${l.grid}: ${(seconds * 1e3).toFixed(3)} ms, ${rate(bytes)} GB/s${r ? `, ${rate(r.flops)} GFLOP/s` : ''}`);
    }
    return time;
  }

  lastTimes(): readonly LaunchTime[] { return this.times; }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const memory = this.memory;
    this.memory = [];
    this.device.free(memory);
  }

  /** Marks the executable unusable without freeing (its memory died with the device's context). */
  protected lost(): void { this.disposed = true; }
  protected get isDisposed(): boolean { return this.disposed; }
}
