// A compiled Program with its parameters and inputs as one JSON document, so
// a page can run what Node compiled (models need the .fd files and the DSL,
// which read the file system). Tensors travel as plain number arrays: exact
// for f32 (a double holds every f32) and for i32/bool.
//
// Non-finite constants in the kernels travel as api/json-numbers.ts writes
// them (plain JSON turned the kernels' +∞ into −∞ in the page).
import type { Program } from '../runtime-webgpu/contract.js';
import { parseKeepingNonFinite, stringifyKeepingNonFinite } from '../api/json-numbers.js';
import type { Tensor } from '../compiler/tensor.js';
import { tensor } from '../compiler/tensor.js';
import type { DType } from '../compiler/types.js';

interface WireTensor { dtype: DType; shape: number[]; data: number[] }

export interface ProgramFile {
  program: Program;
  params: Record<string, WireTensor>;
  inputs: Record<string, WireTensor>;
}

const wire = (t: Tensor): WireTensor => ({ dtype: t.dtype, shape: [...t.shape], data: Array.from(t.data) });
const unwire = (w: WireTensor): Tensor => tensor(w.dtype, w.shape, w.data);

export function encodeProgramFile(program: Program, params: Map<string, Tensor> | Record<string, Tensor>, inputs: Record<string, Tensor>): string {
  const entries = params instanceof Map ? [...params] : Object.entries(params);
  const file: ProgramFile = {
    program,
    params: Object.fromEntries(entries.map(([k, t]) => [k, wire(t)])),
    inputs: Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, wire(t)])),
  };
  return stringifyKeepingNonFinite(file);
}

export function decodeProgramFile(text: string): { program: Program; params: Record<string, Tensor>; inputs: Record<string, Tensor> } {
  let f: ProgramFile;
  try { f = parseKeepingNonFinite(text) as ProgramFile; } catch (e) { throw new Error(`not a fusedet program file: ${(e as Error).message}`); }
  if (!f || typeof f !== 'object' || !f.program || !Array.isArray(f.program.kernels)) throw new Error('not a fusedet program file: no program.kernels');
  const map = (r: Record<string, WireTensor>): Record<string, Tensor> => Object.fromEntries(Object.entries(r ?? {}).map(([k, w]) => [k, unwire(w)]));
  return { program: f.program, params: map(f.params), inputs: map(f.inputs) };
}
