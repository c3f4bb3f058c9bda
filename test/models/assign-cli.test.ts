// `fusedet assign IN OUT` on fixture images: the written POTO total equals
// scipy's optimum and the auxiliary owners equal numpy's (tools/fixtures/
// assign_fixtures.py); no objects gives no positives; bad input exits != 0
// with one line naming the file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, tensor } from '../../compiler/tensor.js';
import { readSafetensors, writeSafetensors } from '../../models/checkpoint/safetensors.js';
import { AssignCase, loadCases } from './assign-cases.js';
import { cpuOrSkip } from '../helpers/skip.js';

const cpu = await cpuOrSkip();
const dir = mkdtempSync(join(tmpdir(), 'fusedet-assign-cli-'));
const cases = loadCases();
const PRIORS = ['center', 'box', 'none'];

function inputFile(c: AssignCase, name: string, edit: (m: Map<string, Tensor>) => void = () => {}): string {
  const m = new Map(Object.entries(c.inputs).filter(([k]) => k !== 'gt_count' && (k !== 'filter_logits' || c.cfg.use_filter)));
  m.set('level_sizes', tensor('f32', [5], c.cfg.sizes));
  edit(m);
  const path = join(dir, `${name}.safetensors`);
  rmSync(path, { force: true });
  writeSafetensors(path, m);
  return path;
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['dist/cli/main.js', 'assign', ...args], { encoding: 'utf8' });
}

const flags = (c: AssignCase): string[] => ['--alpha', String(c.cfg.alpha), '--quality', c.cfg.quality ? 'add' : 'mul', '--prior', PRIORS[c.cfg.prior], '--radius', String(c.cfg.radius)];

function checkImages(picked: AssignCase[], runtime: string): void {
  for (const c of picked) {
    const out = join(dir, `out-${c.id}.safetensors`);
    const r = cli(inputFile(c, `in-${c.id}`), out, ...flags(c), '--runtime', runtime);
    assert.is(r.status, 0, r.stderr);
    const t = readSafetensors(out).tensors;
    const m = t.get('poto_match')!, total = t.get('poto_total')!, aux = t.get('aux_match')!;
    const G = c.inputs.gt_boxes.shape[0];
    assert.ok(Math.abs(total.data[0] - c.want.poto_total.data[0]) <= 1e-4 * G, `image ${c.id}: total ${total.data[0]} vs ${c.want.poto_total.data[0]}`);
    assert.is(Array.from(m.data).filter((v) => v >= 0).length, G);
    assert.is(new Set(Array.from(m.data).filter((v) => v >= 0)).size, G);
    for (let n = 0; n < aux.data.length; n++) if (!c.want.aux_fragile.data[n]) assert.is(aux.data[n], c.want.aux_match.data[n], `image ${c.id}: aux at ${n}`);
  }
}

test('fixture images on the interpreter: POTO total = scipy optimum, one location per GT, aux owners equal', () => checkImages(cases.slice(0, 5), 'reference'));
cpu.test('fixture images on the CPU runtime (the default): the same', () => checkImages([cases[7], cases[11]], 'cpu'));

test('no objects: no positives, total 0; an existing OUT is replaced', () => {
  const c = cases[0];
  const path = inputFile(c, 'empty', (m) => { m.set('gt_boxes', tensor('f32', [0, 4], [])); m.set('gt_classes', tensor('f32', [0], [])); });
  const out = join(dir, 'empty-out.safetensors');
  for (let i = 0; i < 2; i++) {
    const r = cli(path, out, '--runtime', 'reference');
    assert.is(r.status, 0, r.stderr);
  }
  const t = readSafetensors(out).tensors;
  assert.ok(Array.from(t.get('poto_match')!.data).every((v) => v === -1));
  assert.ok(Array.from(t.get('aux_match')!.data).every((v) => v === -1));
  assert.is(t.get('poto_total')!.data[0], 0);
});

test('bad input: one line naming the file or flag, exit != 0, no stack trace', () => {
  const c = cases[1];
  const out = join(dir, 'bad-out.safetensors');
  const cases2: [string[], RegExp, number][] = [
    [[inputFile(c, 'nopoints', (m) => m.delete('points')), out], /nopoints\.safetensors: no tensor 'points'/, 1],
    [[inputFile(c, 'sizes', (m) => m.set('level_sizes', tensor('f32', [5], [1, 1, 1, 1, 1]))), out], /level_sizes .* summing to/, 1],
    [[inputFile(c, 'cls', (m) => m.set('gt_classes', tensor('f32', [c.inputs.gt_classes.shape[0]], new Array<number>(c.inputs.gt_classes.shape[0]).fill(99)))), out], /gt_classes\[0\] = 99/, 1],
    [[inputFile(c, 'i32', (m) => m.set('strides', tensor('i32', [c.inputs.strides.shape[0]], Array.from(c.inputs.strides.data)))), out], /'strides' is I32, expected F32/, 1],
    [[join(dir, 'missing.safetensors'), out], /missing\.safetensors/, 1],
    [[inputFile(c, 'ok'), out, '--prior', 'ring'], /--prior must be center, box or none/, 2],
    [[inputFile(c, 'ok2'), out, '--alpha', '1.5'], /--alpha '1\.5' is not valid/, 2],
    [[inputFile(c, 'ok3')], /give IN\.safetensors and OUT\.safetensors/, 2],
    // OUT under a regular file: the atomic writer's message names the path, nothing is left behind.
    [[inputFile(c, 'ok4'), join(inputFile(c, 'notdir'), 'out.safetensors')], /notdir\.safetensors.* is a file, not a folder/, 1],
  ];
  for (const [args, re, code] of cases2) {
    const r = cli(...args);
    assert.is(r.status, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
