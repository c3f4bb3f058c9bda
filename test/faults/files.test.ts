// Paths a user gives, through the real CLI: missing files, folders, FIFOs,
// empty and text files, byte-order marks, empty .odgt, detections of unknown
// categories, show --skip-bad, data check --images. Each case once printed a
// stack trace, a made-up "found a number", or nothing at all.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../../data/image.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-files-'));
const at = (f: string): string => join(dir, f);

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Exit 1, the message matched, no stack trace. */
function fails(r: ReturnType<typeof cli>, re: RegExp): void {
  assert.is(r.code, 1, `exit code; stderr: ${r.err}`);
  assert.match(r.err, re);
  assert.not.match(r.err, /\n\s+at /, 'no stack trace');
}

const GT = {
  images: [{ id: 1, file_name: 'a.png', width: 8, height: 8 }, { id: 2, file_name: 'b.png', width: 8, height: 8 }],
  annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 1, 4, 4], area: 16, iscrowd: 0 }],
  categories: [{ id: 1, name: 'thing' }],
};
writeFileSync(at('gt.json'), JSON.stringify(GT));
writeFileSync(at('dets.json'), JSON.stringify([{ image_id: 1, category_id: 1, bbox: [1, 1, 4, 4], score: 0.9 }, { image_id: 1, category_id: 7, bbox: [1, 1, 4, 4], score: 0.8 }]));
writeFileSync(at('empty.json'), '');
writeFileSync(at('bom.json'), '\uFEFF' + JSON.stringify(GT));
writeFileSync(at('bom-dets.json'), '\uFEFF[]');
writeFileSync(at('text.json'), 'image_id,score\n1,0.5\n');
writeFileSync(at('empty.odgt'), '');
mkdirSync(at('images'));
writeFileSync(at('images/a.png'), await encodePng({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 3) }));
writeFileSync(at('images/b.png'), 'not a png');

test('a missing file, a folder, a FIFO: one message naming the option, no stack trace', () => {
  fails(cli('data', 'check', '/nonexistent.json'), /\/nonexistent\.json: no such file or folder \(ENOENT\)/);
  fails(cli('data', 'check', dir), /is a folder, not a file/);
  fails(cli('eval', '--gt', dir, '--dets', at('dets.json')), /--gt .*: is a folder, not a file/);
  fails(cli('show', '--gt', at('gt.json'), '--dets', '/missing', '--out', at('o1')), /--dets \/missing: no such file/);
  fails(cli('data', 'check', at('gt.json'), '--dets', '/missing'), /--dets \/missing: no such file/);
  const fifo = at('fifo.json');
  if (spawnSync('mkfifo', [fifo]).status === 0) fails(cli('data', 'check', fifo), /pipe \(FIFO\), not a regular file/);
});

test('show --gt /missing.json names the missing file, not the image folder', () => {
  const r = cli('show', '--gt', '/missing.json', '--out', at('o2'));
  fails(r, /--gt \/missing\.json: no such file/);
  assert.not.match(r.err, /image folder/);
});

test('empty and text files say what was expected and what the file starts with; a BOM is accepted', () => {
  fails(cli('data', 'check', at('empty.json')), /expected a COCO object .*found nothing \(the file is empty\)/);
  fails(cli('data', 'check', at('text.json')), /found text that is not JSON \(the file starts with "image_id,score\\n1,0\.5\\n"\)/);
  fails(cli('data', 'check', at('gt.json'), '--dets', at('empty.json')), /expected a COCO results array .*found nothing \(the file is empty\)/);
  const r = cli('data', 'check', at('bom.json'), '--dets', at('bom-dets.json'));
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /valid COCO file/);
});

test('an empty .odgt is valid but warned about', () => {
  const r = cli('data', 'check', at('empty.odgt'));
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /warning: .*empty\.odgt lists no images at all/);
});

test('detections of a category absent from the ground truth: counted and ignored, as the help says', () => {
  const r = cli('data', 'check', at('gt.json'), '--dets', at('dets.json'));
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /1 detection of category absent from the ground truth \(category_id 7\) ignored, as pycocotools does/);
  assert.match(cli('eval', '--help').out, /ignored, as\s+pycocotools does/);
  assert.not.match(cli('eval', '--help').out, /unknown\s+images or categories/);
});

test('data check --images reads every image header and reports the unreadable one', () => {
  const r = cli('data', 'check', at('gt.json'), '--images', at('images'));
  assert.is(r.code, 1, r.out + r.err);
  assert.match(r.out, /image files +2 read in .*images: 1 missing or unreadable/);
  assert.match(r.out, /b\.png: cannot read image header/);
});

test('show accepts the --skip-bad it suggests: the unreadable image is skipped and counted', () => {
  let r = cli('show', '--gt', at('gt.json'), '--images', at('images'), '--out', at('o3'));
  fails(r, /b\.png: cannot (decode|read) image/);
  r = cli('show', '--gt', at('gt.json'), '--images', at('images'), '--out', at('o4'), '--skip-bad');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /wrote 1 image\(s\)/);
  assert.match(r.err, /skipped 1 bad record\(s\) or unreadable image\(s\)/);
});

test.run();
