// `fusedet data scenes`: cluttered detection scenes made from real images
// (Fashion-MNIST items, see data/fashion-mnist/reader.ts for which set) on
// procedural backgrounds, with COCO and CrowdHuman (odgt) annotations.
//
// Output: DIR/images/000000.png…, DIR/annotations.json, DIR/annotations.odgt.
// Every image draws from its own generator stream of `seed`, so the same
// seed (and the same item set) gives byte-identical files. Everything is
// written into a hidden folder beside DIR and moved into place at the end:
// an interrupted run leaves DIR as it was.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { encodePng } from './image.js';
import { loadFashionItems } from './fashion-mnist/reader.js';
import { cocoJson, odgtLine, type SceneRecord } from './scenes/annotations.js';
import { composeScene } from './scenes/compose.js';
import type { ItemShape } from './scenes/sprites.js';
import { Rng } from './scenes/rng.js';
import { FusedetError } from '../io/errors.js';

export interface SceneOptions {
  out: string;
  images: number;
  size: number;
  /** 0..1: how many objects and how much they may overlap. */
  crowd: number;
  seed: number;
  force: boolean;
  onProgress?: (done: number, total: number) => void;
}

export class SceneError extends FusedetError {
  constructor(message: string) {
    super(message);
    this.name = 'SceneError';
  }
}

/** What a scenes folder holds; --force replaces these and leaves anything else there alone. */
const OUTPUTS = ['images', 'annotations.json', 'annotations.odgt'];

function check(opts: SceneOptions): void {
  if (!Number.isInteger(opts.images) || opts.images < 1) throw new SceneError(`scenes: --images must be a positive integer, got ${opts.images}`);
  if (!Number.isInteger(opts.size) || opts.size < 32 || opts.size > 4096) throw new SceneError(`scenes: --size must be an integer in 32..4096, got ${opts.size}`);
  if (!(opts.crowd >= 0 && opts.crowd <= 1)) throw new SceneError(`scenes: --crowd must be in 0..1, got ${opts.crowd}`);
  if (!Number.isSafeInteger(opts.seed)) throw new SceneError(`scenes: --seed must be an integer, got ${opts.seed}`);
}

function nonEmptyDir(path: string): boolean {
  if (!existsSync(path)) return false;
  if (!statSync(path).isDirectory()) throw new SceneError(`${path}: exists and is not a folder; choose another --out`);
  return readdirSync(path).length > 0;
}

export async function generateScenes(opts: SceneOptions): Promise<{ out: string; images: number; boxes: number }> {
  check(opts);
  const out = resolve(opts.out);
  if (nonEmptyDir(out) && !opts.force) throw new SceneError(`${opts.out}: folder exists and is not empty; use --force to replace its scenes, or choose another --out`);
  const items = loadFashionItems();
  const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  await removeStalePartials(out);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, 'images'), { recursive: true });
  try {
    const records: SceneRecord[] = [];
    const shapes = new Map<number, ItemShape | null>();
    const digits = Math.max(6, String(opts.images - 1).length);
    // Compose (synchronous) while sharp encodes earlier images on its own threads.
    const pending = new Set<Promise<void>>();
    let done = 0;
    for (let i = 0; i < opts.images; i++) {
      const scene = composeScene(items, opts.size, opts.crowd, new Rng(opts.seed, i + 1), shapes);
      const stem = String(i).padStart(digits, '0');
      records.push({ stem, size: opts.size, objects: scene.objects });
      const job: Promise<void> = encodePng({ width: opts.size, height: opts.size, data: scene.rgb })
        .then((png) => writeFile(join(tmp, 'images', `${stem}.png`), png))
        .then(() => { pending.delete(job); opts.onProgress?.(++done, opts.images); });
      pending.add(job);
      if (pending.size >= 8) await Promise.race(pending);
    }
    await Promise.all(pending);
    const info = { description: `fusedet scenes: ${opts.images} images, size ${opts.size}, crowd ${opts.crowd}, seed ${opts.seed}`, source: items.source };
    await writeFile(join(tmp, 'annotations.json'), cocoJson(records, info));
    await writeFile(join(tmp, 'annotations.odgt'), records.map(odgtLine).join('\n') + '\n');
    await moveIntoPlace(tmp, out);
    return { out, images: opts.images, boxes: records.reduce((n, r) => n + r.objects.length, 0) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A killed run (Ctrl-C) leaves its hidden partial folder; the next run clears those of dead processes. */
async function removeStalePartials(out: string): Promise<void> {
  const prefix = `.${basename(out)}.partial-`;
  let names: string[];
  try {
    names = readdirSync(dirname(out)).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    await rm(join(dirname(out), name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function moveIntoPlace(tmp: string, out: string): Promise<void> {
  if (!existsSync(out) || readdirSync(out).length === 0) {
    if (existsSync(out)) await rm(out, { recursive: true });
    await rename(tmp, out);
    return;
  }
  // --force on a used folder: replace only what a scenes run writes.
  for (const name of OUTPUTS) {
    await rm(join(out, name), { recursive: true, force: true });
    await rename(join(tmp, name), join(out, name));
  }
}
