// numpy-style broadcasting: shapes align on the right; a dim of 1 stretches.
import { Dim, dimEquals, showDim, showShape } from '../dims.js';
import { stridesOf } from '../tensor.js';
import { ShapeContext, ShapeError } from './op.js';

/** The broadcast shape of several operands (symbolic dims must be equal unless one side is the literal 1). */
export function broadcastShapes(op: string, shapes: readonly (readonly Dim[])[], ctx: ShapeContext): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let cur: Dim = 1;
    let from = -1;
    for (let k = 0; k < shapes.length; k++) {
      const s = shapes[k];
      const d = s[s.length - rank + i];
      if (d === undefined || d === 1) continue;
      if (cur === 1) { cur = d; from = k; continue; }
      if (dimEquals(cur, d) === false) {
        throw new ShapeError(`${op}: shapes ${shapes.map(showShape).join(' and ')} do not broadcast (dim ${i - rank} is ${showDim(cur)} vs ${showDim(d)})`, {
          arg: k, hint: 'sizes must match or one of them must be 1',
        });
      }
      ctx.requireEqual(cur, d, `${op}: shapes ${showShape(shapes[from])} and ${showShape(s)} must agree in dim ${i - rank} (${showDim(cur)} vs ${showDim(d)}) to broadcast`, k);
    }
    out.push(cur);
  }
  return out;
}

/** For each flat output index, the flat index into an input of shape `inShape` broadcast to `outShape`. */
export function broadcastIndex(outShape: readonly number[], inShape: readonly number[]): Int32Array {
  const n = outShape.reduce((a, b) => a * b, 1);
  const idx = new Int32Array(n);
  const rank = outShape.length;
  const inStrides = stridesOf(inShape);
  // Stride 0 on stretched dims; leading missing dims are stretched too.
  const bs = outShape.map((_, i) => {
    const j = i - (rank - inShape.length);
    return j < 0 || inShape[j] === 1 ? 0 : inStrides[j];
  });
  const pos = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < n; o++) {
    idx[o] = src;
    for (let d = rank - 1; d >= 0; d--) {
      pos[d]++;
      src += bs[d];
      if (pos[d] < outShape[d]) break;
      src -= bs[d] * pos[d];
      pos[d] = 0;
    }
  }
  return idx;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
