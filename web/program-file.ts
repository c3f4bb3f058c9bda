// A compiled Program with its parameters and inputs as one JSON document, so
// a page can run what Node compiled (models need the .fd files and the DSL,
// which read the file system). Tensors travel as plain number arrays: exact
// for f32 (a double holds every f32) and for i32/bool.
//
// JSON has no ±Infinity or NaN: JSON.stringify writes them as null, and the
// WGSL renderer reads a null constant as −∞. Kernel IR holds such constants
// (the +∞ and −∞ starts of min/max reductions, top-k and the assignment's
// costs), so a training step with the assignment inside computed another
// loss in the page than in Node. Every number that is not finite travels as
// {"$nonfinite": "Infinity" | "-Infinity" | "NaN"} and comes back as itself.
import type { Program } from '../runtime-webgpu/contract.js';
import type { Tensor } from '../compiler/tensor.js';
import { tensor } from '../compiler/tensor.js';
import type { DType } from '../compiler/types.js';

interface WireTensor { dtype: DType; shape: number[]; data: number[] }

export interface ProgramFile {
  program: Program;
  params: Record<string, WireTensor>;
  inputs: Record<string, WireTensor>;
}

const NONFINITE = '$nonfinite';

const encodeNumber = (_key: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? { [NONFINITE]: String(v) } : v);

function decodeNumber(_key: string, v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  const tag = o[NONFINITE];
  if (typeof tag !== 'string' || Object.keys(o).length !== 1) return v;
  if (tag !== 'Infinity' && tag !== '-Infinity' && tag !== 'NaN') throw new Error(`not a fusedet program file: "${NONFINITE}": "${tag}" is not Infinity, -Infinity or NaN`);
  return Number(tag);
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
  return JSON.stringify(file, encodeNumber);
}

export function decodeProgramFile(text: string): { program: Program; params: Record<string, Tensor>; inputs: Record<string, Tensor> } {
  const f = JSON.parse(text, decodeNumber) as ProgramFile;
  if (!f || typeof f !== 'object' || !f.program || !Array.isArray(f.program.kernels)) throw new Error('not a fusedet program file: no program.kernels');
  const map = (r: Record<string, WireTensor>): Record<string, Tensor> => Object.fromEntries(Object.entries(r ?? {}).map(([k, w]) => [k, unwire(w)]));
  return { program: f.program, params: map(f.params), inputs: map(f.inputs) };
}
