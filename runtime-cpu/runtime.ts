// The CPU runtime: the C rendering of a program, compiled by the system C
// compiler (cached on disk), run on the native thread pool. The default where
// no GPU is found.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Program } from '../compiler/program.js';
import { renderC } from '../compiler/render/c.js';
import { cpuIsaProfile, cpuTarget, type Target } from '../compiler/target.js';
import { cpuIsaFromEnv } from './isa.js';
import type { Executable, Runtime } from '../runtime/interface.js';
import { cacheDir } from './build.js';
import { checkMemory } from '../runtime/host.js';
import { cpuMemoryLimit } from './executable.js';
import { loadUnits, nativeOrThrow } from './load.js';
import { type CpuOptions, cpuOptionsFromEnv } from './options.js';
import { writeFileAtomicSync } from '../io/files.js';
import { RenderC, splitUnits } from './units.js';

/** FUSEDET_DEBUG=4: the rendering on disk (a file, not 100 KiB on stderr), named by its hash. */
function writeSource(source: string, opts: CpuOptions): string {
  const path = join(cacheDir(opts.cache), 'sources', `${createHash('sha256').update(source).digest('hex').slice(0, 16)}.c`);
  // A debugging aid, rebuilt on demand: atomic (a reader never sees half a file), not fsynced.
  writeFileAtomicSync(path, source, { what: 'kernel source', durable: false });
  return path;
}

export class CpuRuntime implements Runtime {
  readonly name = 'cpu' as const;
  /** Shaped for this machine's vector instruction set (runtime-cpu/isa.ts; FUSEDET_CPU_ISA forces one). */
  readonly target: Target = cpuTarget(cpuIsaProfile(cpuIsaFromEnv(process.env)));
  /** `opts`: read from the environment here, once (a bad FUSEDET_CPU_MEMORY_LIMIT is refused now). */
  constructor(private readonly render: RenderC = renderC, private readonly opts: CpuOptions = cpuOptionsFromEnv()) {}

  async load(program: Program): Promise<Executable> {
    nativeOrThrow();
    // Before rendering and compiling: a program that cannot fit is refused in
    // milliseconds, not after a C compile of all its kernels.
    checkMemory(program, cpuMemoryLimit(this.opts));
    const whole = this.render(program);
    if (this.opts.debug >= 4) process.stderr.write(`[fusedet] cpu: rendered C of ${program.kernels.length} kernels in ${writeSource(whole, this.opts)}\n`);
    return loadUnits(program, { key: whole, units: () => splitUnits(program, this.render, availableParallelism(), whole) }, this.opts);
  }
}
