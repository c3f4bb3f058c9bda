// What every native runtime does with a Program's named buffers: find them by
// role and name, check a host tensor against one, and give its logical shape.
// The CPU and CUDA executables share it so their checks and messages agree.
import type { Program } from '../compiler/program.js';
import type { Tensor } from '../compiler/tensor.js';
import { bytesOf } from '../compiler/types.js';
import { InputMismatch, formatBytes } from './errors.js';

export type ProgramBuffer = Program['buffers'][number];

/** The logical shape of a buffer when the program states one (optional in the contract), else flat. */
export function shapeOf(b: ProgramBuffer): number[] {
  const s = (b as { shape?: readonly number[] }).shape;
  return s ? [...s] : [b.bytes / bytesOf(b.dtype)];
}

/** A named input, param or output buffer; an unknown name lists the names there are. */
export function namedBuffer(program: Program, byId: ReadonlyMap<number, ProgramBuffer>, kind: 'input' | 'param' | 'output', name: string): ProgramBuffer {
  const table = kind === 'input' ? program.inputs : kind === 'param' ? program.params : program.outputs;
  const id = table[name];
  const b = id === undefined ? undefined : byId.get(id);
  if (!b) throw new InputMismatch(`the program has no ${kind} named '${name}'; its ${kind}s: ${Object.keys(table).join(', ') || '(none)'}`);
  return b;
}

/** A host tensor must have the buffer's dtype, element width and size. runtime: "CPU", "CUDA". */
export function checkTensorFits(runtime: string, kind: string, name: string, b: ProgramBuffer, t: Tensor): void {
  const width = bytesOf(b.dtype);
  if (t.dtype !== b.dtype) throw new InputMismatch(`${kind} '${name}' is ${t.dtype}, the program expects ${b.dtype}`);
  if (t.data.BYTES_PER_ELEMENT !== width) {
    throw new InputMismatch(`${kind} '${name}' is held in a ${t.data.constructor.name}; the ${runtime} runtime reads ${b.dtype} as ${width}-byte elements (convert it, e.g. Float32Array.from(data))`);
  }
  if (t.data.byteLength !== b.bytes) {
    throw new InputMismatch(`${kind} '${name}' has ${t.data.length} elements (${formatBytes(t.data.byteLength)}, shape [${t.shape.join(', ')}]), the program expects ${b.bytes / width}`);
  }
}
