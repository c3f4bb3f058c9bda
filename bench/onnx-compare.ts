// One network, three engines, one run: fusedet's CPU runtime, onnxruntime-node
// and PyTorch CPU on the same torchvision network (bench/torch/export_onnx.py),
// batch 1, the same thread count. Two rows: fusedet vs each baseline.
import { compileGraph } from '../compiler/program.js';
import { CpuRuntime } from '../runtime-cpu/runtime.js';
import { benchGraph, R50_FPN_SRC, timeRuns } from './tfjs/graphs.js';
import { onnxModel, type OnnxNet, timeOnnx, timeTorch, type Timing } from './onnx.js';
import type { BenchRow } from './run.js';

/** The FCOS dense network of models/fcos.fd: ResNet-50 + FPN + the shared head (GN towers, centerness), K 80. */
export const FCOS_DENSE_SRC = `import "fcos.fd"
module FCOSDense() {
  net = FCOS(80, 50)
  fn forward(image: f32[B, 3, H, W]) where H % 32 == 0, W % 32 == 0 {
    return net(image)
  }
}
`;

export interface NetCase { net: Exclude<OnnxNet, 'sgemm'>; h: number; w: number; reps: number; what: string; targetOrt: string; targetTorch: string }

export const NETWORKS: Record<Exclude<OnnxNet, 'sgemm'>, { src: string; entry: string; title: string }> = {
  r50fpn: { src: R50_FPN_SRC, entry: 'R50FPN', title: 'ResNet-50-FPN forward (models/resnet.fd + fpn.fd; torchvision resnet50 + FPN P3–P7)' },
  fcos: { src: FCOS_DENSE_SRC, entry: 'FCOSDense', title: 'FCOS dense network forward (backbone, FPN, head; models/fcos.fd; torchvision FCOSHead)' },
};

/** Times the case on the three engines; a baseline that cannot run becomes a failed row, not a missing one. */
export async function compareNetwork(k: NetCase, threads: number, notes: string[]): Promise<{ rows: BenchRow[]; raw: unknown }> {
  const spec = NETWORKS[k.net];
  const bg = benchGraph(spec.src, spec.entry, { image: [1, 3, k.h, k.w] });
  const rt = new CpuRuntime();
  const program = compileGraph(bg.graph, rt.target);
  const flops = (program.report?.launches ?? []).reduce((s, l) => s + l.flops, 0);
  const exe = await rt.load(program);
  await exe.setParams(bg.params);
  const ours = await timeRuns(exe, bg.inputs, k.reps);
  exe.dispose();
  const base = <T extends Timing>(name: string, f: () => Promise<T>): Promise<T | Error> =>
    f().catch((e: Error) => { notes.push(`${k.what}: ${name} failed: ${e.message.split('\n')[0]}`); return e; });
  const ort = await base('onnxruntime-node', () => timeOnnx(onnxModel(k.net, k.h, k.w), { image: [1, 3, k.h, k.w] }, threads, k.reps));
  const torch = await base('PyTorch', async () => timeTorch(k.net, k.h, k.w, threads, k.reps));
  const size = `${k.h}×${k.w}, batch 1, ${threads} threads`;
  const row = (t: Timing | Error, name: string, target: string): BenchRow => t instanceof Error
    ? { what: `${spec.title} ${size}: ${name} failed`, ours: ours.best, baseline: null, baselineName: name, unit: 's', ratio: null, target, notes: [t.message.split('\n')[0]] }
    : {
      what: `${spec.title} ${size}`, ours: ours.best, baseline: t.best, baselineName: name, unit: 's', ratio: t.best / ours.best, target,
      notes: [`medians: ours ${ours.median.toFixed(3)} s, ${name} ${t.median.toFixed(3)} s`, `ours ${(flops / ours.best / 1e9).toFixed(1)} GFLOP/s (${(flops / 1e9).toFixed(1)} GFLOP)`],
    };
  const ortName = ort instanceof Error ? 'onnxruntime-node' : `onnxruntime-node ${String(ort.version)} CPU, graph optimisation all`;
  const torchName = torch instanceof Error ? 'PyTorch CPU' : `PyTorch ${String(torch.torch)} CPU`;
  return {
    rows: [row(ort, ortName, k.targetOrt), row(torch, torchName, k.targetTorch)],
    raw: { ...k, gflop: flops / 1e9, launches: program.launches.length, ours, ort: ort instanceof Error ? ort.message : ort, torch: torch instanceof Error ? torch.message : torch },
  };
}
