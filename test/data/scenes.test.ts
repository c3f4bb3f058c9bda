// The scene generator: determinism, boxes that match the pixels, crowding,
// occlusion, the refusal to overwrite, and files that parse as COCO and odgt.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

// CI has only the shipped subset; test what CI runs, whatever is installed here.
process.env['FUSEDET_FASHION_MNIST'] = 'subset';

const { generateScenes } = await import('../../data/scenes.js');
const { composeScene, MIN_VISIBLE } = await import('../../data/scenes/compose.js');
const { Rng } = await import('../../data/scenes/rng.js');
const { loadFashionItems, FASHION_CLASSES } = await import('../../data/fashion-mnist/reader.js');
const { readOdgtGt, isIgnoreBox } = await import('../../data/odgt.js');
const { readImage } = await import('../../data/image.js');
const { readCocoFile } = await import('../../data/coco.js');

type Box = [number, number, number, number];
const items = loadFashionItems();
const root = mkdtempSync(join(tmpdir(), 'fusedet-scenes-'));
const scene = (size: number, crowd: number, seed: number) => composeScene(items, size, crowd, new Rng(seed, 1), new Map());

function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, f);
    if (!f.endsWith('images')) out.set(f, readFileSync(p));
  }
  return out;
}

function intersects(a: Box, b: Box): boolean {
  return a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
}

test('the shipped subset has 100 items of each of the 10 classes', () => {
  assert.is(items.count, 1000);
  assert.is(items.rows, 28);
  const perClass = new Array(10).fill(0);
  for (const l of items.labels) perClass[l]++;
  assert.equal(perClass, new Array(10).fill(100));
  assert.ok(items.pixels.some((v) => v > 200), 'items have bright pixels');
});

test('the same seed gives byte-identical files; another seed does not', async () => {
  const opts = { images: 5, size: 64, crowd: 0.6, force: false };
  await generateScenes({ ...opts, out: join(root, 'a'), seed: 7 });
  await generateScenes({ ...opts, out: join(root, 'b'), seed: 7 });
  await generateScenes({ ...opts, out: join(root, 'c'), seed: 8 });
  const a = filesOf(join(root, 'a')), b = filesOf(join(root, 'b')), c = filesOf(join(root, 'c'));
  assert.equal([...a.keys()].sort(), ['annotations.json', 'annotations.odgt', ...[0, 1, 2, 3, 4].map((i) => join('images', `00000${i}.png`))].sort());
  for (const [k, v] of a) assert.ok(v.equals(b.get(k)!), `${k} differs between two runs with seed 7`);
  assert.not.ok(a.get('images/000000.png')!.equals(c.get('images/000000.png')!), 'seed 8 gives another image');
  assert.not.ok(existsSync(join(root, '.a.partial-' + process.pid)), 'temporary folder removed');
});

test('boxes lie inside the image and their borders hold the object\'s pixels', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const s = scene(96, 0.8, seed);
    s.objects.forEach((o, k) => {
      for (const b of [o.fbox, o.vbox]) {
        assert.ok(b[0] >= 0 && b[1] >= 0 && b[2] > 0 && b[3] > 0 && b[0] + b[2] <= 96 && b[1] + b[3] <= 96, `box ${b} inside 96×96`);
      }
      // vbox inside fbox; each border row and column of vbox has a visible pixel of this object.
      const [x, y, w, h] = o.vbox, [fx, fy, fw, fh] = o.fbox;
      assert.ok(x >= fx && y >= fy && x + w <= fx + fw && y + h <= fy + fh, 'vbox within fbox');
      const own = (px: number, py: number) => s.owner[py * 96 + px] === k;
      const rowHas = (py: number) => Array.from({ length: w }, (_, i) => x + i).some((px) => own(px, py));
      const colHas = (px: number) => Array.from({ length: h }, (_, j) => y + j).some((py) => own(px, py));
      assert.ok(rowHas(y) && rowHas(y + h - 1) && colHas(x) && colHas(x + w - 1), `object ${k} (seed ${seed}) touches all four sides of its vbox`);
      // and nothing of it lies outside.
      let outside = 0;
      for (let py = 0; py < 96; py++) for (let px = 0; px < 96; px++) if (own(px, py) && (px < x || px >= x + w || py < y || py >= y + h)) outside++;
      assert.is(outside, 0);
      if (o.visible === 1) assert.equal(o.vbox, o.fbox, 'an unoccluded object has vbox = fbox');
    });
  }
});

test('crowd 0: objects share no pixel; only the frame hides any of them', () => {
  let truncated = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const s = scene(128, 0, seed);
    assert.ok(s.objects.length >= 1);
    s.objects.forEach((o, k) => {
      assert.is(s.owner.filter((v) => v === k).length, o.inImage, 'every in-image pixel of the object is its own');
      assert.is(o.visible, o.inImage / o.area);
      assert.equal(o.vbox, o.fbox);
      if (o.inImage < o.area) truncated++;
    });
  }
  assert.ok(truncated > 0, 'some objects stand partly outside the frame');
});

test('visible fractions are in [0, 1], hidden items are dropped, and occlusion happens in crowds', () => {
  let occluded = 0;
  for (let seed = 1; seed <= 10; seed++) {
    for (const o of scene(96, 1, seed).objects) {
      assert.ok(o.visible >= MIN_VISIBLE && o.visible <= 1, `visible ${o.visible}`);
      if (o.visible < 1) occluded++;
    }
  }
  assert.ok(occluded > 10, `occluded objects at crowd 1: ${occluded}`);
});

test('crowd 0 vs 1: more objects, and overlapping ones', () => {
  const stats = (crowd: number) => {
    let count = 0, overlapping = 0;
    for (let seed = 1; seed <= 16; seed++) {
      const objs = scene(96, crowd, seed).objects;
      count += objs.length;
      objs.forEach((a, i) => objs.forEach((b, j) => { if (i < j && intersects(a.fbox, b.fbox)) overlapping++; }));
    }
    return { count, overlapping };
  };
  const lo = stats(0), hi = stats(1);
  assert.is(lo.overlapping, 0, 'crowd 0: no two boxes overlap');
  assert.ok(hi.count > 2.5 * lo.count, `objects: crowd 1 ${hi.count} vs crowd 0 ${lo.count}`);
  assert.ok(hi.overlapping > hi.count / 2, `overlapping pairs at crowd 1: ${hi.overlapping}`);
});

test('small, medium and large objects all occur at size 128', () => {
  const areas = { s: 0, m: 0, l: 0 };
  for (let seed = 1; seed <= 30; seed++) for (const o of scene(128, 0.3, seed).objects) {
    const a = o.fbox[2] * o.fbox[3];
    if (a < 32 * 32) areas.s++; else if (a < 96 * 96) areas.m++; else areas.l++;
  }
  assert.ok(areas.s > 0 && areas.m > 0 && areas.l > 0, JSON.stringify(areas));
});

test('files parse as COCO and odgt and agree with each other', async () => {
  const out = join(root, 'parse');
  const r = await generateScenes({ out, images: 6, size: 80, crowd: 1, seed: 3, force: false });
  const coco = JSON.parse(readFileSync(join(out, 'annotations.json'), 'utf8'));
  assert.equal(coco.categories.map((c: { id: number }) => c.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(coco.categories.map((c: { name: string }) => c.name), [...FASHION_CLASSES]);
  assert.is(coco.images.length, 6);
  assert.is(coco.annotations.length, r.boxes);
  const ids = new Set(coco.images.map((i: { id: number }) => i.id));
  for (const im of coco.images) {
    assert.equal([im.width, im.height], [80, 80]);
    const decoded = await readImage(join(out, 'images', im.file_name));
    assert.equal([decoded.width, decoded.height], [80, 80]);
  }
  for (const a of coco.annotations) {
    assert.ok(ids.has(a.image_id));
    assert.ok(a.category_id >= 1 && a.category_id <= 10);
    assert.is(a.iscrowd, 0);
    assert.is(a.area, a.bbox[2] * a.bbox[3]);
    assert.ok(a.bbox[0] >= 0 && a.bbox[0] + a.bbox[2] <= 80 && a.bbox[1] + a.bbox[3] <= 80);
  }
  // And through the project's COCO reader.
  const ds = await readCocoFile(join(out, 'annotations.json'));
  assert.is(ds.images.length, 6);
  assert.is(ds.annotations.count, r.boxes);
  assert.is(ds.skipped, 0);
  const records = [];
  for await (const rec of readOdgtGt(join(out, 'annotations.odgt'))) records.push(rec);
  assert.equal(records.map((x) => x.id), ['000000', '000001', '000002', '000003', '000004', '000005']);
  let ignored = 0, n = 0;
  records.forEach((rec, i) => {
    const anns = coco.annotations.filter((a: { image_id: number }) => a.image_id === i + 1);
    assert.is(rec.gtboxes.length, anns.length);
    rec.gtboxes.forEach((g, k) => {
      n++;
      assert.equal(g.fbox, anns[k].bbox);
      assert.is(g.tag, FASHION_CLASSES[anns[k].category_id - 1]);
      assert.is(isIgnoreBox(g), anns[k].visible < 0.3);
      if (isIgnoreBox(g)) ignored++;
    });
  });
  assert.ok(ignored > 0 && ignored < n, `some but not all boxes are ignore at crowd 1: ${ignored}/${n}`);
});

test('refuses a non-empty folder without force; --force replaces only scene outputs', async () => {
  const out = join(root, 'used');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'mine');
  try {
    await generateScenes({ out, images: 1, size: 64, crowd: 0, seed: 1, force: false });
    assert.unreachable('should refuse');
  } catch (e) {
    assert.is((e as { exitCode?: number }).exitCode, 1);
    assert.match((e as Error).message, out);
    assert.match((e as Error).message, '--force');
  }
  assert.equal(readdirSync(out), ['notes.txt']);
  await generateScenes({ out, images: 2, size: 64, crowd: 0, seed: 1, force: true });
  assert.equal(readdirSync(out).sort(), ['annotations.json', 'annotations.odgt', 'images', 'notes.txt']);
  assert.is(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
  await generateScenes({ out, images: 1, size: 64, crowd: 0, seed: 1, force: true });
  assert.equal(readdirSync(join(out, 'images')), ['000000.png'], 'old images replaced, not merged');
});

test('a run killed midway leaves no output folder', async () => {
  const out = join(root, 'interrupted');
  const script = `const { generateScenes } = await import(${JSON.stringify(new URL('../../data/scenes.js', import.meta.url).href)});
    await generateScenes({ out: ${JSON.stringify(out)}, images: 5000, size: 64, crowd: 0.5, seed: 1, force: false });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore', env: { ...process.env } });
  const partial = join(root, `.interrupted.partial-${child.pid}`, 'images');
  const t0 = Date.now();
  while (!(existsSync(partial) && readdirSync(partial).length > 5) && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(readdirSync(partial).length > 5, 'the child was writing when killed');
  assert.not.ok(existsSync(out), 'no half-written output folder');
});

test('a killed run\'s partial folder is cleared by the next run; the target is untouched', async () => {
  // 2^22 + 7 is above Linux's default pid_max, so no live process has it.
  const stale = join(root, `.killed.partial-${2 ** 22 + 7}`);
  mkdirSync(join(stale, 'images'), { recursive: true });
  writeFileSync(join(stale, 'images', '000000.png'), 'half');
  assert.not.ok(existsSync(join(root, 'killed')), 'an interrupted run leaves no output folder');
  await generateScenes({ out: join(root, 'killed'), images: 1, size: 64, crowd: 0, seed: 1, force: false });
  assert.not.ok(existsSync(stale));
  assert.ok(existsSync(join(root, 'killed', 'annotations.json')));
});

test('bad options are user errors', async () => {
  for (const bad of [{ images: 0 }, { size: 8 }, { crowd: 1.5 }, { seed: 0.5 }]) {
    try {
      await generateScenes({ out: join(root, 'bad'), images: 1, size: 64, crowd: 0, seed: 1, force: false, ...bad });
      assert.unreachable(JSON.stringify(bad));
    } catch (e) {
      assert.is((e as { exitCode?: number }).exitCode, 1, (e as Error).message);
    }
  }
  assert.not.ok(existsSync(join(root, 'bad')));
});

test('200 images at 128×128 in a few seconds', async () => {
  const t0 = Date.now();
  const r = await generateScenes({ out: join(root, 'speed'), images: 200, size: 128, crowd: 0.5, seed: 1, force: false });
  const secs = (Date.now() - t0) / 1000;
  assert.is(r.images, 200);
  assert.ok(secs < 15, `${secs.toFixed(1)} s`);
  process.stdout.write(`NOTICE scenes: 200 images at 128×128, ${r.boxes} boxes, ${secs.toFixed(2)} s\n`);
});

test.run();
