// `fusedet data check` and `fusedet data scenes` through the real CLI
// (main() of dist/cli/main.js, in this process): exit codes and messages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync, existsSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spread } from '../../data/check.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/crowdhuman/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fusedet-check-'));

type Main = (argv: string[]) => Promise<number>;

/** Runs `fn` with stdout and stderr captured. */
async function captured(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const w1 = process.stdout.write, w2 = process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array) => { out.push(String(c)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => { err.push(String(c)); return true; }) as typeof process.stderr.write;
  try {
    return { code: await fn(), out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

/**
 * main() of dist/cli/main.js, in this process. It loads every command; when
 * another command cannot load (a module of someone else's not built yet), the
 * same main.js runs from a folder holding only the data command, and we say so.
 */
async function pickMain(): Promise<Main> {
  const real = (await import('../../cli/main.js')).main;
  try {
    await captured(() => real(['--help']));
    return real;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    const alone = join(dir, 'cli');
    mkdirSync(join(alone, 'commands'), { recursive: true });
    copyFileSync(fileURLToPath(new URL('../../cli/main.js', import.meta.url)), join(alone, 'main.js'));
    symlinkSync(fileURLToPath(new URL('../../cli/commands/data.js', import.meta.url)), join(alone, 'commands', 'data.js'));
    process.stdout.write(`NOTICE check.test: another command does not load (${(e as Error).message.split('\n')[0]}); ran main() with the data command alone\n`);
    return ((await import(pathToFileURL(join(alone, 'main.js')).href)) as { main: Main }).main;
  }
}
const main = await pickMain();

function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return captured(() => main(args));
}
function put(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
/** A failure: exit code, one message on stderr, no stack. */
function fails(r: { code: number; err: string }, code: number, re: RegExp): void {
  assert.is(r.code, code, `exit code (stderr: ${r.err})`);
  assert.match(r.err, re);
  assert.not.match(r.err, /\n\s+at /, 'no stack trace');
}

const coco = {
  images: [{ id: 1, file_name: 'a.png', width: 640, height: 480 }, { id: 2, file_name: 'b.png', width: 320, height: 200 }, { id: 7, file_name: 'c.png', width: 100, height: 100 }],
  categories: [{ id: 1, name: 'person' }, { id: 3, name: 'car' }, { id: 9, name: 'unused' }],
  annotations: [
    { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 },
    { id: 2, image_id: 1, category_id: 3, bbox: [0, 0, 50, 50], area: 2500, iscrowd: 0 },
    { id: 3, image_id: 2, category_id: 1, bbox: [0, 0, 200, 100], area: 20000, iscrowd: 1 },
  ],
};
const cocoText = JSON.stringify(coco, null, 1);

test('valid COCO file: summary', async () => {
  const r = await cli('data', 'check', put('ok.json', cocoText));
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /valid COCO file/);
  assert.match(r.out, /images\s+3 \(1 without boxes\)/);
  assert.match(r.out, /image width\s+min 100, median 320, max 640/);
  assert.match(r.out, /box sizes\s+small 1, medium 1, large 1/);
  assert.match(r.out, /1 iscrowd/);
  assert.match(r.out, /crossing the border\s+0 boxes/);
  assert.match(r.out, /person\s+2\n\s+car\s+1\n\s+unused\s+0/);
});

test('valid COCO file: --json', async () => {
  const r = await cli('data', 'check', put('ok2.json', cocoText), '--json');
  assert.is(r.code, 0, r.err);
  const s = JSON.parse(r.out) as Record<string, unknown>;
  assert.is(s.format, 'coco');
  assert.is(s.boxes, 3);
  assert.equal(s.boxesPerClass, { person: 2, car: 1, unused: 0 });
  assert.equal(s.imageHeight, { min: 100, median: 200, max: 480 });
});

test('valid odgt file: summary with ignore regions and masks', async () => {
  const r = await cli('data', 'check', join(FIX, 'hand_ignore_order.gt.odgt'));
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /valid CrowdHuman odgt file/);
  assert.match(r.out, /images\s+3 \(0 without boxes\)/);
  assert.match(r.out, /boxes\s+10/);
  assert.match(r.out, /ignore regions\s+2 extra\.ignore, 3 tag mask/);
  assert.match((await cli('data', 'check', join(FIX, 'seeded_border.gt.odgt'))).out, /crossing the border\s+[1-9]\d* boxes reach outside/);
  assert.match(r.out, /person\s+7\n\s+mask\s+3/);
});

test('odgt with other tags says how the crowd metrics will treat them', async () => {
  const r = await cli('data', 'check', join(FIX, 'seeded_multiclass.gt.odgt'), '--json');
  assert.is(r.code, 0, r.err);
  assert.equal((JSON.parse(r.out) as { otherTags: string[] }).otherTags, ['bag', 'cat', 'shirt', 'shoe']);
  assert.match((await cli('data', 'check', join(FIX, 'seeded_multiclass.gt.odgt'))).out, /class-agnostic/);
});

const odgtOk = '{"ID":"a","width":10,"height":10,"gtboxes":[{"tag":"person","fbox":[0,0,5,5]}]}';

test('odgt: missing field → file, line, column and record', async () => {
  const p = put('missing.odgt', `${odgtOk}\n{"ID":"b","gtboxes":[{"tag":"person","vbox":[0,0,1,1]}]}\n`);
  fails(await cli('data', 'check', p), 1, /missing\.odgt:2:22: record ID "b": missing field 'gtboxes\[0\]\.fbox'\n\(fix the record, or pass --skip-bad/);
});

test('odgt: negative box size', async () => {
  const p = put('neg.odgt', `{"ID":"n","gtboxes":[{"tag":"person","fbox":[1,1,4,-3]}]}\n`);
  fails(await cli('data', 'check', p), 1, /neg\.odgt:1:45: record ID "n": 'gtboxes\[0\]\.fbox' has negative size \(w 4, h -3\)/);
});

test('odgt: a tag that is not a string', async () => {
  const p = put('tag.odgt', `{"ID":"t","gtboxes":[{"tag":null,"fbox":[1,1,4,3]}]}\n`);
  fails(await cli('data', 'check', p), 1, /tag\.odgt:1:29: record ID "t": gtboxes\[0\]: 'tag' must be a non-empty string, got null/);
});

test('odgt: malformed JSON on line 3 with its column', async () => {
  const p = put('bad.odgt', `${odgtOk}\n${odgtOk.replace('"a"', '"b"')}\n{"ID":"c","gtboxes":[{"tag":"person" "fbox":[0,0,1,1]}]}\n`);
  fails(await cli('data', 'check', p), 1, /bad\.odgt:3:38: malformed JSON/);
});

test('odgt: the same image twice', async () => {
  fails(await cli('data', 'check', put('dup.odgt', `${odgtOk}\n${odgtOk}\n`)), 1, /dup\.odgt:2:1: record ID "a": image appears a second time/);
});

test('COCO: missing field, negative size, malformed JSON name the file and the record', async () => {
  const missing = structuredClone(coco) as { annotations: Record<string, unknown>[] };
  delete missing.annotations[1]!.bbox;
  fails(await cli('data', 'check', put('m.json', JSON.stringify(missing))), 1, /m\.json.*annotations\[1\].*bbox/);
  const neg = structuredClone(coco);
  neg.annotations[2]!.bbox = [0, 0, -5, 5];
  fails(await cli('data', 'check', put('n.json', JSON.stringify(neg))), 1, /n\.json.*annotations\[2\]/);
  fails(await cli('data', 'check', put('j.json', '{"images": [\n  {"id": 1,}\n]}')), 1, /j\.json:2:\d+: .*JSON/);
});

test('--skip-bad skips bad records and reports how many', async () => {
  const p = put('skip.odgt', `${odgtOk}\nnot json\n{"ID":"c","gtboxes":[{"tag":"person","fbox":[0,0,-1,1]},{"tag":"person","fbox":[0,0,1,1]}]}\n`);
  const r = await cli('data', 'check', p, '--skip-bad');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /images\s+2/);
  assert.match(r.out, /boxes\s+2/);
  assert.match(r.out, /skipped 2 bad records \(--skip-bad\)/);
  assert.match(r.out, /skip\.odgt:2:2: malformed JSON/);
});

test('--dets: a detection for an unknown image ID names file, line and record', async () => {
  const gt = put('g.odgt', `${odgtOk}\n`);
  const dets = put('d.odgt', `{"ID":"a","dtboxes":[]}\n{"ID":"zz","dtboxes":[{"box":[0,0,1,1],"score":0.5}]}\n`);
  fails(await cli('data', 'check', gt, '--dets', dets), 1, /d\.odgt:2:1: detections for image ID "zz", which is not in the ground truth/);
  const skipped = await cli('data', 'check', gt, '--dets', dets, '--skip-bad');
  assert.is(skipped.code, 0, skipped.err);
  assert.match(skipped.out, /0 detections.*\n\s+skipped 1 bad record/);
  const ok = await cli('data', 'check', gt, '--dets', put('d2.odgt', `{"ID":"a","dtboxes":[{"box":[0,0,1,1],"score":0.5}]}\n`));
  assert.is(ok.code, 0, ok.err);
  assert.match(ok.out, /1 detections, every one for an image of the dataset/);
});

test('--dets with COCO: an unknown image_id is a bad record', async () => {
  const gt = put('g.json', cocoText);
  const dets = put('r.json', JSON.stringify([{ image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], score: 0.3 }, { image_id: 99, category_id: 1, bbox: [0, 0, 1, 1], score: 0.3 }]));
  fails(await cli('data', 'check', gt, '--dets', dets), 1, /r\.json.*image_id 99 is not in the ground truth/);
});

test('usage errors exit 2', async () => {
  assert.is((await cli('data')).code, 2);
  assert.is((await cli('data', 'frobnicate')).code, 2);
  assert.is((await cli('data', 'check')).code, 2);
  assert.is((await cli('data', 'check', 'a', 'b')).code, 2);
  assert.is((await cli('data', 'check', 'x.odgt', '--nope')).code, 2);
});

test('a missing file is one clear error', async () => {
  fails(await cli('data', 'check', join(dir, 'none.odgt')), 1, /none\.odgt: no such file or folder \(ENOENT\)/);
});

test('scenes: flags are checked, output written, existing output kept without --force', async () => {
  fails(await cli('data', 'scenes', '--images', 'ten'), 2, /--images must be an integer/);
  fails(await cli('data', 'scenes', '--crowd', '2'), 2, /--crowd must be a number in 0\.\.1/);
  const out = join(dir, 'scenes');
  const r = await cli('data', 'scenes', '--out', out, '--images', '3', '--size', '64', '--seed', '5');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /wrote 3 images/);
  assert.equal(readdirSync(join(out, 'images')).length, 3);
  assert.ok(existsSync(join(out, 'annotations.odgt')));
  fails(await cli('data', 'scenes', '--out', out, '--images', '3', '--size', '64'), 1, /exists.*--force/);
  const odgt = await cli('data', 'check', join(out, 'annotations.odgt'));
  assert.is(odgt.code, 0, odgt.err);
  assert.match(odgt.out, /images\s+3/);
});

test('spread: median of even and odd counts', async () => {
  assert.equal(spread([3, 1, 2]), { min: 1, median: 2, max: 3 });
  assert.equal(spread([4, 1, 3, 2]), { min: 1, median: 2.5, max: 4 });
  assert.is(spread([]), null);
});

test.run();
