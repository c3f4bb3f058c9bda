// The CPU runtime: the C rendering of a program, compiled by the system C
// compiler (cached on disk), run on the native thread pool. The default where
// no GPU is found.
import { availableParallelism } from 'node:os';
import type { Program } from '../compiler/program.js';
import { renderC } from '../compiler/render/c.js';
import type { Executable, Runtime } from '../runtime/interface.js';
import { loadUnits, nativeOrThrow } from './load.js';
import { RenderC, splitUnits } from './units.js';

export class CpuRuntime implements Runtime {
  readonly name = 'cpu' as const;
  constructor(private readonly render: RenderC = renderC) {}

  async load(program: Program): Promise<Executable> {
    nativeOrThrow();
    const whole = this.render(program);
    return loadUnits(program, { key: whole, units: () => splitUnits(program, this.render, availableParallelism(), whole) });
  }
}
