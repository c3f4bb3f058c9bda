// The shapes this runtime consumes and provides: the compiler's Program
// (compiler/program.ts), imported as a type only, with a kernel's IR left
// open, so compiled programs and hand-written WGSL test programs
// (`ir: { wgsl }`) both load. Nothing here reaches the browser bundle at run
// time.
import type { HostProgram } from '../runtime/host.js';

export type Program = HostProgram;
export type ProgramKernel = Program['kernels'][number];
export type ProgramBuffer = Program['buffers'][number];
export type ProgramLaunch = Program['launches'][number];
export type BufferRole = ProgramBuffer['role'];

// The runtime interface shared by every runtime; its load() takes the
// compiler's Program, which is assignable to the looser Program above.
export type { RuntimeName, LoadStats, LaunchTime, Executable, Runtime } from '../runtime/interface.js';
