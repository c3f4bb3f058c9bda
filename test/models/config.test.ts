// configs/*.json and models/config.ts: every committed config loads; bad
// fields are errors naming the file and the field; the model hash follows the
// model part only; the rows of the paper's tables are all there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, checkConfigModels, configRecord, listConfigs, loadConfig, parseConfig, recordMismatch } from '../../models/config.js';

const names = listConfigs();
const raw = (name: string): Record<string, any> => JSON.parse(readFileSync(`configs/${name}.json`, 'utf8'));

test('every config in configs/ loads', () => {
  assert.ok(names.length >= 50, `${names.length} configs`);
  for (const n of names) {
    const c = loadConfig(n);
    assert.is(c.name, n);
    assert.match(c.modelHash, /^[0-9a-f]{16}$/);
  }
});

test('one file per row of Tables 1, 3, 4, 5, 6 and 9, plus the small versions', () => {
  const count = (prefix: string) => names.filter((n) => n.startsWith(prefix)).length;
  assert.is(count('table1-'), 7);
  assert.is(count('table3-'), 18);
  assert.is(count('table4-'), 4);
  assert.is(count('table5-'), 6);
  assert.is(count('table6-'), 9);
  assert.is(count('table9-'), 6);
  assert.is(count('quality-table1-'), 7);
  for (const n of ['small-defcn', 'small-fcos', 'tiny-defcn', 'tiny-fcos']) assert.ok(names.includes(n), n);
  // Paper settings: R50, COCO sizes, 180k at batch 16, 100 detections; CrowdHuman keeps 500.
  const t = loadConfig('table1-poto-3dmf-aux');
  assert.equal([t.train.args.depth, t.schedule.steps, t.schedule.batch, t.data.maxSize, t.inference.detections], [50, 180000, 16, 1333, 100]);
  assert.equal(t.data.shortSides, [640, 672, 704, 736, 768, 800]);
  assert.is(loadConfig('crowdhuman-poto-3dmf-aux').inference.detections, 500);
  assert.is(loadConfig('table1-fcos').inference.nms, true);
  assert.is(t.inference.nms, false);
});

test('the model hash covers the model part only', () => {
  const a = loadConfig('table1-poto-3dmf-aux'), b = loadConfig('table5-poto-3dmf-aux'), c = loadConfig('table1-poto-3dmf');
  assert.is(a.modelHash, b.modelHash, 'same model, same hash (descriptions differ)');
  assert.is.not(a.modelHash, c.modelHash, 'aux on/off is a different model');
  const v = raw('small-defcn');
  v.schedule.steps = 7;
  assert.is(parseConfig(v, 'x.json').modelHash, loadConfig('small-defcn').modelHash, 'the schedule is not part of the model');
  // Key order does not matter.
  const reordered = { ...v, train: Object.fromEntries(Object.entries(v.train).reverse()) };
  assert.is(parseConfig(reordered, 'x.json').modelHash, parseConfig(v, 'x.json').modelHash);
  assert.is(recordMismatch(configRecord(a), b), undefined);
  assert.match(recordMismatch(configRecord(c), a)!, /trained with config 'table1-poto-3dmf'.*not 'table1-poto-3dmf-aux'/);
  assert.match(recordMismatch(null, a)!, /do not record the config/);
});

test('bad fields: one error naming the file and the field', () => {
  const cases: [(v: Record<string, any>) => void, RegExp][] = [
    [(v) => { v.schedule.lr = -1; }, /bad\.json: schedule\.lr must be > 0, not -1/],
    [(v) => { v.schedule.lrr = 1; }, /bad\.json: schedule\.lrr is not a known field/],
    [(v) => { delete v.schedule.batch; }, /bad\.json: schedule\.batch is required/],
    [(v) => { v.schedule.milestones = [5, 3]; }, /schedule\.milestones\[1\] must be after/],
    [(v) => { v.data.mean = [0.5, 0.5]; }, /data\.mean must have 3 numbers, has 2/],
    [(v) => { v.data.sizeBucket = 48; }, /data\.sizeBucket must be a multiple of 32/],
    [(v) => { v.data.flip = 'yes'; }, /data\.flip must be true or false/],
    [(v) => { v.train.args.K = 'ten'; }, /train\.args\.K must be a number or true\/false/],
    [(v) => { v.train.source = 'models/x.py'; }, /train\.source must name a \.fd file/],
    [(v) => { delete v.infer; }, /infer must be an object/],
    [(v) => { v.inference.protocol = 'voc'; }, /inference\.protocol must be coco, crowdhuman or both/],
    [(v) => { v.data.maxBoxes = 4; }, /data\.maxBoxes must be ≥ data\.minBoxes/],
  ];
  for (const [edit, re] of cases) {
    const v = raw('small-defcn');
    edit(v);
    try { parseConfig(v, 'bad.json'); assert.unreachable(`${re}`); } catch (e) {
      assert.instance(e, ConfigError);
      assert.match((e as Error).message, re);
    }
  }
});

test('missing file and bad JSON name the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-config-'));
  writeFileSync(join(dir, 'broken.json'), '{ "train": ');
  assert.throws(() => loadConfig(join(dir, 'broken.json')), (e: Error) => e instanceof ConfigError && /broken\.json: not valid JSON/.test(e.message));
  assert.throws(() => loadConfig('no-such-config'), (e: Error) => /configs\/no-such-config\.json: cannot read the config \(no such file\); configs in configs\/: /.test(e.message));
});

test('each config names modules, functions and constructor arguments its .fd sources declare', () => {
  const failing: string[] = [];
  for (const n of names) {
    try { checkConfigModels(loadConfig(n)); } catch (e) { failing.push(`${n}: ${(e as Error).message.split('\n')[0]}`); }
  }
  assert.equal(failing, []);
  const v = raw('small-defcn');
  v.train.args.alphaa = 0.5;
  assert.throws(() => checkConfigModels(parseConfig(v, 'typo.json')), /typo\.json: train\.args\.alphaa: DeFCNTrain has no constructor parameter 'alphaa'/);
  v.train.args = {};
  v.infer.fn = 'detekt';
  assert.throws(() => checkConfigModels(parseConfig(v, 'typo.json')), /typo\.json: infer\.fn: module DeFCN has no function 'detekt'/);
});

test.run();
