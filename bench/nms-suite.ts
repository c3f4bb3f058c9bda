// The `nms` op alone (compiler/ops/nms.kernel.ts) on the CPU runtime vs
// torchvision.ops.batched_nms on PyTorch CPU (2 threads), one image of
// N = 1000 and N = 5000 candidates as a detector hands them to NMS: crowded
// (clusters of near-duplicate boxes), IoU 0.6; 80 classes with the kept list
// truncated to max_out = 100 (COCO) and, to show the cost of the whole
// suppression, max_out = N; and the same boxes as one class with max_out =
// 500 (CrowdHuman). Ours includes the input upload and output readback of a
// run; torchvision's the call and the slice. The kept indices must agree (the
// notes say so or say DISAGREE).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, type Graph } from '../compiler/graph.js';
import { compileGraph } from '../compiler/program.js';
import { NO_SPAN } from '../compiler/types.js';
import { CPU } from '../compiler/target.js';
import { rng, tensor, type Tensor } from '../compiler/tensor.js';
import { CpuRuntime } from '../runtime-cpu/runtime.js';
import { timeRuns } from './tfjs/graphs.js';
import { ensureTorchBaseline, TORCH_PYTHON } from './torch-env.js';
import { scaled } from './train.js';
import type { BenchRow, BenchSuite } from './run.js';

const SIZES = [1000, 5000], CLASSES = 80, IOU = 0.6, THREADS = 2;
/** Per size: the class count and the max_out values timed. */
const SETTINGS = (N: number): { classes: number; outs: number[] }[] => [{ classes: CLASSES, outs: [100, N] }, { classes: 1, outs: [500] }];

/** N boxes in clusters of about 8 near-duplicates on an 800×1216 image, scores in (0, 1), classes skewed to the first few. */
export function nmsInputs(N: number, seed: number): { boxes: Float32Array; scores: Float32Array; classes: Int32Array } {
  const next = rng(seed);
  const boxes = new Float32Array(N * 4), scores = new Float32Array(N), classes = new Int32Array(N);
  const clusters = Array.from({ length: Math.ceil(N / 8) }, () => {
    const w = 16 + next() ** 2 * 300, h = 16 + next() ** 2 * 300;
    return { x: next() * (1216 - w), y: next() * (800 - h), w, h, c: Math.floor(next() ** 2 * CLASSES) };
  });
  for (let i = 0; i < N; i++) {
    const k = clusters[Math.floor(next() * clusters.length)];
    const jitter = (s: number): number => (next() - 0.5) * 0.2 * s;
    const x1 = Math.max(0, k.x + jitter(k.w)), y1 = Math.max(0, k.y + jitter(k.h));
    boxes.set([x1, y1, x1 + k.w * (0.85 + 0.3 * next()), y1 + k.h * (0.85 + 0.3 * next())], i * 4);
    scores[i] = next();
    classes[i] = next() < 0.9 ? k.c : Math.floor(next() * CLASSES);
  }
  return { boxes, scores, classes };
}

function nmsGraph(N: number, maxOut: number): Graph {
  const b = new GraphBuilder();
  const bx = b.input('boxes', { dtype: 'f32', shape: [1, N, 4] }, NO_SPAN);
  const sc = b.input('scores', { dtype: 'f32', shape: [1, N] }, NO_SPAN);
  const cl = b.input('classes', { dtype: 'i32', shape: [1, N] }, NO_SPAN);
  const [keep, count] = b.node('nms', [bx, sc, cl], { iou_threshold: IOU, max_out: maxOut, score_threshold: -Infinity },
    [{ dtype: 'i32', shape: [1, maxOut] }, { dtype: 'i32', shape: [1] }], NO_SPAN, '');
  b.output('keep', keep);
  b.output('count', count);
  return b.graph;
}

const TORCHVISION = `
import sys, time, json, numpy as np, torch, torchvision
n, path, reps, threads, iou = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
outs = [int(x) for x in sys.argv[6].split(',')]
torch.set_num_threads(threads)
raw = np.fromfile(path, dtype=np.float32)
boxes = torch.from_numpy(raw[:4 * n].reshape(n, 4).copy()); scores = torch.from_numpy(raw[4 * n:5 * n].copy())
classes = torch.from_numpy(raw[5 * n:6 * n].astype(np.int64))
res = {}
for m in outs:
    keep = torchvision.ops.batched_nms(boxes, scores, classes, iou)[:m]
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); k = torchvision.ops.batched_nms(boxes, scores, classes, iou)[:m]; times.append(time.perf_counter() - t0)
    times.sort()
    res[str(m)] = {'best': times[0], 'median': times[len(times) // 2], 'keep': keep.tolist()}
print(json.dumps(res))
`;

interface Side { best: number; median: number; keep: number[] }

/** Ours on the CPU runtime: best and median of reps runs, and the kept list. */
export async function timeOurs(rt: CpuRuntime, N: number, maxOut: number, inputs: Record<string, Tensor>, reps: number): Promise<Side> {
  const exe = await rt.load(compileGraph(nmsGraph(N, maxOut), CPU));
  try {
    const t = await timeRuns(exe, inputs, reps);
    const out = await exe.run(inputs);
    return { ...t, keep: Array.from(out.keep.data.subarray(0, out.count.data[0])) };
  } finally { exe.dispose(); }
}

export const nmsSuite: BenchSuite = {
  name: 'nms',
  title: `nms: class-aware batched NMS alone, 1 image, ${CLASSES} classes or one, IoU ${IOU} (CPU runtime vs torchvision batched_nms, PyTorch CPU ${THREADS} threads)`,
  async run() {
    const notes = ensureTorchBaseline();
    const rt = new CpuRuntime();
    const rows: BenchRow[] = [];
    const raw: Record<string, unknown> = {};
    for (const N of SIZES) {
      for (const { classes: C, outs } of SETTINGS(N)) {
        const { boxes, scores, classes } = nmsInputs(N, 13 + N);
        if (C === 1) classes.fill(0);
        const inputs = { boxes: tensor('f32', [1, N, 4], boxes), scores: tensor('f32', [1, N], scores), classes: tensor('i32', [1, N], classes) };
        const reps = scaled(N > 2000 ? 10 : 30);
        const dir = mkdtempSync(join(tmpdir(), 'fusedet-nms-'));
        let tv: Record<string, Side>;
        try {
          const file = join(dir, 'in.f32');
          writeFileSync(file, Buffer.concat([boxes, scores, Float32Array.from(classes)].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
          tv = JSON.parse(execFileSync(TORCH_PYTHON, ['-c', TORCHVISION, String(N), file, String(reps), String(THREADS), String(IOU), outs.join(',')], { encoding: 'utf8' }).trim().split('\n').pop()!);
        } finally { rmSync(dir, { recursive: true, force: true }); }
        for (const maxOut of outs) {
          const ours = await timeOurs(rt, N, maxOut, inputs, reps);
          const theirs = tv[String(maxOut)];
          const agree = ours.keep.length === theirs.keep.length && ours.keep.every((k, i) => k === theirs.keep[i]);
          const key = `${N}/${maxOut}${C === 1 ? '/1class' : ''}`;
          rows.push({
            what: `nms N=${N}${C === 1 ? ' 1 class' : ''} max_out=${maxOut} (${ours.keep.length} kept)`,
            ours: ours.best * 1000, baseline: theirs.best * 1000, baselineName: 'torchvision batched_nms', unit: 'ms', ratio: theirs.best / ours.best,
          });
          notes.push(`${key}: medians ours ${(ours.median * 1000).toFixed(2)} ms, torchvision ${(theirs.median * 1000).toFixed(2)} ms; kept lists ${agree ? 'agree' : 'DISAGREE'}`);
          raw[key] = { ours: { best: ours.best, median: ours.median, kept: ours.keep.length }, torchvision: { best: theirs.best, median: theirs.median, kept: theirs.keep.length }, agree };
        }
      }
    }
    return { rows, raw, notes };
  },
};
