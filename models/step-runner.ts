// Runs a compiled training step (compiler/train-step.ts) on the reference
// interpreter or a runtime, keeping the weights and optimizer state resident
// between steps. The step's updates are guarded by its `finite` flag, so a
// non-finite step leaves the state as it was.
//
// On a runtime the step updates the resident param buffers in place
// (Program.updates): a run returns only the scalars. Which update went
// non-finite is found only when one did, by a second, diagnostic program
// that returns the proposed updates (compiled then, on the same runtime).
// `copyBack` runs the step the old way instead (updates come back as
// outputs and are uploaded with setParams): the tests compare the two.
import { interpret } from '../compiler/interpret.js';
import { compileGraph } from '../compiler/program.js';
import { compileOptionsFromEnv } from '../runtime/compile-options.js';
import { NEW_PREFIX, withUpdateOutputs } from '../compiler/optimizer.js';
import type { TrainStep } from '../compiler/train-step.js';
import { Tensor, scalar } from '../compiler/tensor.js';
import type { Executable, Runtime } from '../runtime/interface.js';

export interface StepResult {
  /** Loss terms, grad_norm and finite, as numbers. */
  scalars: Record<string, number>;
  finite: boolean;
  /** Set when not finite: the first trained param (graph order) whose update is non-finite. */
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

export interface RuntimeRunnerOptions {
  /** Read the updates back and upload them (the path before in-place updates), instead of updating in place. */
  copyBack?: boolean;
}

/** Output prefix of the diagnostic graph's proposed (unguarded) updates. */
const PROPOSED_PREFIX = 'proposed/';

function allFinite(t: Tensor): boolean {
  for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) return false;
  return true;
}

function scalarsOf(step: TrainStep, outs: Record<string, Tensor>): Record<string, number> {
  const scalars: Record<string, number> = {};
  for (const name of [...step.terms, 'grad_norm', 'finite']) scalars[name] = outs[name].data[0];
  return scalars;
}

/** The step graph with the proposed updates as outputs and nothing updated in place. */
const diagnosticGraph = (step: TrainStep) => withUpdateOutputs(withUpdateOutputs(step.graph, new Map()), step.proposed, PROPOSED_PREFIX);

/** A param's update is non-finite exactly when its proposed momentum update is (finite weights; compiler/optimizer.ts). */
const firstBad = (step: TrainStep, outs: Record<string, Tensor>): string | undefined => step.trained.find((n) => !allFinite(outs[`${PROPOSED_PREFIX}${n}`]));

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
  // One pass gives the committed updates and, for the rare non-finite step, the proposed ones.
  const graph = withUpdateOutputs(withUpdateOutputs(step.graph), step.proposed, PROPOSED_PREFIX);
  return {
    where: 'the reference interpreter',
    async step(inputs, lr, lossScale) {
      const outs = interpret(graph, { ...inputs, lr: scalar('f32', lr), loss_scale: scalar('f32', lossScale) }, params);
      const scalars = scalarsOf(step, outs);
      if (scalars.finite !== 1) {
        const bad = firstBad(step, outs);
        return { scalars, finite: false, ...(bad ? { firstNonFinite: bad } : {}) };
      }
      for (const [k, t] of updates(step, outs, shapeOf)) params.set(k, t);
      return { scalars, finite: true };
    },
    async getState() { return new Map([...params].map(([k, t]) => [k, copy(t)])); },
    async setState(s) { params = new Map([...s].map(([k, t]) => [k, copy(t)])); },
    dispose() { params.clear(); },
  };
}

/** `choice`: a --runtime name, or a runtime opened by the caller (tests open WebGPU directly). */
/**
 * `initial` may be a function: it is called after the runtime has loaded the
 * step (and checked its memory limit), so a step that cannot fit is refused
 * before the parameters are made on the host.
 */
export async function runtimeRunner(step: TrainStep, initial: Map<string, Tensor> | (() => Map<string, Tensor>), choice: string | Runtime, opts: RuntimeRunnerOptions = {}): Promise<StepRunner> {
  let runtime: Runtime;
  if (typeof choice === 'string') {
    const { parseRuntimeChoice, selectRuntime } = await import('../runtime/select.js');
    ({ runtime } = await selectRuntime(parseRuntimeChoice(choice)));
  } else runtime = choice;
  const copyBack = opts.copyBack === true;
  const program = compileGraph(copyBack ? withUpdateOutputs(step.graph) : step.graph, runtime.target, compileOptionsFromEnv());
  const exe: Executable = await runtime.load(program);
  await exe.setParams(typeof initial === 'function' ? initial() : initial);
  const shapeOf = shapes(step);
  const getState = async (): Promise<Map<string, Tensor>> => {
    const m = new Map<string, Tensor>();
    for (const name of step.state) {
      const t = await exe.getParam(name);
      m.set(name, { dtype: t.dtype, shape: [...shapeOf(name)], data: t.data.slice() });
    }
    return m;
  };
  /** Runs the diagnostic program from the current (unchanged) state; undefined when it cannot run. */
  const diagnose = async (inputs: Record<string, Tensor>): Promise<string | undefined> => {
    let diag: Executable | undefined;
    try {
      diag = await runtime.load(compileGraph(diagnosticGraph(step), runtime.target, compileOptionsFromEnv()));
      await diag.setParams(await getState());
      return firstBad(step, await diag.run(inputs));
    } catch {
      return undefined; // the report stays without the name; the step is still refused
    } finally {
      diag?.dispose();
    }
  };
  return {
    where: `the ${runtime.name} runtime (${program.launches.length} launches)`,
    async step(inputs, lr, lossScale) {
      const full = { ...inputs, lr: scalar('f32', lr), loss_scale: scalar('f32', lossScale) };
      const outs = await exe.run(full);
      const scalars = scalarsOf(step, outs);
      if (scalars.finite !== 1) {
        const bad = await diagnose(full);
        return { scalars, finite: false, ...(bad ? { firstNonFinite: bad } : {}) };
      }
      if (copyBack) await exe.setParams(updates(step, outs, shapeOf));
      return { scalars, finite: true };
    },
    getState,
    async setState(s) { await exe.setParams(s); },
    dispose() { exe.dispose(); },
  };
}
