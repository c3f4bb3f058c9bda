// `fusedet show`: PNGs with the boxes drawn where the files say, detections
// filtered by score, and no writing over a used folder without --force.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env['FUSEDET_FASHION_MNIST'] = 'subset';
const { generateScenes } = await import('../../data/scenes.js');
const { readImage } = await import('../../data/image.js');
const { showImages, default: command } = await import('../../cli/commands/show.js');

const root = mkdtempSync(join(tmpdir(), 'fusedet-show-'));
const scenes = join(root, 'scenes');
await generateScenes({ out: scenes, images: 3, size: 64, crowd: 0.3, seed: 2, force: false });
const gtFile = join(scenes, 'annotations.json');
const coco = JSON.parse(readFileSync(gtFile, 'utf8')) as { images: { id: number }[]; annotations: { image_id: number; category_id: number; bbox: number[] }[] };

async function userError(p: Promise<unknown>, code: number, ...parts: string[]): Promise<void> {
  try {
    await p;
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.is((e as { exitCode?: number }).exitCode, code, (e as Error).message);
    for (const s of parts) assert.match((e as Error).message, s);
  }
}

test('draws the ground truth: one PNG per image, enlarged, with green box edges on the boxes', async () => {
  const out = join(root, 'gt');
  const r = await showImages({ gt: gtFile, out, score: 0.3, limit: Infinity, force: false });
  assert.equal(readdirSync(out).sort(), ['000000.png', '000001.png', '000002.png']);
  assert.is(r.gtBoxes, coco.annotations.length);
  const img = await readImage(join(out, '000000.png'));
  assert.equal([img.width, img.height], [512, 512]); // 64 px images magnified 8×
  const a = coco.annotations.find((x) => x.image_id === 1)!;
  // The middle of the box's bottom edge (labels sit above the top edge) is the GT green #00ff66.
  const x = Math.round((a.bbox[0]! + a.bbox[2]! / 2) * 8), y = Math.round((a.bbox[1]! + a.bbox[3]!) * 8);
  const px = Array.from(img.data.subarray(3 * (y * 512 + x), 3 * (y * 512 + x) + 3));
  assert.ok(px[0]! < 60 && px[1]! > 200 && px[2]! > 60 && px[2]! < 150, `GT edge colour ${px}`);
});

test('detections below --score are not drawn; --limit and --scale apply', async () => {
  const dets = coco.annotations.flatMap((a) => [
    { image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: 0.9 },
    { image_id: a.image_id, category_id: a.category_id, bbox: [0, 0, 10, 10], score: 0.1 },
  ]);
  const detsFile = join(root, 'dets.json');
  writeFileSync(detsFile, JSON.stringify(dets));
  const out = join(root, 'dets');
  const r = await showImages({ gt: gtFile, dets: detsFile, out, score: 0.3, limit: 2, scale: 2, force: false });
  assert.is(r.images, 2);
  assert.is(r.detections, coco.annotations.filter((a) => a.image_id <= 2).length);
  const img = await readImage(join(out, '000001.png'));
  assert.equal([img.width, img.height], [128, 128]);
});

test('refuses a non-empty output folder without --force; --force writes into it', async () => {
  const out = join(root, 'used');
  mkdirSync(out);
  writeFileSync(join(out, 'keep.txt'), 'x');
  await userError(showImages({ gt: gtFile, out, score: 0.3, limit: 1, force: false }), 1, out, '--force');
  assert.equal(readdirSync(out), ['keep.txt']);
  await showImages({ gt: gtFile, out, score: 0.3, limit: 1, force: true });
  assert.equal(readdirSync(out).sort(), ['000000.png', 'keep.txt']);
});

test('CrowdHuman .odgt input: ignore boxes dashed orange, odgt detections drawn', async () => {
  const crowded = join(root, 'crowded');
  await generateScenes({ out: crowded, images: 4, size: 64, crowd: 1, seed: 5, force: false });
  const lines = readFileSync(join(crowded, 'annotations.odgt'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ID: string; gtboxes: { tag: string; fbox: number[]; extra: { ignore: number } }[] });
  const dets = lines.map((l) => JSON.stringify({ ID: l.ID, dtboxes: l.gtboxes.map((g) => ({ box: g.fbox, score: 0.8, tag: g.tag })) }));
  writeFileSync(join(root, 'dets.odgt'), dets.join('\n') + '\n');
  const out = join(root, 'odgt');
  const r = await showImages({ gt: join(crowded, 'annotations.odgt'), out, score: 0.3, limit: Infinity, scale: 4, force: false });
  assert.is(r.images, 4);
  assert.is(r.gtBoxes, lines.reduce((n, l) => n + l.gtboxes.length, 0));
  const rec = lines.findIndex((l) => l.gtboxes.some((g) => g.extra.ignore === 1));
  assert.ok(rec >= 0, 'crowd 1 scenes have an ignore box');
  const g = lines[rec]!.gtboxes.find((x) => x.extra.ignore === 1)!;
  const img = await readImage(join(out, `${lines[rec]!.ID}.png`));
  const y = (g.fbox[1]! + g.fbox[3]!) * 4;
  let orange = 0;
  for (let x = g.fbox[0]! * 4; x < (g.fbox[0]! + g.fbox[2]!) * 4; x++) {
    const [R, G, B] = img.data.subarray(3 * (y * img.width + x), 3 * (y * img.width + x) + 3);
    if (R! > 200 && G! > 110 && G! < 180 && B! < 70) orange++;
  }
  assert.ok(orange > 0, 'orange dashes on the ignore box\'s bottom edge');
  const withDets = await showImages({ gt: join(crowded, 'annotations.odgt'), dets: join(root, 'dets.odgt'), out: join(root, 'odgt-dets'), score: 0.3, limit: 2, force: false });
  assert.is(withDets.detections, lines[0]!.gtboxes.length + lines[1]!.gtboxes.length);
  await userError(showImages({ gt: join(crowded, 'annotations.odgt'), dets: detsJson(), out: join(root, 'mixed'), score: 0.3, limit: 1, force: false }), 1, '.odgt');
});

function detsJson(): string {
  const p = join(root, 'mixed.json');
  writeFileSync(p, '[]');
  return p;
}

test('bad flags and a missing image folder are user errors', async () => {
  await userError(command.run(['--gt', gtFile, '--out', join(root, 'x'), '--score', 'high']), 2, '--score');
  await userError(command.run(['--out', join(root, 'x')]), 2, '--gt');
  await userError(showImages({ gt: gtFile, images: join(root, 'nowhere'), out: join(root, 'y'), score: 0.3, limit: 1, force: false }), 1, 'nowhere', '--images');
});

test.run();
