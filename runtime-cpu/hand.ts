// Programs around hand-written C kernels (benchmarks, tests, kernels the
// scheduler cannot express yet): the kernel entry carries the buffer
// signature and an empty body, since the runtime only needs names.
import type { Program } from '../compiler/program.js';
import type { KBuf } from '../compiler/kernel/ir.js';

export function handKernel(name: string, bufs: readonly KBuf[], nargs: number, workgroupSize = 1): Program['kernels'][number] {
  return { name, hash: `hand:${name}`, workgroupSize, ir: { name, bufs, nargs, workgroupSize, locals: [], regs: [], body: [] } };
}
