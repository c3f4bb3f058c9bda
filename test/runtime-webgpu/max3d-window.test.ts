// Issue 14: WebGPU pipeline creation for the max3d gradient at τ = 4, φ = 5
// timed out (its WGSL grew with the φ × φ window: 240 KB at 32 × 32 where
// τ = 2, φ = 3 gives 71 KB). The kernels must not grow with the window: over
// a bound the window is a loop. Compile-only part: every kernel of the tiny
// DeFCN training step (forward, max3d, its gradient) for τ ∈ {0, 2, 4},
// φ ∈ {1, 3, 5}, compiled for a software WebGPU adapter, renders under a size
// bound, and the gradient at φ 5 is no larger than at φ 3. On SwiftShader:
// the max3d kernels of the largest window build within the runtime's default
// pipeline timeout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { compileGraph, type Program } from '../../compiler/program.js';
import { webgpuTarget, type Target } from '../../compiler/target.js';
import { renderWgsl } from '../../compiler/render/wgsl.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { differentiate } from '../../compiler/autodiff.js';
import { DEFAULT_SGD } from '../../compiler/optimizer.js';
import { defcnTargetTypes } from '../../models/fixed-batch.js';
import { openOrSkip } from './open.js';

/** Every kernel of the tiny DeFCN step builds on SwiftShader well within its timeout at this size (the τ 2, φ 3 kernels are ≤ 71 KB). */
const MAX_WGSL_BYTES = 100_000;
const SOFTWARE = webgpuTarget({ maxWorkgroupStorageBytes: 32768, software: true });

function trainStep(tau: number, phi: number, target: Target): Program {
  const { program, diagnostics } = checkFiles(['models/defcn-train.fd']);
  if (!program) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const S = 32;
  const inputs = { image: { dtype: 'f32' as const, shape: [1, 3, S, S] }, ...defcnTargetTypes(1, 3, S) };
  const graph = lower(program, { entry: 'DeFCNTrain', fn: 'loss_fixed', inputs, args: { depth: 0, width: 4, C: 16, K: 3, groups: 4, tau, phi } });
  return compileGraph(buildTrainStep(graph, { sgd: DEFAULT_SGD, differentiate }).graph, target, { fuse: true });
}

const sizeOf = (p: Program, op: string): number => Math.max(0, ...p.kernels.filter((k) => k.name.includes(op)).map((k) => renderWgsl(k.ir).length));

test('every kernel of the DeFCN step for τ ∈ {0, 2, 4}, φ ∈ {1, 3, 5} renders under the bound; the gradient does not grow with φ', () => {
  const grad = new Map<string, number>();
  for (const tau of [0, 2, 4]) {
    for (const phi of [1, 3, 5]) {
      const p = trainStep(tau, phi, SOFTWARE);
      for (const k of p.kernels) {
        const bytes = renderWgsl(k.ir).length;
        assert.ok(bytes <= MAX_WGSL_BYTES, `τ ${tau} φ ${phi}: ${k.name} is ${bytes} bytes of WGSL (bound ${MAX_WGSL_BYTES})`);
      }
      grad.set(`${tau},${phi}`, sizeOf(p, 'max3d_argmax_grad'));
    }
  }
  for (const tau of [2, 4]) {
    const [g3, g5] = [grad.get(`${tau},3`)!, grad.get(`${tau},5`)!];
    assert.ok(g3 > 0 && g5 <= g3 * 1.2, `τ ${tau}: max3d_argmax_grad is ${g5} bytes at φ 5 vs ${g3} at φ 3`);
  }
});

const rt = await openOrSkip('test/runtime-webgpu/max3d-window.test.ts');
(rt ? test : test.skip)('SwiftShader builds the max3d kernels of τ 4, φ 5 within the default pipeline timeout', async () => {
  const p = trainStep(4, 5, rt!.target);
  const keep = p.kernels.map((k, i) => (k.name.includes('max3d') ? i : -1)).filter((i) => i >= 0);
  assert.ok(keep.length >= 3, 'max3d, max3d_argmax and max3d_argmax_grad');
  // Only these kernels vary with the window; the program's other kernels are built by the other WebGPU tests.
  const sub: Program = {
    ...p,
    kernels: keep.map((i) => p.kernels[i]),
    launches: p.launches.filter((l) => keep.includes(l.kernel)).map((l) => ({ ...l, kernel: keep.indexOf(l.kernel) })),
  };
  const ex = await rt!.load(sub);
  ex.dispose();
});

test.after(() => rt?.destroy());
test.run();
