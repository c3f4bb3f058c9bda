// Runs a whole Program on the kernel-IR interpreter: the device-free oracle
// for schedules, fusion and buffer planning together (a wrong buffer reuse
// shows as a wrong output here).
import { Graph } from '../graph.js';
import { Program } from '../program.js';
import { Tensor, TensorData, allocData } from '../tensor.js';
import { bytesOf } from '../types.js';
import { runKernel } from './interpret.js';

export function runProgram(program: Program, graph: Graph, inputs: Readonly<Record<string, Tensor>>, params: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
  const mem: TensorData[] = program.buffers.map((b) => allocData(b.dtype, b.bytes / bytesOf(b.dtype)));
  // Temporaries start as garbage on a real device; NaN makes a read-before-write show.
  program.buffers.forEach((b, i) => { if (b.role === 'temp' && b.dtype === 'f32') mem[i].fill(NaN); });
  const put = (id: number, t: Tensor, what: string): void => {
    if (t.data.length > mem[id].length) throw new RangeError(`${what}: ${t.data.length} values for a buffer of ${mem[id].length}`);
    mem[id].set(t.data);
  };
  for (const [name, id] of Object.entries(program.inputs)) put(id, inputs[name] ?? missing('input', name), `input ${name}`);
  for (const [name, id] of Object.entries(program.params)) put(id, params[name] ?? missing('param', name), `param ${name}`);
  for (const l of program.launches) runKernel(program.kernels[l.kernel].ir, l.buffers.map((b) => mem[b]), l.args, l.grid);
  const out: Record<string, Tensor> = {};
  for (const o of graph.outputs) {
    const t = graph.values[o.value].type;
    const n = t.shape.reduce((a, b) => a * b, 1);
    out[o.name] = { dtype: t.dtype, shape: [...t.shape], data: mem[program.outputs[o.name]].slice(0, n) };
  }
  return out;
}

function missing(what: string, name: string): never { throw new Error(`runProgram: no ${what} named '${name}'`); }
