// The tiny DeFCN-shaped training step the train tests share: TinyResNet
// (width 4), FPN and head with 16 channels, K = 3, GroupNorm 4 groups, 3DMF,
// focal (3DMF, on probabilities) + GIoU on fixed targets, 32×32 images.
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { differentiate } from '../../compiler/autodiff.js';
import { DEFAULT_SGD, SgdOptions } from '../../compiler/optimizer.js';
import { TrainStep, buildTrainStep } from '../../compiler/train-step.js';
import { defcnTargetTypes } from '../../models/fixed-batch.js';

export const TINY_ARGS = { depth: 0, width: 4, C: 16, K: 3, groups: 4 };
export const TINY_FLAGS = ['--arg', 'depth=0', '--arg', 'width=4', '--arg', 'C=16', '--arg', 'K=3', '--arg', 'groups=4'];

/** DeFCNTrain (defcn-train.fd) or, with fcos, FCOSTrain (fcos-train.fd). */
export function tinyStep(B = 1, S = 32, sgd: SgdOptions = DEFAULT_SGD, model: 'defcn' | 'fcos' = 'defcn'): TrainStep {
  const { program, diagnostics } = checkFiles([`models/${model}-train.fd`]);
  if (!program || diagnostics.some((d) => d.severity === 'error')) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const inputs = { image: { dtype: 'f32' as const, shape: [B, 3, S, S] }, ...defcnTargetTypes(B, TINY_ARGS.K, S) };
  const graph = lower(program, { entry: model === 'defcn' ? 'DeFCNTrain' : 'FCOSTrain', fn: 'loss', inputs, args: TINY_ARGS });
  return buildTrainStep(graph, { sgd, differentiate });
}
