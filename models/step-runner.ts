// Runs a compiled training step (compiler/train-step.ts) on the reference
// interpreter or a runtime, keeping the weights and optimizer state resident
// between steps. An update is committed only when the step's `finite` flag
// is 1, so a non-finite step leaves the state as it was.
//
// On a runtime, the new weights come back as outputs and are uploaded into
// the resident param buffers (Executable.setParams): the Program contract has
// no output that aliases a param buffer yet, so "in place" costs one copy.
import { interpret } from '../compiler/interpret.js';
import { compileGraph } from '../compiler/program.js';
import { compileOptionsFor } from '../runtime/compile-options.js';
import { NEW_PREFIX } from '../compiler/optimizer.js';
import type { TrainStep } from '../compiler/train-step.js';
import { Tensor, scalar } from '../compiler/tensor.js';
import type { Executable, Runtime } from '../runtime/interface.js';

export interface StepResult {
  /** Loss terms, grad_norm and finite, as numbers. */
  scalars: Record<string, number>;
  finite: boolean;
  /** Set when not finite: the first trained param (graph order) whose update came back non-finite. */
  firstNonFinite?: string;
}

export interface StepRunner {
  readonly where: string;
  step(inputs: Record<string, Tensor>, lr: number, lossScale: number): Promise<StepResult>;
  /** Every state tensor (weights, frozen params, momentum), copies. */
  getState(): Promise<Map<string, Tensor>>;
  setState(state: Map<string, Tensor>): Promise<void>;
  dispose(): void;
}

function allFinite(t: Tensor): boolean {
  for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) return false;
  return true;
}

function read(step: TrainStep, outs: Record<string, Tensor>): StepResult {
  const scalars: Record<string, number> = {};
  for (const name of [...step.terms, 'grad_norm', 'finite']) scalars[name] = outs[name].data[0];
  const finite = scalars.finite === 1;
  if (finite) return { scalars, finite };
  const bad = [...step.trained, ...step.momentum].find((n) => !allFinite(outs[`${NEW_PREFIX}${n}`]));
  return { scalars, finite, ...(bad ? { firstNonFinite: bad } : {}) };
}

const copy = (t: Tensor): Tensor => ({ dtype: t.dtype, shape: [...t.shape], data: t.data.slice() });

function updates(step: TrainStep, outs: Record<string, Tensor>, shapeOf: (n: string) => readonly number[]): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const n of [...step.trained, ...step.momentum]) {
    const t = outs[`${NEW_PREFIX}${n}`];
    m.set(n, { dtype: t.dtype, shape: [...shapeOf(n)], data: t.data });
  }
  return m;
}

function shapes(step: TrainStep): (n: string) => readonly number[] {
  const m = new Map(step.graph.params.map((p) => [p.name, step.graph.values[p.value].type.shape]));
  return (n) => m.get(n)!;
}

export function referenceRunner(step: TrainStep, initial: Map<string, Tensor>): StepRunner {
  let params = new Map([...initial].map(([k, t]) => [k, copy(t)]));
  const shapeOf = shapes(step);
  return {
    where: 'the reference interpreter',
    async step(inputs, lr, lossScale) {
      const outs = interpret(step.graph, { ...inputs, lr: scalar('f32', lr), loss_scale: scalar('f32', lossScale) }, params);
      const r = read(step, outs);
      if (r.finite) for (const [k, t] of updates(step, outs, shapeOf)) params.set(k, t);
      return r;
    },
    async getState() { return new Map([...params].map(([k, t]) => [k, copy(t)])); },
    async setState(s) { params = new Map([...s].map(([k, t]) => [k, copy(t)])); },
    dispose() { params.clear(); },
  };
}

/** `choice`: a --runtime name, or a runtime opened by the caller (tests open WebGPU directly). */
export async function runtimeRunner(step: TrainStep, initial: Map<string, Tensor>, choice: string | Runtime): Promise<StepRunner> {
  let runtime: Runtime;
  if (typeof choice === 'string') {
    const { parseRuntimeChoice, selectRuntime } = await import('../runtime/select.js');
    ({ runtime } = await selectRuntime(parseRuntimeChoice(choice)));
  } else runtime = choice;
  const program = compileGraph(step.graph, compileOptionsFor(runtime));
  const exe: Executable = await runtime.load(program);
  await exe.setParams(initial);
  const shapeOf = shapes(step);
  return {
    where: `the ${runtime.name} runtime (${program.launches.length} launches)`,
    async step(inputs, lr, lossScale) {
      const outs = await exe.run({ ...inputs, lr: scalar('f32', lr), loss_scale: scalar('f32', lossScale) });
      const r = read(step, outs);
      if (r.finite) await exe.setParams(updates(step, outs, shapeOf));
      return r;
    },
    async getState() {
      const m = new Map<string, Tensor>();
      for (const name of step.state) {
        const t = await exe.getParam(name);
        m.set(name, { dtype: t.dtype, shape: [...shapeOf(name)], data: t.data.slice() });
      }
      return m;
    },
    async setState(s) { await exe.setParams(s); },
    dispose() { exe.dispose(); },
  };
}
