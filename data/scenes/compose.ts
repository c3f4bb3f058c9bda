// One scene: a procedural background, then Fashion-MNIST items painted in
// order, later items over earlier ones. Occlusion is measured, not guessed:
// every object pixel (coverage ≥ 0.5) is owned by the last item painted
// there, and an item's visible fraction is its owned pixels over its own.
// Some items stand partly outside the frame, as in photos: their boxes are
// clipped to the image and the part outside counts as not visible.
import type { FashionItems } from '../fashion-mnist/reader.js';
import { paintBackground, randomColour } from './background.js';
import { Rng } from './rng.js';
import { itemShape, rasterize, type ItemShape, type Sprite } from './sprites.js';

/** x, y, w, h in pixels: x..x+w-1 are the first and last object columns. */
export type Box = [number, number, number, number];

export interface SceneObject {
  /** 0..9, index into FASHION_CLASSES. */
  readonly label: number;
  /** Tight box of the whole item (amodal), clipped to the image. */
  readonly fbox: Box;
  /** Tight box of its visible pixels. */
  readonly vbox: Box;
  /** Object pixels of the whole item, inside the image or not (the mask's area, not the box's). */
  readonly area: number;
  /** Of those, the ones inside the image. */
  readonly inImage: number;
  /** Visible object pixels / area, in [0, 1]. */
  readonly visible: number;
}

export interface Scene {
  readonly size: number;
  /** size × size × 3 bytes, RGB. */
  readonly rgb: Uint8Array;
  readonly objects: SceneObject[];
  /** Per pixel, the index in `objects` of the item seen there, or −1. For tests. */
  readonly owner: Int16Array;
}

/** Items hidden beyond this are dropped: nothing of them is left to detect. */
export const MIN_VISIBLE = 0.05;

/** A sprite's mask by rows: first and last object column of each row (−1 when none). */
interface Mask { sprite: Sprite; rowMin: Int32Array; rowMax: Int32Array; box: Box; area: number }

interface Placed { mask: Mask; x: number; y: number; box: Box }

function maskOf(sprite: Sprite): Mask | null {
  const rowMin = new Int32Array(sprite.height).fill(-1), rowMax = new Int32Array(sprite.height).fill(-1);
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1, area = 0;
  for (let j = 0; j < sprite.height; j++) for (let i = 0; i < sprite.width; i++) {
    if (sprite.alpha[j * sprite.width + i]! < 0.5) continue;
    area++;
    if (rowMin[j]! < 0) rowMin[j] = i;
    rowMax[j] = i;
    if (i < x0) x0 = i; if (i > x1) x1 = i; if (j < y0) y0 = j; if (j > y1) y1 = j;
  }
  return area ? { sprite, rowMin, rowMax, box: [x0, y0, x1 - x0 + 1, y1 - y0 + 1], area } : null;
}

/** The tight box of the mask's pixels inside the image when the sprite's corner is at (x, y); null if none are. */
function clippedBox(m: Mask, x: number, y: number, size: number): Box | null {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let j = Math.max(0, -y); j < Math.min(m.sprite.height, size - y); j++) {
    if (m.rowMin[j]! < 0) continue;
    const a = Math.max(0, x + m.rowMin[j]!), b = Math.min(size - 1, x + m.rowMax[j]!);
    if (a > b) continue;
    if (a < x0) x0 = a; if (b > x1) x1 = b;
    if (y0 === Infinity) y0 = y + j;
    y1 = y + j;
  }
  return x1 < 0 ? null : [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}

function iou(a: Box, b: Box): number {
  const iw = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/**
 * Box area drawn so small, medium and large objects (COCO's 32² and 96²
 * thresholds) all occur; below 128 px images the thresholds shrink with the
 * image so the mix stays the same. Crowded scenes lean to smaller objects,
 * as crowds in photos do, so a crowd stays a crowd rather than a pile.
 */
function drawBoxArea(size: number, crowd: number, rng: Rng): number {
  const k = Math.min(1, size / 128) ** 2;
  const lo = Math.max(36, 100 * k), t1 = 1024 * k, t2 = 9216 * k, hi = ((0.95 - 0.2 * crowd) * size) ** 2;
  const pSmall = 0.4 + 0.2 * crowd, pLarge = 0.22 - 0.12 * crowd;
  const r = rng.next();
  const logUniform = (a: number, b: number): number => Math.exp(rng.uniform(Math.log(a), Math.log(Math.max(a, b))));
  if (r < pSmall || hi <= t1) return logUniform(lo, Math.min(t1, hi));
  if (r < 1 - pLarge || hi <= t2) return logUniform(t1, Math.min(t2, hi));
  return logUniform(t2, hi);
}

function makeSprite(shape: ItemShape, size: number, crowd: number, rng: Rng): Sprite {
  const cw = shape.x1 - shape.x0, ch = shape.y1 - shape.y0;
  const aspect = rng.uniform(0.9, 1.11);
  let s = Math.sqrt(drawBoxArea(size, crowd, rng) / (cw * ch));
  // Fit inside the image, with the one-source-pixel margin on each side.
  s = Math.min(s, (0.95 * size) / ((cw + 2) * Math.max(aspect, 1)), (0.95 * size) / ((ch + 2) / Math.min(aspect, 1)));
  return rasterize(shape, s * aspect, s / aspect, rng.chance(0.5));
}

/** Share of freely placed items allowed to stand partly (up to 40%) outside the frame. */
const TRUNCATED = 0.25;

function place(mask: Mask, placed: Placed[], size: number, crowd: number, rng: Rng): Placed | null {
  // crowd 0: no two boxes touch; crowd 1: heavy overlap is allowed and sought.
  const maxIou = crowd <= 0 ? 0 : 0.05 + 0.75 * crowd;
  const { sprite, box } = mask;
  const maxX = size - sprite.width, maxY = size - sprite.height;
  if (maxX < 0 || maxY < 0) return null;
  for (let attempt = 0; attempt < 25; attempt++) {
    let x: number, y: number;
    if (placed.length && rng.chance(0.8 * crowd)) {
      // Next to an earlier item, so crowds form clusters as they do in photos.
      const anchor = rng.pick(placed);
      const spread = 1 - 0.5 * crowd;
      x = Math.round(anchor.box[0] + anchor.box[2] / 2 - sprite.width / 2 + rng.normal() * spread * anchor.box[2]);
      y = Math.round(anchor.box[1] + anchor.box[3] / 2 - sprite.height / 2 + rng.normal() * spread * anchor.box[3]);
      x = Math.min(maxX, Math.max(0, x)); y = Math.min(maxY, Math.max(0, y));
    } else if (rng.chance(TRUNCATED)) {
      const ox = Math.floor(0.4 * box[2]), oy = Math.floor(0.4 * box[3]);
      x = rng.int(-box[0] - ox, size - box[0] - box[2] + ox); y = rng.int(-box[1] - oy, size - box[1] - box[3] + oy);
    } else {
      x = rng.int(0, maxX); y = rng.int(0, maxY);
    }
    const abs = clippedBox(mask, x, y, size);
    if (!abs) continue;
    if (placed.every((p) => iou(abs, p.box) <= maxIou && (maxIou > 0 || !touches(abs, p.box)))) return { mask, x, y, box: abs };
  }
  return null;
}

function touches(a: Box, b: Box): boolean {
  return a[0] <= b[0] + b[2] && b[0] <= a[0] + a[2] && a[1] <= b[1] + b[3] && b[1] <= a[1] + a[3];
}

function ownership(placed: Placed[], size: number): { owner: Int16Array; counts: number[]; inImage: number[]; boxes: Box[] } {
  const owner = new Int16Array(size * size).fill(-1);
  const inImage = placed.map(() => 0);
  placed.forEach((p, k) => {
    const { sprite } = p.mask;
    for (let j = Math.max(0, -p.y); j < Math.min(sprite.height, size - p.y); j++) {
      for (let i = Math.max(0, -p.x); i < Math.min(sprite.width, size - p.x); i++) {
        if (sprite.alpha[j * sprite.width + i]! >= 0.5) { owner[(p.y + j) * size + p.x + i] = k; inImage[k]!++; }
      }
    }
  });
  const counts = placed.map(() => 0), lo = placed.map(() => [Infinity, Infinity]), hi = placed.map(() => [-1, -1]);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    const k = owner[y * size + x]!;
    if (k < 0) continue;
    counts[k]!++;
    const l = lo[k]!, h = hi[k]!;
    if (x < l[0]!) l[0] = x; if (y < l[1]!) l[1] = y; if (x > h[0]!) h[0] = x; if (y > h[1]!) h[1] = y;
  }
  const boxes = placed.map((_, k): Box => (counts[k] ? [lo[k]![0]!, lo[k]![1]!, hi[k]![0]! - lo[k]![0]! + 1, hi[k]![1]! - lo[k]![1]! + 1] : [0, 0, 0, 0]));
  return { owner, counts, inImage, boxes };
}

function luminance(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

function paintItem(img: Float32Array, size: number, p: Placed, rng: Rng): void {
  const { sprite } = p.mask;
  // Only the part of the sprite inside the image is touched.
  const j0 = Math.max(0, -p.y), j1 = Math.min(sprite.height, size - p.y), i0 = Math.max(0, -p.x), i1 = Math.min(sprite.width, size - p.x);
  // Mean background luminance under the item: keep some contrast, as a photographer would.
  let bg = 0, n = 0;
  for (let j = j0; j < j1; j += 2) for (let i = i0; i < i1; i += 2) {
    const q = 3 * ((p.y + j) * size + p.x + i);
    bg += luminance(img[q]!, img[q + 1]!, img[q + 2]!); n++;
  }
  bg /= Math.max(1, n);
  let tint = randomColour(rng);
  for (let t = 0; t < 4 && Math.abs(luminance(...tint) * 0.8 - bg) < 0.18; t++) tint = randomColour(rng);
  const gain = rng.uniform(0.75, 1.15);
  if (rng.chance(0.5)) {
    // A soft drop shadow, offset down-right, under the item only.
    const dx = rng.int(1, 3), dy = rng.int(1, 3), dark = rng.uniform(0.2, 0.45);
    for (let j = 0; j < sprite.height; j++) for (let i = 0; i < sprite.width; i++) {
      const a = sprite.alpha[j * sprite.width + i]!, x = p.x + i + dx, y = p.y + j + dy;
      if (a <= 0 || x < 0 || y < 0 || x >= size || y >= size) continue;
      const q = 3 * (y * size + x);
      for (let c = 0; c < 3; c++) img[q + c] = img[q + c]! * (1 - dark * a);
    }
  }
  // Light falling from one side, so an item is not one flat tint.
  const light = rng.next() * 2 * Math.PI, lx = Math.cos(light) * rng.uniform(0, 0.4) / sprite.width, ly = Math.sin(light) * rng.uniform(0, 0.4) / sprite.height;
  for (let j = j0; j < j1; j++) for (let i = i0; i < i1; i++) {
    const a = sprite.alpha[j * sprite.width + i]!;
    if (a <= 0) continue;
    const side = 1 + (i - sprite.width / 2) * lx + (j - sprite.height / 2) * ly;
    const lit = Math.min(1.3, (0.2 + 0.9 * sprite.shade[j * sprite.width + i]!) * gain * side);
    const q = 3 * ((p.y + j) * size + p.x + i);
    for (let c = 0; c < 3; c++) img[q + c] = img[q + c]! * (1 - a) + Math.min(1, tint[c]! * lit) * a;
  }
}

let grainValues: Float32Array | undefined;
function grainTable(): Float32Array {
  if (!grainValues) {
    const rng = new Rng(0x6a09e667);
    grainValues = new Float32Array(4096).map(() => rng.normal());
  }
  return grainValues;
}

export function composeScene(items: FashionItems, size: number, crowd: number, rng: Rng, shapes: Map<number, ItemShape | null>): Scene {
  const img = paintBackground(size, rng);
  const lo = Math.round(1 + 7 * crowd), hi = Math.round(3 + 15 * crowd);
  const wanted = rng.int(lo, hi);
  let placed: Placed[] = [];
  for (let k = 0; k < wanted; k++) {
    const index = rng.int(0, items.count - 1);
    if (!shapes.has(index)) {
      // Bounded: the full set has 60,000 items, and a shape is cheap to redo.
      if (shapes.size >= 4096) shapes.clear();
      shapes.set(index, itemShape(items, index));
    }
    const shape = shapes.get(index);
    if (!shape) continue;
    const sprite = makeSprite(shape, size, crowd, rng);
    const mask = maskOf(sprite);
    if (!mask) continue;
    const p = place(mask, placed, size, crowd, rng);
    if (p) placed.push(p);
  }
  // Dropping a hidden item only uncovers earlier ones, so one pass suffices.
  let own = ownership(placed, size);
  if (placed.some((p, k) => own.counts[k]! < MIN_VISIBLE * p.mask.area)) {
    placed = placed.filter((p, k) => own.counts[k]! >= MIN_VISIBLE * p.mask.area);
    own = ownership(placed, size);
  }
  for (const p of placed) paintItem(img, size, p, rng);
  const rgb = new Uint8Array(size * size * 3);
  // Sensor grain. Gaussian draws per sample were a third of the run time; a
  // table of them indexed by one 32-bit draw looks the same.
  const grain = rng.uniform(0.005, 0.03) * 255, table = grainTable();
  for (let q = 0; q < rgb.length; q++) rgb[q] = Math.round(Math.min(255, Math.max(0, 255 * img[q]! + grain * table[rng.u32() & 4095]!)));
  const objects = placed.map((p, k): SceneObject => ({
    label: p.mask.sprite.label, fbox: p.box, vbox: own.boxes[k]!, area: p.mask.area, inImage: own.inImage[k]!, visible: own.counts[k]! / p.mask.area,
  }));
  return { size, rgb, objects, owner: own.owner };
}
