// The assignment fixtures (tools/fixtures/assign_fixtures.py: POTO optimal
// totals, Quality-ATSS and FCOS targets computed with numpy/scipy from
// DEFCN.md) and the graphs of models/assign.fd that must reproduce them:
// AssignImage (what `fusedet assign` runs) and a probe over fcos_owner,
// targets and centerness_target.
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkFiles } from '../../dsl/index.js';
import type { Program } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import type { Graph } from '../../compiler/graph.js';
import { Tensor, tensor } from '../../compiler/tensor.js';
import { readSafetensors } from '../../models/checkpoint/safetensors.js';

export interface AssignConfig { H: number; W: number; K: number; sizes: number[]; alpha: number; quality: number; prior: number; radius: number; use_filter: boolean }

export interface AssignCase {
  id: string;
  cfg: AssignConfig;
  /** AssignImage's inputs. */
  inputs: Record<string, Tensor>;
  /** What the fixture says (poto_total, aux_match, aux_fragile, fcos_match, fcos_ltrb, fcos_ctr). */
  want: Record<string, Tensor>;
}

const DIR = 'test/fixtures/assign';
/** The other rules' owners in the fixtures and the RulesProbe's outputs. */
export const RULES = ['argmax_match', 'center_match', 'atss_match', 'qfcos_match', 'qtopk_match', 'anchor_match'];
const INPUTS = ['points', 'strides', 'cls_logits', 'filter_logits', 'pred_boxes', 'gt_boxes', 'gt_classes'];

export function loadCases(): AssignCase[] {
  const cases: AssignCase[] = [];
  for (const f of readdirSync(DIR).filter((n) => n.endsWith('.safetensors')).sort()) {
    const { tensors, metadata } = readSafetensors(join(DIR, f));
    for (const [id, json] of Object.entries(metadata)) {
      const get = (n: string): Tensor => {
        const t = tensors.get(`${id}/${n}`);
        if (!t) throw new Error(`${f}: no tensor ${id}/${n}`);
        return t;
      };
      const inputs: Record<string, Tensor> = Object.fromEntries(INPUTS.map((n) => [n, get(n)]));
      inputs.gt_count = tensor('i32', [1], [inputs.gt_boxes.shape[0]]);
      const want = Object.fromEntries(['poto_total', 'aux_match', 'aux_fragile', 'fcos_match', 'fcos_ltrb', 'fcos_ctr', ...RULES, 'rules_fragile', 'fg_total'].map((n) => [n, get(n)]));
      cases.push({ id, cfg: JSON.parse(json) as AssignConfig, inputs, want });
    }
  }
  return cases.sort((a, b) => Number(a.id) - Number(b.id));
}

const probeDir = mkdtempSync(join(tmpdir(), 'fusedet-assign-'));
const probeFile = join(probeDir, 'probe.fd');
// The probe lives in a temporary folder: models/ is an include folder for its import.
writeFileSync(probeFile, `import "assign.fd"
// FCOS's targets of one image given flat, as assign.fd computes them inside FCOSTrain.loss.
module FcosProbe(K: int) {
  fn forward(points: f32[N, 2], strides: f32[N], lo: f32[N], hi: f32[N], gt_boxes: f32[G, 4], gt_classes: f32[G], gt_count: i32[1]) {
    let gb = reshape(gt_boxes, shape = [1, G, 4])
    let owner = fcos_owner(points, strides, lo, hi, gb, gt_count, 1.5)
    let (cls_t, box_t, w) = targets(owner, points, gb, reshape(cast(gt_classes, dtype = "i32"), shape = [1, G]), K)
    let ctr = centerness_target(box_t, w)
    return (owner, cls_t, box_t, w, ctr)
  }
}

// Table 4's argmax and Table 1's Center rule (one-to-one), Table 9's ATSS,
// Quality-FCOS and Quality-Top-k (auxiliary) of one image given flat.
module RulesProbe(K: int, n3: int, n4: int, n5: int, n6: int, n7: int, alpha: float, quality: int, prior: int, radius: float, use_filter: bool) {
  fn forward(points: f32[N, 2], strides: f32[N], lo: f32[N], hi: f32[N], cls_logits: f32[N, K], filter_logits: f32[N, 1], pred_boxes: f32[N, 4], gt_boxes: f32[G, 4], gt_classes: f32[G], gt_count: i32[1]) {
    let cls = reshape(transpose(sigmoid(cls_logits), perm = [1, 0]), shape = [1, K, N])
    let p = score(cls, reshape(filter_logits, shape = [1, 1, N]), use_filter)
    let boxes = reshape(pred_boxes, shape = [1, N, 4])
    let gb = reshape(gt_boxes, shape = [1, G, 4])
    let gc = reshape(cast(gt_classes, dtype = "i32"), shape = [1, G])
    let q = poto_quality(p, boxes, gb, gc, alpha, quality == 1)
    let omega = prior_mask(points, strides, gb, prior, radius)
    let qa = poto_quality(cls, boxes, gb, gc, alpha, false)
    let ns = (n3, n4, n5, n6, n7)
    let argmax_match = one_to_one(4, q, omega, p, boxes, points, strides, lo, hi, gb, gc, gt_count, ns)
    let center_match = one_to_one(2, q, omega, p, boxes, points, strides, lo, hi, gb, gc, gt_count, ns)
    let atss_match = one_to_many(3, qa, points, strides, lo, hi, gb, gt_count, ns, 9)
    let qfcos_match = one_to_many(4, qa, points, strides, lo, hi, gb, gt_count, ns, 9)
    let qtopk_match = one_to_many(5, qa, points, strides, lo, hi, gb, gt_count, ns, 9)
    let anchor_match = one_to_one(1, q, omega, p, boxes, points, strides, lo, hi, gb, gc, gt_count, ns)
    let fg_m = match(foreground_quality(p, boxes, gb, gc, omega), gt_count)
    let fg_in = gather(cast(omega, dtype = "f32"), reshape(maximum(fg_m, 0), shape = [1, G, 1]), axis = 2)
    return (argmax_match, center_match, atss_match, qfcos_match, qtopk_match, anchor_match, fg_m, fg_in)
  }
}
`);

let programs: { assign: Program; probe: Program } | undefined;
function loaded(): { assign: Program; probe: Program } {
  if (programs) return programs;
  const load = (f: string): Program => {
    const { program, diagnostics } = checkFiles([f], { include: [resolve('models')] });
    if (!program || diagnostics.some((d) => d.severity === 'error')) throw new Error(diagnostics.map((d) => d.message).join('\n'));
    return program;
  };
  programs = { assign: load('models/assign.fd'), probe: load(probeFile) };
  return programs;
}

const typesOf = (inputs: Record<string, Tensor>) => Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape] }]));

/** AssignImage lowered for a case's sizes and settings. */
export function assignGraph(c: AssignCase, overrides: Record<string, number | boolean> = {}): Graph {
  const [n3, n4, n5, n6, n7] = c.cfg.sizes;
  const args = { n3, n4, n5, n6, n7, alpha: c.cfg.alpha, quality: c.cfg.quality, prior: c.cfg.prior, radius: c.cfg.radius, use_filter: c.cfg.use_filter, ...overrides };
  return lower(loaded().assign, { entry: 'AssignImage', inputs: typesOf(c.inputs), args });
}

const RANGES = [[-1, 64], [64, 128], [128, 256], [256, 512], [512, 1e30]];

/** Per-location level values of a case: [N]. */
function levelValues(c: AssignCase, f: (l: number) => number): Tensor {
  return tensor('f32', [c.inputs.strides.shape[0]], c.cfg.sizes.flatMap((n, l) => Array<number>(n).fill(f(l))));
}

/** The FCOS probe's graph and inputs for a case. */
export function fcosProbe(c: AssignCase): { graph: Graph; inputs: Record<string, Tensor> } {
  const inputs: Record<string, Tensor> = {
    points: c.inputs.points, strides: c.inputs.strides, lo: levelValues(c, (l) => RANGES[l][0]), hi: levelValues(c, (l) => RANGES[l][1]),
    gt_boxes: c.inputs.gt_boxes, gt_classes: c.inputs.gt_classes, gt_count: c.inputs.gt_count,
  };
  return { graph: lower(loaded().probe, { entry: 'FcosProbe', inputs: typesOf(inputs), args: { K: c.cfg.K } }), inputs };
}

/** The rules probe's graph and inputs for a case. */
export function rulesProbe(c: AssignCase): { graph: Graph; inputs: Record<string, Tensor> } {
  const inputs: Record<string, Tensor> = { ...c.inputs, lo: levelValues(c, (l) => RANGES[l][0]), hi: levelValues(c, (l) => RANGES[l][1]) };
  const [n3, n4, n5, n6, n7] = c.cfg.sizes;
  const args = { K: c.cfg.K, n3, n4, n5, n6, n7, alpha: c.cfg.alpha, quality: c.cfg.quality, prior: c.cfg.prior, radius: c.cfg.radius, use_filter: c.cfg.use_filter };
  return { graph: lower(loaded().probe, { entry: 'RulesProbe', inputs: typesOf(inputs), args }), inputs };
}

/** Asserts POTO (one location per GT, total = scipy's optimum) and the aux owners of one case; returns the fragile locations skipped. */
export function checkAssign(c: AssignCase, out: Record<string, { data: ArrayLike<number> }>): { fragile: number } {
  const G = c.inputs.gt_boxes.shape[0], N = c.inputs.points.shape[0];
  const m = out.poto_match.data, aux = out.aux_match.data;
  // One-to-one: every GT exactly one location.
  const seen = new Array<number>(G).fill(0);
  for (let n = 0; n < N; n++) if (m[n] >= 0) { assert.ok(m[n] < G, `image ${c.id}: poto_match[${n}] = ${m[n]}`); seen[m[n]]++; }
  assert.ok(seen.every((s) => s === 1), `image ${c.id}: GT locations per GT ${seen.join(',')}`);
  const want = c.want.poto_total.data[0], got = out.poto_total.data[0];
  assert.ok(Math.abs(got - want) <= 1e-4 * Math.max(1, G), `image ${c.id} (G ${G}, N ${N}, ${JSON.stringify(c.cfg)}): POTO total ${got} vs scipy ${want}`);
  let fragile = 0;
  for (let n = 0; n < N; n++) {
    if (c.want.aux_fragile.data[n]) { fragile++; continue; }
    assert.is(aux[n], c.want.aux_match.data[n], `image ${c.id}: aux owner of location ${n}: ${aux[n]} vs ${c.want.aux_match.data[n]}`);
  }
  return { fragile };
}

/** Asserts the FCOS probe's owners, one-hot, ltrb and centerness targets of one case. */
export function checkFcos(c: AssignCase, out: Record<string, { data: ArrayLike<number> }>): void {
  const N = c.inputs.points.shape[0], K = c.cfg.K;
  const owner = out.owner.data, hot = out.cls_t.data, box = out.box_t.data, w = out.w.data, ctr = out.ctr.data;
  for (let n = 0; n < N; n++) {
    const g = c.want.fcos_match.data[n];
    assert.is(owner[n], g, `image ${c.id}: FCOS owner of location ${n}`);
    assert.is(w[n], g >= 0 ? 1 : 0);
    for (let k = 0; k < K; k++) assert.is(hot[k * N + n], g >= 0 && c.inputs.gt_classes.data[g] === k ? 1 : 0, `image ${c.id}: one-hot at class ${k}, location ${n}`);
    if (g < 0) continue;
    for (let j = 0; j < 4; j++) assert.is(box[j * N + n], c.want.fcos_ltrb.data[n * 4 + j], `image ${c.id}: ltrb ${j} at location ${n}`);
    assert.ok(Math.abs(ctr[n] - c.want.fcos_ctr.data[n]) <= 1e-6, `image ${c.id}: centerness at ${n}: ${ctr[n]} vs ${c.want.fcos_ctr.data[n]}`);
  }
}


const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** The Foreground-loss cost (focal 0.25/2 at the GT's class + 2 (1 - GIoU), eps 1e-7) of GT g at location n, in f64. */
export function foregroundCost(c: AssignCase, g: number, n: number): number {
  const K = c.cfg.K, cls = c.inputs.gt_classes.data[g];
  let p = sigmoid(c.inputs.cls_logits.data[n * K + cls]);
  if (c.cfg.use_filter) p *= sigmoid(c.inputs.filter_logits.data[n]);
  const focal = 0.25 * (1 - p) ** 2 * -Math.log(Math.max(p, 1e-8));
  const a = Array.from(c.inputs.gt_boxes.data.slice(g * 4, g * 4 + 4)), b = Array.from(c.inputs.pred_boxes.data.slice(n * 4, n * 4 + 4));
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])), ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih, union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  const enc = (Math.max(a[2], b[2]) - Math.min(a[0], b[0])) * (Math.max(a[3], b[3]) - Math.min(a[1], b[1]));
  return focal + 2 * (1 - (inter / Math.max(union, 1e-7) - (enc - union) / Math.max(enc, 1e-7)));
}
