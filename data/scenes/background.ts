// Procedural backgrounds: a gradient base under one to four pattern layers
// (stripes, tiles, value noise, blobs, scribbles), so detectors have to tell
// objects from clutter rather than from a flat colour.
import type { Rng } from './rng.js';

/** size × size × 3 floats in 0..1, interleaved RGB. */
export type Canvas = Float32Array;
type Rgb = [number, number, number];

export function randomColour(rng: Rng): Rgb {
  // HSV keeps saturation and value under separate control.
  const h = rng.next() * 6, s = rng.uniform(0.1, 0.9), v = rng.uniform(0.2, 1);
  const i = Math.floor(h), f = h - i;
  const p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const table: Rgb[] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]];
  return table[i % 6]!;
}

function lerpInto(img: Canvas, p: number, c: Rgb, a: number): void {
  img[3 * p] = img[3 * p]! * (1 - a) + c[0] * a;
  img[3 * p + 1] = img[3 * p + 1]! * (1 - a) + c[1] * a;
  img[3 * p + 2] = img[3 * p + 2]! * (1 - a) + c[2] * a;
}

function gradient(img: Canvas, size: number, rng: Rng): void {
  const c0 = randomColour(rng), c1 = randomColour(rng);
  const angle = rng.next() * Math.PI * 2, dx = Math.cos(angle), dy = Math.sin(angle);
  const radial = rng.chance(0.3), cx = rng.uniform(0, size), cy = rng.uniform(0, size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = radial
        ? Math.min(1, Math.hypot(x - cx, y - cy) / size)
        : ((x - size / 2) * dx + (y - size / 2) * dy) / size + 0.5;
      const p = y * size + x, u = Math.min(1, Math.max(0, t));
      for (let c = 0; c < 3; c++) img[3 * p + c] = c0[c]! * (1 - u) + c1[c]! * u;
    }
  }
}

function stripes(img: Canvas, size: number, rng: Rng, alpha: number): void {
  const colour = randomColour(rng);
  const angle = rng.next() * Math.PI, dx = Math.cos(angle), dy = Math.sin(angle);
  const period = rng.uniform(3, size / 4), duty = rng.uniform(0.2, 0.7), soft = rng.chance(0.5);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const ph = ((x * dx + y * dy) / period) % 1, f = ph < 0 ? ph + 1 : ph;
      const a = soft ? 0.5 + 0.5 * Math.sin(2 * Math.PI * f) : f < duty ? 1 : 0;
      if (a > 0) lerpInto(img, y * size + x, colour, alpha * a);
    }
  }
}

function tiles(img: Canvas, size: number, rng: Rng, alpha: number): void {
  const palette = [randomColour(rng), randomColour(rng), randomColour(rng)];
  const cell = Math.max(2, Math.round(rng.uniform(4, size / 5)));
  const checker = rng.chance(0.5), grout = rng.chance(0.5) ? 1 : 0;
  const ox = rng.int(0, cell), oy = rng.int(0, cell);
  const seed = rng.u32();
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const tx = Math.floor((x + ox) / cell), ty = Math.floor((y + oy) / cell);
      const onGrout = grout && ((x + ox) % cell === 0 || (y + oy) % cell === 0);
      const k = onGrout ? 2 : checker ? (tx + ty) & 1 : (Math.imul(tx * 73856093 ^ ty * 19349663, seed | 1) >>> 29) % 2;
      lerpInto(img, y * size + x, palette[k]!, alpha);
    }
  }
}

/** Smooth value noise, several octaves, mapped between two colours. */
function noise(img: Canvas, size: number, rng: Rng, alpha: number): void {
  const c0 = randomColour(rng), c1 = randomColour(rng);
  const field = new Float32Array(size * size);
  let amp = 1, total = 0;
  for (let cell = Math.max(4, size / rng.uniform(2, 6)); cell >= 2; cell /= 2, amp *= 0.55) {
    const g = Math.ceil(size / cell) + 2;
    const lattice = new Float32Array(g * g).map(() => rng.next());
    for (let y = 0; y < size; y++) {
      const fy = y / cell, iy = Math.floor(fy), ty = fy - iy, sy = ty * ty * (3 - 2 * ty);
      for (let x = 0; x < size; x++) {
        const fx = x / cell, ix = Math.floor(fx), tx = fx - ix, sx = tx * tx * (3 - 2 * tx);
        const a = lattice[iy * g + ix]!, b = lattice[iy * g + ix + 1]!, c = lattice[(iy + 1) * g + ix]!, d = lattice[(iy + 1) * g + ix + 1]!;
        field[y * size + x] += amp * ((a * (1 - sx) + b * sx) * (1 - sy) + (c * (1 - sx) + d * sx) * sy);
      }
    }
    total += amp;
  }
  for (let p = 0; p < size * size; p++) {
    const u = field[p]! / total;
    lerpInto(img, p, [c0[0] * (1 - u) + c1[0] * u, c0[1] * (1 - u) + c1[1] * u, c0[2] * (1 - u) + c1[2] * u], alpha);
  }
}

function blobs(img: Canvas, size: number, rng: Rng, alpha: number): void {
  const count = rng.int(4, 18);
  for (let k = 0; k < count; k++) {
    const colour = randomColour(rng);
    const cx = rng.uniform(0, size), cy = rng.uniform(0, size);
    const rx = rng.uniform(0.03, 0.25) * size, ry = rx * rng.uniform(0.4, 1.6), th = rng.next() * Math.PI;
    const ct = Math.cos(th), st = Math.sin(th), r = Math.max(rx, ry) + 1;
    const a = alpha * rng.uniform(0.5, 1);
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(size, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(size, Math.ceil(cx + r)); x++) {
        const u = ((x - cx) * ct + (y - cy) * st) / rx, v = (-(x - cx) * st + (y - cy) * ct) / ry;
        const d = 1 - Math.sqrt(u * u + v * v);
        if (d > 0) lerpInto(img, y * size + x, colour, a * Math.min(1, d * Math.min(rx, ry)));
      }
    }
  }
}

function scribbles(img: Canvas, size: number, rng: Rng, alpha: number): void {
  const count = rng.int(3, 12);
  for (let k = 0; k < count; k++) {
    const colour = randomColour(rng);
    let x = rng.uniform(0, size), y = rng.uniform(0, size), dir = rng.next() * Math.PI * 2;
    const width = rng.uniform(0.6, 2.5), steps = rng.int(size / 4, size);
    for (let s = 0; s < steps; s++) {
      dir += rng.uniform(-0.25, 0.25);
      x += Math.cos(dir); y += Math.sin(dir);
      for (let yy = Math.floor(y - width); yy <= Math.ceil(y + width); yy++) {
        for (let xx = Math.floor(x - width); xx <= Math.ceil(x + width); xx++) {
          if (xx < 0 || yy < 0 || xx >= size || yy >= size) continue;
          const d = width - Math.hypot(xx - x, yy - y);
          if (d > 0) lerpInto(img, yy * size + xx, colour, alpha * Math.min(1, d) * 0.5);
        }
      }
    }
  }
}

const LAYERS = [stripes, tiles, noise, blobs, scribbles];

export function paintBackground(size: number, rng: Rng): Canvas {
  const img = new Float32Array(size * size * 3);
  gradient(img, size, rng);
  const layers = rng.int(1, 4);
  for (let k = 0; k < layers; k++) rng.pick(LAYERS)(img, size, rng, rng.uniform(0.25, 0.8));
  return img;
}
