// 3D max filtering (DeFCN): for each pyramid level, neighbouring levels are
// bilinearly resized to its size and a (tau+1) x phi x phi max is taken,
// keeping the level's own frame. Resize and max are one op so backends can
// sample the neighbours inside the kernel.
import { isConst, showDim } from '../dims.js';
import { numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { dimAttr, intAttr, withDefaults } from './attrs.js';
import { need, requireDtype, requireEq, requireRank } from './checks.js';
import { Attrs, OpDef, ShapeError } from './op.js';
import { resizePlanes } from './resize.js';
import { alloc, usesF64 } from './tensors.js';

function windowParams(attrs: Attrs): { tau: number; phi: number } {
  const tau = intAttr('max3d', attrs, 'tau'), phi = intAttr('max3d', attrs, 'phi');
  if (tau < 0 || tau % 2 !== 0) throw new ShapeError(`max3d: tau must be an even number >= 0, got ${tau}`, { hint: 'the paper uses tau in {0, 2, 4}' });
  if (phi < 1 || phi % 2 !== 1) throw new ShapeError(`max3d: phi must be an odd number >= 1, got ${phi}`, { hint: 'the paper uses phi in {1, 3, 5}' });
  return { tau, phi };
}

/** The levels level l sees: [l - tau/2, l + tau/2] clipped to the pyramid. */
export function neighbourLevels(l: number, levels: number, tau: number): number[] {
  const out: number[] = [];
  for (let k = Math.max(0, l - tau / 2); k <= Math.min(levels - 1, l + tau / 2); k++) out.push(k);
  return out;
}

const max3d: OpDef = {
  name: 'max3d', kind: 'opaque',
  doc: 'DeFCN 3D max filter over pyramid levels [B, C, H_l, W_l]: one output per level, same shape',
  inputs: [{ name: 'levels', dtypes: ['f32', 'f16'], variadic: true }],
  attrs: [{ name: 'tau', type: 'int', default: 2 }, { name: 'phi', type: 'int', default: 3 }],
  shape(ins, attrs, ctx) {
    // The window never changes shapes: symbolic tau/phi are left to lowering.
    if (isConst(dimAttr('max3d', attrs, 'tau')) && isConst(dimAttr('max3d', attrs, 'phi'))) windowParams(attrs);
    if (ins.length === 0) throw new ShapeError('max3d: needs at least one level');
    const ts = ins.map((t, i) => need('max3d', t, `level ${i}`, i));
    ts.forEach((t, i) => {
      requireRank('max3d', t, 4, `level ${i}`, i, 'B, C, H, W');
      requireDtype('max3d', t, ['f32', 'f16'], `level ${i}`, i);
      if (t.dtype !== ts[0].dtype) throw new ShapeError(`max3d: level ${i} is ${t.dtype} but level 0 is ${ts[0].dtype}`, { arg: i });
      requireEq(ctx, t.shape[0], ts[0].shape[0], `max3d: level ${i} has batch ${showDim(t.shape[0])} but level 0 has ${showDim(ts[0].shape[0])}`, i);
      requireEq(ctx, t.shape[1], ts[0].shape[1], `max3d: level ${i} has ${showDim(t.shape[1])} channels but level 0 has ${showDim(ts[0].shape[1])}`, i,
        'all levels must share B and C (apply the same conv to every level)');
    });
    return ts.map((t) => ({ dtype: t.dtype, shape: t.shape }));
  },
  reference(ins, attrs) {
    const { tau, phi } = windowParams(attrs);
    const levels = ins as Tensor[];
    const L = levels.length, r = (phi - 1) / 2;
    return levels.map((x, l) => {
      const [B, C, H, W] = x.shape;
      const frames = neighbourLevels(l, L, tau).map((k) => (k === l ? x : resizePlanes(levels[k], H, W, 'bilinear')));
      const out = alloc(x.dtype, x.shape, usesF64(levels));
      for (let p = 0; p < B * C; p++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
        // Frames ascending, then h, then w; strictly greater or NaN replaces (PyTorch's first-max order).
        let m = -Infinity;
        for (const f of frames) {
          for (let dh = -r; dh <= r; dh++) {
            const y = h + dh;
            if (y < 0 || y >= H) continue;
            for (let dw = -r; dw <= r; dw++) {
              const xx = w + dw;
              if (xx < 0 || xx >= W) continue;
              const v = f.data[(p * H + y) * W + xx];
              if (v > m || (Number.isNaN(v) && !Number.isNaN(m))) m = v;
            }
          }
        }
        out.data[(p * H + h) * W + w] = m;
      }
      return out;
    });
  },
  flops(ins, _outs, attrs) {
    const { tau, phi } = windowParams(withDefaults(max3d, attrs));
    let total = 0;
    ins.forEach((t, l) => {
      const n = numel(t!.shape);
      const frames = neighbourLevels(l, ins.length, tau).length;
      total += n * frames * phi * phi + n * 6 * (frames - 1);
    });
    return total;
  },
};

export const MAX3D_OPS: readonly OpDef[] = [max3d];
