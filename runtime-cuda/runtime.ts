// The CUDA runtime: the program's CUDA rendering (one .cu) compiled to a
// cubin for the open GPU (NVRTC, else nvcc; cached on disk), loaded as one
// module, run on one stream.
import type { Program } from '../compiler/program.js';
import { renderCuda } from '../compiler/render/cuda.js';
import type { Executable, Runtime } from '../runtime/interface.js';
import { debugLog } from '../runtime-cpu/debug.js';
import { deviceAllocator } from './allocator.js';
import { compileCached } from './compile.js';
import { openCuda } from './device.js';
import { CudaRunError } from './errors.js';
import { CudaExecutable } from './executable.js';

export type RenderCuda = (program: Program) => string;

export class CudaRuntime implements Runtime {
  readonly name = 'cuda' as const;
  constructor(private readonly render: RenderCuda = renderCuda) {}

  async load(program: Program): Promise<Executable> {
    const dev = openCuda();
    const source = this.render(program);
    const built = await compileCached(source, dev.info.cc, dev.compiler);
    let module;
    try {
      module = dev.native.loadModule(built.image, program.kernels.map((k) => k.name));
    } catch (e) {
      throw new CudaRunError(`loading the compiled kernels on ${dev.info.name}: ${(e as Error).message}`);
    }
    debugLog(1, `cuda: ${program.kernels.length} kernels: ${built.cached ? 'cache hit' : `compiled by ${dev.compiler.kind}`} in ${built.seconds.toFixed(2)} s`);
    if (Number(process.env.FUSEDET_DEBUG) >= 2) {
      const regs = dev.native.registers(module);
      program.kernels.forEach((k, i) => debugLog(2, `kernel ${k.name}: ${regs[i]} registers, block ${k.workgroupSize}`));
    }
    return new CudaExecutable(program, dev.native, module, deviceAllocator(dev.native), {
      compiled: built.cached ? 0 : 1, cached: built.cached ? 1 : 0, kernels: program.kernels.length, seconds: built.seconds,
    });
  }
}
