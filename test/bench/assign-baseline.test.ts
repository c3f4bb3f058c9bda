// The train suite's baselines compute what fusedet computes: the numpy/scipy
// assignment (bench/torch/assign_np.py) gives AssignImage's POTO total and
// Quality-ATSS owners on the same random image, and the COCO-like ground
// truth both training steps share stays inside the image.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import { compareAssign } from '../../bench/train-suite.js';
import { cocoLikeGt } from '../../bench/train.js';
import { cpuOrSkip, testUnless } from '../helpers/skip.js';

const cpu = await cpuOrSkip();
const py = spawnSync('/usr/bin/python3', ['-c', 'import numpy, scipy'], { encoding: 'utf8' });
const withPython = testUnless(cpu.reason ?? (py.status === 0 ? undefined : '/usr/bin/python3 has no numpy/scipy'));

withPython('assign_np.py = AssignImage on the CPU runtime (96×128, 7 GTs): POTO total and Quality-ATSS owners', async () => {
  for (const seed of [1, 2]) {
    const r = await compareAssign(96, 128, 7, 1, seed);
    assert.ok(r.total > 0, `seed ${seed}: no GT found a candidate (total ${r.total})`);
    assert.ok(Math.abs(r.total - r.numpyTotal) <= 1e-4 * r.G, `seed ${seed}: POTO total ${r.total} vs scipy ${r.numpyTotal}`);
    assert.is(r.auxDiffer, 0, `seed ${seed}: Quality-ATSS owners differ at ${r.auxDiffer} of ${r.N} locations`);
  }
});

test('cocoLikeGt: the requested count, inside the image, classes in range, the same for the same seed', () => {
  const gt = cocoLikeGt(2, 320, 16, 80);
  assert.equal(gt, cocoLikeGt(2, 320, 16, 80));
  assert.is(gt.boxes.length, 2);
  for (const [b, boxes] of gt.boxes.entries()) {
    assert.is(boxes.length, 16);
    for (const [x1, y1, x2, y2] of boxes) assert.ok(x1 >= 0 && y1 >= 0 && x2 <= 320 && y2 <= 320 && x2 - x1 >= 11 && y2 - y1 >= 11, `image ${b}: box ${[x1, y1, x2, y2]}`);
    assert.ok(gt.classes[b].every((k) => Number.isInteger(k) && k >= 0 && k < 80));
  }
});

test.run();
