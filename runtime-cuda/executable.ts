// A loaded CUDA program: every buffer on the device (params resident between
// runs), one native call per run that uploads the inputs, queues every launch
// on one stream (or replays them as one CUDA graph, graphs.ts), downloads the
// outputs and waits once. Nothing here depends on what the launches do: a
// training step's update launches write its param buffers in place.
import type { Program } from '../compiler/program.js';
import type { TensorData } from '../compiler/tensor.js';
import type { DType } from '../compiler/types.js';
import type { LoadStats } from '../runtime/interface.js';
import { type Device, HostExecutable, type LaunchRequest, type LaunchResult, type ProgramBuffer, type Slot, type Transfer } from '../runtime/host.js';
import { debugLevel, debugLog } from '../runtime-cpu/debug.js';
import { InputMismatch } from '../runtime/errors.js';
import { Block, DeviceAllocator, roundSize } from './allocator.js';
import { CudaRunError } from './errors.js';
import { GraphRunner, graphMode } from './graphs.js';
import type { CudaModule, HostCopy, NativeCuda, RunOptions } from './native.js';
import { packCudaLaunches } from './plan.js';

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

/** Device memory, one stream, the launch list as one native call (or one CUDA graph). */
class CudaDevice implements Device<Block> {
  readonly runtime = 'cuda' as const;
  readonly label = 'CUDA';
  readonly inPlace = true;
  private blocks: Block[] = [];
  private slots: BigInt64Array = new BigInt64Array(0);
  private plan: BigInt64Array = new BigInt64Array(0);
  private readonly graphs: GraphRunner;
  private freed = false;

  constructor(private readonly program: Program, private readonly native: NativeCuda, module: CudaModule, private readonly allocator: DeviceAllocator) {
    this.graphs = new GraphRunner(native, module);
  }

  allocate(buffers: readonly ProgramBuffer[]): Block[] {
    const programBytes = buffers.reduce((sum, b) => sum + roundSize(b.bytes), 0);
    try {
      for (const b of buffers) this.blocks.push(this.allocator.acquire(b.bytes, `buffer ${b.id}${b.name ? ` (${b.name})` : ''}`, programBytes));
    } catch (e) {
      this.free();
      throw e;
    }
    this.slots = BigInt64Array.from(this.blocks.map((b) => b.ptr));
    this.plan = packCudaLaunches(this.program, this.program.launches, new Map(buffers.map((b, i) => [b.id, i])));
    return this.blocks;
  }

  upload(writes: readonly Transfer<Block>[]): void {
    const uploads: HostCopy[] = writes.map((w) => [w.memory.ptr, w.tensor.data]);
    this.device(() => this.native.copy(uploads, [], runOptions().timeoutMs), 'uploading parameters');
  }

  async launch(request: LaunchRequest<Block>): Promise<LaunchResult> {
    const uploads: HostCopy[] = request.inputs.map((i) => [i.memory.ptr, i.tensor.data]);
    const outputs = request.outputs.map((o) => hostArray(o.buffer.dtype, o.buffer.bytes));
    const downloads: HostCopy[] = request.outputs.map((o, i) => [o.memory.ptr, outputs[i]]);
    const options = { ...runOptions(), timing: request.timing }, mode = graphMode();
    const ms = this.device(() => this.graphs.run(this.plan, this.slots, uploads, downloads, options, mode), 'running the program').times;
    return { outputs, ...(ms ? { seconds: Array.from(ms, (t) => t / 1000) } : {}) };
  }

  download(s: Slot<Block>): TensorData {
    const data = hostArray(s.buffer.dtype, s.buffer.bytes);
    this.device(() => this.native.copy([], [[s.memory.ptr, data]], runOptions().timeoutMs), `reading parameter '${s.buffer.name ?? s.buffer.id}'`);
    return data;
  }

  /** Native failures become CudaRunError (a context reset then makes check() refuse: the memory is gone). */
  private device<T>(f: () => T, what: string): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError) throw e;
      throw new CudaRunError(`CUDA error while ${what}: ${(e as Error).message}`);
    }
  }

  /** Another executable's fault may have reset the context: this one's memory is gone too. */
  check(): void {
    const reset = this.blocks.length > 0 && this.blocks[0].generation !== this.native.generation();
    if (reset || this.freed) throw new CudaRunError('this CUDA executable was disposed (or its context was reset after a GPU error): load the program again');
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    // Before the blocks: the graph's launches point into them.
    this.graphs.dispose();
    for (const b of this.blocks.splice(0)) this.allocator.release(b);
  }
}

/**
 * A loaded CUDA program. FUSEDET_DEBUG=2 (read at each run, like
 * FUSEDET_CUDA_TIMEOUT and FUSEDET_CUDA_GRAPHS) times every launch.
 */
export class CudaExecutable extends HostExecutable<Block> {
  constructor(program: Program, native: NativeCuda, module: CudaModule, allocator: DeviceAllocator, stats: LoadStats) {
    super(program, new CudaDevice(program, native, module, allocator), stats, { timing: () => runOptions().timing, log: (line) => debugLog(2, line) });
  }
}
