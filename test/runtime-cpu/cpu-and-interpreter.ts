// One compiled program run two ways against the reference: on the CPU
// runtime (the rendered C) and on the kernel-IR interpreter, which checks
// every table and local-array access against its size (the C does not).
import * as assert from 'uvu/assert';
import type { Program } from '../../compiler/program.js';
import type { Tensor } from '../../compiler/tensor.js';
import { runProgram } from '../../compiler/kernel/run-program.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { TestGraph, compare, referenceRun } from '../compiler/kernel/graphs.js';

/** Asserts both runs equal the reference within (atol, rtol); returns the CPU runtime's outputs. */
export async function checkCpuAndInterpreter(t: TestGraph, program: Program, atol: number, rtol: number, label: string): Promise<Record<string, Tensor>> {
  const want = referenceRun(t);
  const interp = runProgram(program, t.graph, t.inputs, t.params);
  const exe = await new CpuRuntime().load(program);
  try {
    await exe.setParams(new Map(Object.entries(t.params)));
    const got = await exe.run(t.inputs);
    for (const [name, w] of Object.entries(want)) {
      for (const [who, out] of [['cpu', got[name]], ['interpreter', interp[name]]] as const) {
        const msg = compare(out, w, atol, rtol);
        assert.is(msg, '', `${label} ${name} (${who}): ${msg}`);
      }
    }
    return got;
  } finally {
    exe.dispose();
  }
}
