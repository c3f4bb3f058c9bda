// The bench's networks, as .fd source checked against a virtual file in
// models/ (so `import "resnet.fd"` resolves there), lowered to a graph, and
// helpers that time an executable the same way for every suite.
import { checkSource, DiagnosticsError, formatDiagnostics } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { initParams } from '../../compiler/init.js';
import type { Graph } from '../../compiler/graph.js';
import { randomTensor, type Tensor } from '../../compiler/tensor.js';
import type { Executable } from '../../runtime/interface.js';

/** ResNet-50 body + FPN P3–P7: DeFCN's backbone and neck (models/defcn.fd), without the head. */
export const R50_FPN_SRC = `import "resnet.fd"
import "fpn.fd"
module R50FPN(C: int = 256) {
  backbone = ResNet(50, 64)
  fpn = FPN(backbone.out3, backbone.out4, backbone.out5, C)
  fn forward(image: f32[B, 3, H, W]) where H % 32 == 0, W % 32 == 0 {
    let (c3, c4, c5) = backbone(image)
    return fpn(c3, c4, c5)
  }
}
`;

/** n 3×3 convs C→C with bias and ReLU: the stack issues 4 and 5 compare against tfjs. */
export function convStackSrc(n: number, c: number): string {
  const layers = Array.from({ length: n }, (_, i) => `  conv${i} = Conv(${c}, ${c}, 3)`).join('\n');
  let body = 'x';
  for (let i = 0; i < n; i++) body = `relu(conv${i}(${body}))`;
  return `import "layers.fd"
module ConvStack() {
${layers}
  fn forward(x: f32[B, ${c}, H, W]) -> f32[B, ${c}, H, W] {
    return ${body}
  }
}
`;
}

const LEVELS = 5;
const levelArgs = Array.from({ length: LEVELS }, (_, l) => `p${l}: f32[B, C, H${l}, W${l}]`).join(', ');
const levelList = Array.from({ length: LEVELS }, (_, l) => `p${l}`).join(', ');

/** 3D max filtering (tau 2, phi 3) over five levels as the one hand-scheduled op. */
export const MAX3D_FUSED_SRC = `module Max3dFused() {
  fn forward(${levelArgs}) {
    let fs = max3d([${levelList}], tau = 2, phi = 3)
    return (${Array.from({ length: LEVELS }, (_, l) => `fs[${l}]`).join(', ')})
  }
}
`;

/**
 * The same computation composed of the ops a user would write without max3d
 * (as test/compiler/ops/max3d.test.ts checks it): the neighbour levels resized
 * bilinearly to each level, an elementwise max over the frames, a 3×3 max pool.
 */
export const MAX3D_UNFUSED_SRC = (() => {
  const outs: string[] = [];
  for (let l = 0; l < LEVELS; l++) {
    let m = `p${l}`;
    for (const k of [l - 1, l + 1]) if (k >= 0 && k < LEVELS) m = `maximum(${m}, resize_as(p${k}, p${l}, mode = "bilinear"))`;
    outs.push(`max_pool2d(${m}, kernel = 3, stride = 1, padding = 1)`);
  }
  return `module Max3dUnfused() {
  fn forward(${levelArgs}) {
    return (${outs.join(',\n      ')})
  }
}
`;
})();

/** Level shapes [B, C, H_l, W_l], each half the previous (rounded up), from P3's. */
export function levelShapes(c: number, h: number, w: number): number[][] {
  const out: number[][] = [];
  for (let l = 0; l < LEVELS; l++) { out.push([1, c, h, w]); h = Math.ceil(h / 2); w = Math.ceil(w / 2); }
  return out;
}

export interface BenchGraph { graph: Graph; params: Map<string, Tensor>; inputs: Record<string, Tensor> }

/** Checks `src`, lowers `entry` with f32 inputs of the given shapes, random inputs and params (seeded). */
export function benchGraph(src: string, entry: string, shapes: Record<string, number[]>): BenchGraph {
  const path = 'models/bench-entry.fd';
  const { program, diagnostics } = checkSource(path, src);
  if (!program || diagnostics.some((d) => d.severity === 'error')) {
    throw new DiagnosticsError(diagnostics, formatDiagnostics(diagnostics, (f) => (f === path ? src : undefined)));
  }
  const types = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, { dtype: 'f32' as const, shape: s }]));
  const graph = lower(program, { entry, inputs: types });
  const inputs = Object.fromEntries(Object.entries(shapes).map(([n, s], i) => [n, randomTensor(s, 100 + i)]));
  return { graph, params: initParams(graph, 0), inputs };
}

/** Best and median wall seconds of `reps` runs after one warm-up run. */
export async function timeRuns(exe: Executable, inputs: Record<string, Tensor>, reps: number): Promise<{ best: number; median: number }> {
  await exe.run(inputs);
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await exe.run(inputs);
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return { best: times[0], median: times[Math.floor(times.length / 2)] };
}
