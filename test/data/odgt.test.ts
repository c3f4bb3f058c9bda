// The odgt reader and writer: round trips, streaming, and every bad-input
// message naming file, line and column.
import { FileError } from '../../io/files.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BadRecordLog, DataRecordError, isIgnoreBox, locateJsonPath, readOdgtDets, readOdgtGt, writeOdgt,
  type OdgtDetRecord, type OdgtGtRecord,
} from '../../data/odgt.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-odgt-'));
let n = 0;
function file(lines: string[]): string {
  const p = join(dir, `f${n++}.odgt`);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}
async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
async function rejects(p: Promise<unknown>, re: RegExp): Promise<DataRecordError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, DataRecordError);
    assert.match((e as Error).message, re);
    assert.is((e as DataRecordError).exitCode, 1);
    return e as DataRecordError;
  }
  throw new assert.Assertion({ message: `expected a rejection matching ${re}`, operator: 'rejects', expects: re, actual: 'resolved' });
}

const good = '{"ID":"a","width":100,"height":80,"gtboxes":[{"tag":"person","fbox":[1,2,30,40],"vbox":[1,2,20,30],"hbox":[5,2,8,8],"extra":{"occ":1},"head_attr":{"ignore":0}},{"tag":"mask","fbox":[0,0,10,10],"extra":{"ignore":1}}]}';

test('reads ground truth with every field', async () => {
  const [r] = await collect(readOdgtGt(file([good, '', '{"ID":"b","gtboxes":[]}'])));
  assert.is(r!.id, 'a');
  assert.equal([r!.width, r!.height, r!.line], [100, 80, 1]);
  assert.equal(r!.gtboxes[0]!.fbox, [1, 2, 30, 40]);
  assert.equal(r!.gtboxes[0]!.hbox, [5, 2, 8, 8]);
  assert.equal(r!.gtboxes[0]!.headAttr, { ignore: 0 });
  assert.is(isIgnoreBox(r!.gtboxes[0]!), false);
  assert.is(isIgnoreBox(r!.gtboxes[1]!), true);
});

test('a byte-order mark before the first line is ignored', async () => {
  const [r] = await collect(readOdgtGt(file(['\uFEFF' + good])));
  assert.is(r!.id, 'a');
});

test('blank lines are skipped and line numbers stay true', async () => {
  const rs = await collect(readOdgtGt(file([good, '', '{"ID":"b","gtboxes":[]}'])));
  assert.equal(rs.map((r) => [r.id, r.line]), [['a', 1], ['b', 3]]);
});

test('extra.ignore follows the reference: anything but 0 or false ignores', () => {
  const box = (v: unknown) => ({ tag: 'person', fbox: [0, 0, 1, 1] as [number, number, number, number], extra: { ignore: v } as never });
  assert.equal([0, false, 1, 2, true, '0'].map((v) => isIgnoreBox(box(v))), [false, false, true, true, true, true]);
});

test('writer round-trips ground truth and detections, refuses to overwrite without force', async () => {
  const gt: OdgtGtRecord[] = (await collect(readOdgtGt(file([good]))));
  const out = join(dir, 'gt-out.odgt');
  assert.is(await writeOdgt(out, gt), 1);
  const back = await collect(readOdgtGt(out));
  assert.equal(back, gt);
  await rejects(writeOdgt(out, gt), /already exists; pass --force/);
  const dets: OdgtDetRecord[] = [{ id: 'a', line: 1, width: 10, height: 10, dtboxes: [{ box: [1, 2, 3, 4], score: 0.5, tag: 'person' }, { box: [0, 0, 1, 1], score: 0.25 }] }];
  assert.is(await writeOdgt(out, dets, { force: true }), 1);
  assert.equal(await collect(readOdgtDets(out)), dets);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary file left behind');
});

test('streams: records before a bad line are delivered before the error', async () => {
  const lines = Array.from({ length: 3000 }, (_, i) => `{"ID":"${i}","gtboxes":[{"tag":"person","fbox":[0,0,5,5]}]}`);
  lines.push('{"ID":"x","gtboxes":[');
  let seen = 0;
  const e = await rejects((async () => { for await (const _ of readOdgtGt(file(lines))) seen++; })(), /malformed JSON/);
  assert.is(seen, 3000);
  assert.is(e.line, 3001);
});

test('malformed JSON: line and column', async () => {
  const e = await rejects(collect(readOdgtGt(file([good, '{"ID":"b","gtboxes":[}]}']))), /f\d+\.odgt:2:22: malformed JSON/);
  assert.equal([e.line, e.column], [2, 22]);
});

test('missing fields name the record and point at it', async () => {
  await rejects(collect(readOdgtGt(file(['{"gtboxes":[]}']))), /:1:1: record: missing field 'ID'/);
  await rejects(collect(readOdgtGt(file(['{"ID":"q"}']))), /:1:1: record ID "q": missing field 'gtboxes'$/);
  await rejects(collect(readOdgtGt(file(['{"ID":"q","dtboxes":[]}']))), /missing field 'gtboxes' \(this line has 'dtboxes': a detections file/);
  const line = '{"ID":"q","gtboxes":[{"tag":"person","fbox":[0,0,1,1]},{"tag":"person"}]}';
  const e = await rejects(collect(readOdgtGt(file([line]))), /record ID "q": missing field 'gtboxes\[1\]\.fbox'/);
  assert.is(e.column, line.indexOf('{"tag":"person"}') + 1);
  await rejects(collect(readOdgtGt(file(['{"ID":"q","gtboxes":[{"fbox":[0,0,1,1]}]}']))), /gtboxes\[0\]: missing field 'tag'/);
});

test('a box with negative size: column of the box', async () => {
  const line = '{"ID":"n","gtboxes":[{"tag":"person","fbox":[3,4,-2,5]}]}';
  const e = await rejects(collect(readOdgtGt(file([line]))), /record ID "n": 'gtboxes\[0\]\.fbox' has negative size \(w -2, h 5\)/);
  assert.is(e.column, line.indexOf('[3,4') + 1);
});

test('a tag that is not a non-empty string is an error', async () => {
  await rejects(collect(readOdgtGt(file(['{"ID":"t","gtboxes":[{"tag":7,"fbox":[0,0,1,1]}]}']))), /'tag' must be a non-empty string, got 7/);
  await rejects(collect(readOdgtGt(file(['{"ID":"t","gtboxes":[{"tag":"","fbox":[0,0,1,1]}]}']))), /'tag' must be a non-empty string/);
});

test('bad numbers and sizes', async () => {
  await rejects(collect(readOdgtGt(file(['{"ID":"s","gtboxes":[{"tag":"person","fbox":[0,0,"1",1]}]}']))), /must be \[x, y, w, h\]/);
  await rejects(collect(readOdgtGt(file(['{"ID":"s","width":0,"gtboxes":[]}']))), /'width' must be a positive number/);
  await rejects(collect(readOdgtDets(file(['{"ID":"d","dtboxes":[{"box":[0,0,1,1]}]}']))), /dtboxes\[0\]: missing field 'score'/);
  await rejects(collect(readOdgtDets(file(['{"ID":"d","dtboxes":[{"box":[0,0,1,1],"score":"high"}]}']))), /'score' must be a finite number/);
});

test('skipBad drops a bad box or a bad line and counts them', async () => {
  const bad = new BadRecordLog();
  const rs = await collect(readOdgtGt(file([
    '{"ID":"a","gtboxes":[{"tag":"person","fbox":[0,0,1,1]},{"tag":"person","fbox":[0,0,-1,1]}]}',
    'not json',
    '{"ID":"c","gtboxes":[]}',
  ]), { skipBad: true, bad }));
  assert.equal(rs.map((r) => [r.id, r.gtboxes.length]), [['a', 1], ['c', 0]]);
  assert.is(bad.count, 2);
  assert.match(bad.summary(), /skipped 2 bad records/);
  assert.match(bad.examples[1]!, /:2:2: malformed JSON: expected 'null'/);
});

test('a missing file is a user error naming it', async () => {
  // Opened through io/files.ts: a FileError (a FusedetError), as for every path a user gives.
  try { await collect(readOdgtGt(join(dir, 'nope.odgt'), { what: '--gt' })); } catch (e) {
    assert.instance(e, FileError);
    assert.match((e as Error).message, /^--gt .*nope\.odgt: no such file or folder \(ENOENT\)/);
    assert.is((e as FileError).exitCode, 1);
    return;
  }
  assert.unreachable('expected a rejection');
});

test('locateJsonPath finds nested values, escaped strings included', () => {
  const t = '{"a\\"b":[1,{"x":"]},"},2],"k":{"z":[10,20,30]}}';
  assert.is(t.slice(locateJsonPath(t, ['k', 'z', 2])).slice(0, 2), '30');
  assert.is(t.slice(locateJsonPath(t, ['a"b', 2]))[0], '2');
  assert.is(locateJsonPath(t, ['missing']), 0);
});

test('reader keeps going over a long file without holding it: 20k lines', async () => {
  const p = join(dir, 'big.odgt');
  const line = (i: number) => JSON.stringify({ ID: `img${i}`, width: 640, height: 480, gtboxes: [{ tag: 'person', fbox: [i % 600, 10, 20, 40], extra: {} }] });
  writeFileSync(p, Array.from({ length: 20000 }, (_, i) => line(i)).join('\n'));
  let count = 0, last = '';
  for await (const r of readOdgtGt(p)) { count++; last = r.id; }
  assert.equal([count, last], [20000, 'img19999']);
  assert.ok(existsSync(p) && readFileSync(p, 'utf8').length > 1e6);
});

test.run();
