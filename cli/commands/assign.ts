// `fusedet assign IN.safetensors OUT.safetensors`: runs the compiled
// assignment of models/assign.fd (AssignImage: POTO and the auxiliary
// Quality-ATSS rule, the same functions the training steps use) on one image
// given as named F32 tensors, and writes the matches.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { checkFilesOrThrow } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { interpret } from '../../compiler/interpret.js';
import type { Graph } from '../../compiler/graph.js';
import { Tensor, tensor } from '../../compiler/tensor.js';
import { SafetensorsError, encodeSafetensors, readSafetensors } from '../../models/checkpoint/safetensors.js';
import { writeFileAtomicSync } from '../../io/files.js';

const usage = `usage: fusedet assign IN.safetensors OUT.safetensors [options]

Runs DeFCN's label assignment (models/assign.fd, as compiled into the
training step) on one image. IN holds F32 tensors:
  points [N,2]         location centres (x, y), all levels level by level, row-major inside a level
  strides [N]          each location's stride
  level_sizes [5]      locations per level (P3..P7)
  cls_logits [N,K]     class logits
  filter_logits [N,1]  optional: 3DMF filter logits (present: POTO's score is sigmoid(cls) * sigmoid(filter))
  pred_boxes [N,4]     decoded boxes x1, y1, x2, y2 (not clipped)
  gt_boxes [G,4]       ground truth x1, y1, x2, y2 (G may be 0)
  gt_classes [G]       0-based classes
OUT gets poto_match [N] and aux_match [N] (I32: GT row, -1 background) and
poto_total [1] (F32: the sum of the matched POTO qualities, -1 outside the prior).

options:
  --alpha A           quality exponent (Mul) / weight (Add) of IoU (default 0.8)
  --quality mul|add   p^(1-A) * IoU^A or (1-A) * p + A * IoU (default mul)
  --prior P           center (radius x own stride, clipped to the box), box (inside the box), none (default center)
  --radius R          the centre prior's radius in strides (default 1.5)
  --aux-topk K        Quality-ATSS candidates per level (default 9)
  --runtime R         cpu, webgpu, cuda, auto or reference (the interpreter) (default cpu)
`;

const PRIORS: Record<string, number> = { center: 0, box: 1, none: 2 };
const QUALITIES: Record<string, number> = { mul: 0, add: 1 };
const RUNTIMES = ['reference', 'cpu', 'webgpu', 'cuda', 'auto'];

function assignSource(): string {
  // dist/cli/commands/assign.js and cli/commands/assign.ts both sit three levels below the package root.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  for (const p of [join(root, 'models', 'assign.fd'), join(root, '..', 'models', 'assign.fd')]) if (existsSync(p)) return p;
  throw new UserError('fusedet assign: models/assign.fd is missing from the installation', 1);
}

function num(flag: string, v: string | undefined, def: number, ok: (x: number) => boolean): number {
  if (v === undefined) return def;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || !ok(x)) throw new UserError(`fusedet assign: --${flag} '${v}' is not valid`, 2);
  return x;
}

/** The named tensor, F32, of the expected rank and dims (undefined dims are free). */
function need(file: string, ts: Map<string, Tensor>, name: string, dims: (number | undefined)[], optional = false): Tensor | undefined {
  const t = ts.get(name);
  const layout = `[${dims.map((d, i) => d ?? 'NKG'[i] ?? '?').join(',')}]`;
  if (!t) {
    if (optional) return undefined;
    throw new UserError(`${file}: no tensor '${name}' (expected F32 ${layout})`, 1);
  }
  if (t.dtype !== 'f32') throw new UserError(`${file}: tensor '${name}' is ${t.dtype.toUpperCase()}, expected F32`, 1);
  if (t.shape.length !== dims.length || dims.some((d, i) => d !== undefined && t.shape[i] !== d)) {
    throw new UserError(`${file}: tensor '${name}' has shape [${t.shape.join(',')}], expected ${layout}`, 1);
  }
  return t;
}

interface Image { inputs: Record<string, Tensor>; sizes: number[]; filter: boolean; G: number; N: number }

function readImage(file: string): Image {
  let ts: Map<string, Tensor>;
  try { ts = readSafetensors(file).tensors; } catch (e) {
    if (e instanceof SafetensorsError || (e as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file}: ${(e as Error).message}`, 1);
    throw e;
  }
  const points = need(file, ts, 'points', [undefined, 2])!;
  const N = points.shape[0];
  const sizesT = need(file, ts, 'level_sizes', [5])!;
  const sizes = Array.from(sizesT.data);
  if (sizes.some((s) => !Number.isInteger(s) || s < 1) || sizes.reduce((a, b) => a + b, 0) !== N) {
    throw new UserError(`${file}: level_sizes [${sizes.join(', ')}] must be 5 positive integers summing to the ${N} points`, 1);
  }
  const cls = need(file, ts, 'cls_logits', [N, undefined])!;
  const filter = need(file, ts, 'filter_logits', [N, 1], true);
  const gt = need(file, ts, 'gt_boxes', [undefined, 4])!;
  const G = gt.shape[0];
  const classes = need(file, ts, 'gt_classes', [G])!;
  const K = cls.shape[1];
  classes.data.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c >= K) throw new UserError(`${file}: gt_classes[${i}] = ${c} is not a class in 0..${K - 1}`, 1);
  });
  if (G > N) throw new UserError(`${file}: ${G} ground-truth boxes but only ${N} locations; each box needs its own location`, 1);
  // G = 0 runs the same program with one padded row and a count of 0.
  const rows = Math.max(G, 1);
  const pad = (t: Tensor, width: number): Tensor => (G > 0 ? t : tensor('f32', width ? [1, width] : [1], new Array<number>(width || 1).fill(0)));
  return {
    inputs: {
      points, strides: need(file, ts, 'strides', [N])!, cls_logits: cls,
      filter_logits: filter ?? tensor('f32', [N, 1], new Array<number>(N).fill(0)),
      pred_boxes: need(file, ts, 'pred_boxes', [N, 4])!, gt_boxes: pad(gt, 4), gt_classes: pad(classes, 0),
      gt_count: tensor('i32', [1], [G]),
    },
    sizes, filter: filter !== undefined, G: rows, N,
  };
}

async function runGraph(graph: Graph, inputs: Record<string, Tensor>, choice: string): Promise<Record<string, Tensor>> {
  if (choice === 'reference') return interpret(graph, inputs, new Map());
  const { parseRuntimeChoice, selectRuntime } = await import('../../runtime/select.js');
  const { compileOptionsFromEnv } = await import('../../runtime/compile-options.js');
  const { compileGraph } = await import('../../compiler/program.js');
  const { runtime } = await selectRuntime(parseRuntimeChoice(choice));
  const exe = await runtime.load(compileGraph(graph, runtime.target, compileOptionsFromEnv()));
  try { return await exe.run(inputs); } finally { exe.dispose(); }
}

const assign: Command = {
  name: 'assign',
  summary: 'run the POTO and auxiliary assignment of one image (safetensors in, matches out)',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv, allowPositionals: true,
      options: {
        alpha: { type: 'string' }, quality: { type: 'string', default: 'mul' }, prior: { type: 'string', default: 'center' },
        radius: { type: 'string' }, 'aux-topk': { type: 'string' }, runtime: { type: 'string', default: 'cpu' },
      },
    });
    if (positionals.length !== 2) throw new UserError(`fusedet assign: give IN.safetensors and OUT.safetensors\n${usage}`, 2);
    if (!(values.prior in PRIORS)) throw new UserError(`fusedet assign: --prior must be center, box or none, not '${values.prior}'`, 2);
    if (!(values.quality in QUALITIES)) throw new UserError(`fusedet assign: --quality must be mul or add, not '${values.quality}'`, 2);
    if (!RUNTIMES.includes(values.runtime)) throw new UserError(`fusedet assign: --runtime must be one of ${RUNTIMES.join(', ')}, not '${values.runtime}'`, 2);
    const alpha = num('alpha', values.alpha, 0.8, (x) => x >= 0 && x <= 1);
    const radius = num('radius', values.radius, 1.5, (x) => x >= 0);
    const topk = num('aux-topk', values['aux-topk'], 9, (x) => Number.isInteger(x) && x >= 1);
    const [inPath, outPath] = positionals;
    const img = readImage(inPath);
    const [n3, n4, n5, n6, n7] = img.sizes;
    const types = Object.fromEntries(Object.entries(img.inputs).map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape] }]));
    const graph = lower(checkFilesOrThrow([assignSource()]), {
      entry: 'AssignImage', inputs: types,
      args: { n3, n4, n5, n6, n7, alpha, quality: QUALITIES[values.quality], prior: PRIORS[values.prior], radius, aux_topk: topk, use_filter: img.filter },
    });
    const out = await runGraph(graph, img.inputs, values.runtime);
    const shaped = (name: string, shape: number[]): Tensor => ({ ...out[name], shape });
    // Atomic: an existing OUT is replaced whole or not at all; a failure names OUT (exit 1).
    const matches = new Map([
      ['poto_match', shaped('poto_match', [img.N])], ['poto_total', shaped('poto_total', [1])], ['aux_match', shaped('aux_match', [img.N])],
    ]);
    const metadata = { tool: 'fusedet assign', alpha: String(alpha), quality: values.quality, prior: values.prior, radius: String(radius), aux_topk: String(topk) };
    writeFileAtomicSync(outPath, (write) => encodeSafetensors(matches, metadata, write));
    let pos = 0, aux = 0;
    for (let n = 0; n < img.N; n++) { if (out.poto_match.data[n] >= 0) pos++; if (out.aux_match.data[n] >= 0) aux++; }
    process.stdout.write(`${outPath}: ${pos} POTO positives (total quality ${out.poto_total.data[0].toFixed(6)}), ${aux} auxiliary positives over ${img.N} locations\n`);
    return 0;
  },
};

export default assign;
