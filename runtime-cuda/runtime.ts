// The CUDA runtime: the program's CUDA rendering (one .cu) compiled to a
// cubin for the open GPU (NVRTC, else nvcc; cached on disk), loaded as one
// module, run on one stream.
import { hasMma } from '../compiler/kernel/ir.js';
import type { Program } from '../compiler/program.js';
import { renderCuda } from '../compiler/render/cuda.js';
import { type CudaMath, type Target, cudaTarget } from '../compiler/target.js';
import type { Executable, Runtime } from '../runtime/interface.js';
import { type CacheRootOptions, cacheRootFromEnv, noteRebuilt } from '../runtime/cache.js';
import { debugLog } from '../runtime-cpu/debug.js';
import { deviceAllocator } from './allocator.js';
import { type CompiledModule, compileCached, forgetCached } from './compile.js';
import { type CudaDevice, openCuda } from './device.js';
import { CudaRunError, CudaUnavailable } from './errors.js';
import { CudaExecutable } from './executable.js';
import type { CudaModule } from './native.js';

export type RenderCuda = (program: Program) => string;

function tryLoad(dev: CudaDevice, program: Program, built: CompiledModule): CudaModule | Error {
  const generation = dev.native.generation();
  try {
    return dev.native.loadModule(built.image, program.kernels.map((k) => k.name));
  } catch (e) {
    // A context reset is no reason to blame the file.
    if (dev.native.generation() !== generation) throw new CudaRunError(`loading the compiled kernels on ${dev.info.name}: ${(e as Error).message}`);
    return e as Error;
  }
}

export class CudaRuntime implements Runtime {
  readonly name = 'cuda' as const;
  /** `open` is the device to run on (tests pass a stand-in for the addon). */
  /** `math`: the GEMM arithmetic (runtime selection reads FUSEDET_CUDA_MATH into it; default tf32). */
  /** `cache`: where cubins are kept, read from the environment once, here. */
  private readonly cache: CacheRootOptions;
  constructor(private readonly render: RenderCuda = renderCuda, private readonly open: () => CudaDevice = openCuda, private readonly opts: { math?: CudaMath; cache?: CacheRootOptions } = {}) {
    this.cache = opts.cache ?? cacheRootFromEnv();
  }

  /** The device's capability (sm_80+ assumed where it cannot open) and the math asked for. */
  get target(): Target { return cudaTarget({ cudaCapability: this.computeCapability, cudaMath: this.opts.math }); }

  /**
   * The GPU's compute capability, major*10 + minor (90 for an H100), so the
   * compiler can choose paths that need a minimum (mma.sync TF32: 80);
   * undefined where CUDA cannot open (load() then says why).
   */
  get computeCapability(): number | undefined {
    try {
      return this.open().info.cc;
    } catch (e) {
      if (e instanceof CudaUnavailable) return undefined;
      throw e;
    }
  }

  async load(program: Program): Promise<Executable> {
    const dev = this.open();
    refuseTensorCoresBelowSm80(program, dev.info.cc, dev.info.name);
    const source = this.render(program);
    let built = await compileCached(source, dev.info.cc, dev.compiler, this.cache);
    let module = tryLoad(dev, program, built);
    if (module instanceof Error && built.cached) {
      // A cache file that matches its digest but that the driver refuses (one
      // from a driver that has since changed) is compiled again rather than
      // reported; a damaged one never gets this far (runtime/cache.ts).
      noteRebuilt(built.path, `the driver refused it: ${module.message}`);
      forgetCached(built.path);
      built = await compileCached(source, dev.info.cc, dev.compiler, this.cache);
      module = tryLoad(dev, program, built);
    }
    if (module instanceof Error) throw new CudaRunError(`loading the compiled kernels on ${dev.info.name}: ${module.message}`);
    debugLog(1, `cuda: ${program.kernels.length} kernels: ${built.cached ? 'cache hit' : `compiled by ${dev.compiler.kind}`} in ${built.seconds.toFixed(2)} s`);
    const kernels = dev.native.kernelInfo(module);
    program.kernels.forEach((k, i) => {
      const { registers, localBytes, maxThreads } = kernels[i];
      debugLog(2, `kernel ${k.name}: ${registers} registers, ${localBytes} B local (spills) per thread, block ${k.workgroupSize} (at most ${maxThreads})`);
      // Refused now, naming the kernel, rather than as LAUNCH_OUT_OF_RESOURCES at its first launch.
      if (k.workgroupSize > maxThreads) {
        throw new CudaRunError(`kernel ${k.name} is scheduled for blocks of ${k.workgroupSize} threads, but with ${registers} registers per thread ` +
          `${dev.info.name} runs at most ${maxThreads}: a compiler schedule problem (its block size must come down for this GPU)`);
      }
    });
    return new CudaExecutable(program, dev.native, module, deviceAllocator(dev.native), {
      compiled: built.cached ? 0 : 1, cached: built.cached ? 1 : 0, kernels: program.kernels.length, seconds: built.seconds,
    });
  }
}

/**
 * A program compiled with tensor-core GEMMs (mma.sync TF32/BF16 needs sm_80)
 * would trap at its first launch on an older GPU: refused here instead,
 * naming the kernel and the way out.
 */
export function refuseTensorCoresBelowSm80(program: Program, cc: number, gpu: string): void {
  if (cc >= 80) return;
  const k = program.kernels.find((kk) => hasMma(kk.ir.body));
  if (!k) return;
  throw new CudaRunError(`kernel ${k.name} uses tensor cores (mma.sync), which need compute capability 8.0 or newer; ${gpu} is ${Math.floor(cc / 10)}.${cc % 10}. ` +
    'Compile the program for this runtime (compileGraph(graph, runtime.target) carries the capability) or set FUSEDET_CUDA_MATH=f32');
}
