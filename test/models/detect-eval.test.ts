// evaluateDetector as the training loop calls it: a detector on weights in
// memory (Detector.fromTensors, training names with the "net." prefix), NMS
// off and on, both protocols, on generated scenes; and openEvalData's
// dataset forms (folder, COCO file, .odgt beside it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '../../compiler/tensor.js';
import { loadConfig } from '../../models/config.js';
import { Detector } from '../../models/detector.js';
import { evaluateDetector, formatEvalTable, openEvalData } from '../../models/evaluate.js';
import { decisiveWeights } from './detect-weights.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-detect-eval-'));
const scenes = join(dir, 'scenes');
const r = spawnSync(process.execPath, ['dist/cli/main.js', 'data', 'scenes', '--out', scenes, '--images', '2', '--size', '64', '--seed', '9'], { encoding: 'utf8' });
if (r.status !== 0) throw new Error(r.stderr);

test('openEvalData: a folder, its COCO file and its .odgt name the same images', async () => {
  const a = await openEvalData(scenes), b = await openEvalData(join(scenes, 'annotations.json')), c = await openEvalData(join(scenes, 'annotations.odgt'));
  for (const d of [a, b, c]) {
    assert.is(d.images.length, 2);
    assert.ok(d.coco?.endsWith('annotations.json') && d.odgt?.endsWith('annotations.odgt'));
    assert.is(d.classNames.length, 10);
  }
  assert.equal(a.images, c.images);
});

test('weights in memory (training names), NMS off and on, both protocols', async () => {
  const cfg = loadConfig('tiny-defcn');
  const train = new Map<string, Tensor>();
  for (const [k, t] of decisiveWeights(cfg)) train.set(`net.${k}`, t);
  const detector = Detector.fromTensors(cfg, train, { runtime: 'reference', label: 'step 0' });
  const data = await openEvalData(scenes);
  let calls = 0;
  const rep = await evaluateDetector(data, { detector, out: join(dir, 'out'), nms: 'both', protocol: 'both', onProgress: () => { calls++; } });
  assert.is(calls, 4, 'two images, two passes');
  assert.equal(rep.rows.map((w) => w.nms), [false, true]);
  for (const w of rep.rows) {
    assert.ok(w.coco !== undefined && w.crowd !== undefined);
    const dets = JSON.parse(readFileSync(w.results, 'utf8')) as unknown[];
    assert.is(w.coco!.detections, dets.length);
    assert.ok(dets.length > 0);
  }
  // NMS only removes detections of a no-NMS run of the same detector.
  assert.ok(rep.rows[1].coco!.detections <= rep.rows[0].coco!.detections);
  assert.match(formatEvalTable(rep), /AP50/);
});

test.run();
