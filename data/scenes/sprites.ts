// Fashion-MNIST items as sprites: a silhouette (alpha) and a shading field at
// any scale. The silhouette is the item with its enclosed dark regions filled
// (a dark print on a shirt is still the shirt), and its edge follows the grey
// level's iso-line rather than the 28×28 pixel grid, so large items do not
// look blocky.
import type { FashionItems } from '../fashion-mnist/reader.js';

/** Grey level that separates an item from the black Fashion-MNIST background. */
const EDGE_LEVEL = 24;

export interface ItemShape {
  readonly label: number;
  readonly rows: number;
  readonly cols: number;
  /** Silhouette field: the grey level, with enclosed dark regions raised; the item is field ≥ EDGE_LEVEL. */
  readonly field: Float32Array;
  readonly shade: Float32Array;
  /** Tight box of the silhouette in the 28×28 frame, inclusive–exclusive. */
  readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number;
}

export interface Sprite {
  readonly label: number;
  readonly width: number;
  readonly height: number;
  /** width × height coverage in 0..1; an object pixel is alpha ≥ 0.5. */
  readonly alpha: Float32Array;
  /** width × height shading in 0..1 (the item's grey level). */
  readonly shade: Float32Array;
}

/** null for an item with no pixel above the edge level (never seen in the data, but possible). */
export function itemShape(items: FashionItems, index: number): ItemShape | null {
  const { rows, cols } = items;
  const px = items.pixels.subarray(index * rows * cols, (index + 1) * rows * cols);
  // Outside = dark pixels reachable from the frame's border.
  const outside = new Uint8Array(rows * cols);
  const stack: number[] = [];
  for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) {
    if ((y === 0 || x === 0 || y === rows - 1 || x === cols - 1) && px[y * cols + x]! < EDGE_LEVEL) { outside[y * cols + x] = 1; stack.push(y * cols + x); }
  }
  while (stack.length) {
    const p = stack.pop()!, x = p % cols, y = (p - x) / cols;
    for (const [nx, ny] of [[x + 1, y], [x - 1, y], [x, y + 1], [x, y - 1]] as const) {
      if (nx < 0 || ny < 0 || nx >= cols || ny >= rows) continue;
      const q = ny * cols + nx;
      if (!outside[q] && px[q]! < EDGE_LEVEL) { outside[q] = 1; stack.push(q); }
    }
  }
  const field = new Float32Array(rows * cols), shade = new Float32Array(rows * cols);
  let x0 = cols, y0 = rows, x1 = 0, y1 = 0;
  for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) {
    const p = y * cols + x;
    // Enclosed dark pixels are raised well above the edge level; bright ones
    // keep their grey level so the edge follows the item's own contour.
    field[p] = outside[p] ? px[p]! : Math.max(px[p]!, 4 * EDGE_LEVEL);
    shade[p] = px[p]! / 255;
    if (!outside[p]) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1); }
  }
  if (x1 <= x0) return null;
  return { label: items.labels[index]!, rows, cols, field, shade, x0, y0, x1, y1 };
}

/** Catmull-Rom weights: smooth iso-lines where bilinear would leave the pixel staircase. */
function cubicWeights(t: number, w: Float64Array): void {
  const t2 = t * t, t3 = t2 * t;
  w[0] = 0.5 * (-t3 + 2 * t2 - t);
  w[1] = 0.5 * (3 * t3 - 5 * t2 + 2);
  w[2] = 0.5 * (-3 * t3 + 4 * t2 + t);
  w[3] = 0.5 * (t3 - t2);
}

const wx = new Float64Array(4), wy = new Float64Array(4);

/** Samples two planes at once (field and shade share the weights); outside the frame both are 0. */
function bicubic2(a: Float32Array, b: Float32Array, rows: number, cols: number, u: number, v: number, out: Float64Array): void {
  const ix = Math.floor(u), iy = Math.floor(v);
  cubicWeights(u - ix, wx); cubicWeights(v - iy, wy);
  let sa = 0, sb = 0;
  for (let m = 0; m < 4; m++) {
    const y = iy - 1 + m;
    if (y < 0 || y >= rows) continue;
    for (let n = 0; n < 4; n++) {
      const x = ix - 1 + n;
      if (x < 0 || x >= cols) continue;
      const w = wy[m]! * wx[n]!;
      sa += w * a[y * cols + x]!; sb += w * b[y * cols + x]!;
    }
  }
  out[0] = sa; out[1] = sb;
}

/**
 * The item at scale (sx, sy) target pixels per source pixel, optionally
 * mirrored. The sprite covers the silhouette box plus one source pixel each
 * side: interpolation can carry the edge up to one source pixel outward
 * (Catmull-Rom reaches two pixels, but its outer lobe is negative).
 */
export function rasterize(shape: ItemShape, sx: number, sy: number, flip: boolean): Sprite {
  const bx = shape.x0 - 1, by = shape.y0 - 1;
  const w = Math.ceil((shape.x1 - shape.x0 + 2) * sx), h = Math.ceil((shape.y1 - shape.y0 + 2) * sy);
  // Field units per target pixel across the edge, so the coverage ramp is
  // about one pixel wide; capped so the flat background (field 0) stays at 0.
  const ramp = Math.min(255 / Math.min(sx, sy), 2 * EDGE_LEVEL);
  const sample = new Float64Array(2);
  const alpha = new Float32Array(w * h), shade = new Float32Array(w * h);
  for (let j = 0; j < h; j++) {
    const v = by + (j + 0.5) / sy - 0.5;
    for (let i = 0; i < w; i++) {
      const u = bx + ((flip ? w - 1 - i : i) + 0.5) / sx - 0.5;
      bicubic2(shape.field, shape.shade, shape.rows, shape.cols, u, v, sample);
      alpha[j * w + i] = Math.min(1, Math.max(0, 0.5 + (sample[0]! - EDGE_LEVEL) / ramp));
      shade[j * w + i] = Math.min(1, Math.max(0, sample[1]!));
    }
  }
  return { label: shape.label, width: w, height: h, alpha, shade };
}
