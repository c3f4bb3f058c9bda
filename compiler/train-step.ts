// One training step as ONE graph: the model's loss entry (forward + loss),
// its backward pass (compiler/autodiff.ts) and the optimizer update
// (compiler/optimizer.ts). Inputs: the entry's inputs plus the scalars `lr`
// and `loss_scale`. Outputs: the entry's scalar outputs (the loss terms),
// `grad_norm` and `finite` (1 when the loss and the gradient norm are finite,
// else 0: the NaN/Inf guard). The new weights and momentum buffers are
// in-place updates (Graph.updates), each `finite ? new : old`: a run leaves
// them in the resident param buffers, committed only when the step is finite.
//
// The loss is multiplied by `loss_scale` before differentiation and the
// gradients divided by it (1 in f32; ready for f16).
import { FusedetError } from '../io/errors.js';
import { Graph } from './graph.js';
import { GraphAppender, SgdOptions, appendSgd } from './optimizer.js';
import { isFloat, numel } from './types.js';

/** compiler/autodiff.ts's entry point, taken as a parameter so the step builder does not fix its module. */
export type Differentiate = (graph: Graph, loss: string | number, opts?: { wrt?: string[] }) => { graph: Graph; grads: Map<string, number> };

export class TrainStepError extends FusedetError {
  constructor(message: string) { super(message, { exitCode: 1 }); }
}

export interface TrainStep {
  graph: Graph;
  /** Scalar outputs of the loss entry, reported each step (the first is the loss). */
  terms: string[];
  /** Params the step trains, and their momentum buffers (same order). */
  trained: string[];
  momentum: string[];
  /** Every param of the step graph (weights, frozen ones, momentum): what a checkpoint holds. */
  state: string[];
  /** Trained param → its momentum update before the guard (compiler/optimizer.ts SgdResult.proposed): which update went non-finite. */
  proposed: Map<string, number>;
}

export interface TrainStepOptions {
  /** The loss output (default: the entry's first output). */
  loss?: string;
  sgd: SgdOptions;
  differentiate: Differentiate;
}

export function buildTrainStep(lossGraph: Graph, opts: TrainStepOptions): TrainStep {
  const terms = lossGraph.outputs.filter((o) => {
    const t = lossGraph.values[o.value].type;
    return isFloat(t.dtype) && numel(t.shape) === 1;
  }).map((o) => o.name);
  const lossName = opts.loss ?? lossGraph.outputs[0]?.name;
  if (!lossName || !terms.includes(lossName)) {
    throw new TrainStepError(`the loss entry must return a float scalar loss first (then other scalar terms); its outputs: ${lossGraph.outputs.map((o) => `${o.name}: ${lossGraph.values[o.value].type.dtype}[${lossGraph.values[o.value].type.shape.join(', ')}]`).join(', ')}`);
  }
  // Only the scalar terms stay outputs: a step returns a few scalars, nothing big.
  const g: Graph = {
    nodes: [...lossGraph.nodes], values: [...lossGraph.values], inputs: [...lossGraph.inputs], params: [...lossGraph.params],
    outputs: lossGraph.outputs.filter((o) => terms.includes(o.name)),
  };
  for (const name of ['lr', 'loss_scale']) {
    if (g.inputs.some((i) => i.name === name)) throw new TrainStepError(`the loss entry has an input named '${name}', which the training step reserves; rename it`);
  }
  const a = new GraphAppender(g, g.nodes[g.values[g.outputs.find((o) => o.name === lossName)!.value].node].span, 'loss');
  const scalar = { dtype: 'f32' as const, shape: [] };
  const lr = a.input('lr', scalar);
  const lossScale = a.input('loss_scale', scalar);
  const lossValue = g.outputs.find((o) => o.name === lossName)!.value;
  const lossType = g.values[lossValue].type;
  const scaled = a.op('mul', [lossValue, lossScale]);
  g.outputs.push({ name: 'scaled_loss', value: scaled });

  const { graph: d, grads } = opts.differentiate(g, 'scaled_loss');
  const step: Graph = { ...d, outputs: d.outputs.filter((o) => !o.name.startsWith('grad/') && o.name !== 'scaled_loss') };
  // x − x is 0 exactly when x is finite: the guard without an isfinite op.
  const b = new GraphAppender(step, a.span, 'guard');
  let finite: number | undefined;
  const guard = (gradNormSq: number): number => {
    const lossScalar = lossType.shape.length === 0 ? lossValue : b.op('reshape', [lossValue], { shape: [] });
    const total = b.op('add', [lossScalar, gradNormSq]);
    const ok = b.op('eq', [b.op('sub', [total, total]), b.constant(0)]);
    finite = b.op('cast', [ok], { dtype: 'f32' });
    return ok;
  };
  const { momentum, proposed } = appendSgd(step, grads, opts.sgd, { lr, lossScale, guard });
  step.outputs.push({ name: 'finite', value: finite! });
  return { graph: step, terms, trained: [...grads.keys()], momentum, state: step.params.map((p) => p.name), proposed };
}
