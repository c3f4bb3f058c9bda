// The tiny DeFCN the WebGPU tests run: models/defcn.fd with a ResNet-18-shaped
// backbone at width 8, FPN and head at 16 channels, 2 classes, a 64×64 image.
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { initParams } from '../../compiler/init.js';
import { parseArgSpecs, parseInputSpecs } from '../../cli/input-spec.js';
import { randomTensor, type Tensor } from '../../compiler/tensor.js';
import type { Graph } from '../../compiler/graph.js';

export function tinyDefcn(): { graph: Graph; params: Map<string, Tensor>; inputs: Record<string, Tensor> } {
  const file = fileURLToPath(new URL('../../../models/defcn.fd', import.meta.url));
  const { program, diagnostics } = checkFiles([file]);
  assert.ok(program && !diagnostics.some((d) => d.severity === 'error'), 'models/defcn.fd checks');
  const graph = lower(program!, {
    entry: 'DeFCN', inputs: parseInputSpecs(['image=f32[1,3,64,64]']),
    args: parseArgSpecs(['K=2', 'depth=18', 'C=16', 'groups=4', 'width=8']),
  });
  return { graph, params: initParams(graph, 0), inputs: { image: randomTensor([1, 3, 64, 64], 1) } };
}

/** max |a - b| / max(|b|, 1e-3·max|b|): the `fusedet run --compare` measure. */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  const floor = Math.max(1e-3 * scale, 1e-30);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(got[i]) !== Number.isNaN(want[i])) return Infinity;
    if (!Number.isNaN(want[i])) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), floor));
  }
  return worst;
}
