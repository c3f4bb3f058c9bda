// max3d's backward as two graph ops: max3d_argmax finds, once per output,
// where its maximum came from; max3d_argmax_grad routes the output gradients
// there. The arg-max is a code per output of level l (plane-relative):
//
//   code = k * H_l * W_l + y * W_l + x
//
// k the frame (pyramid level) the maximum was read from and (y, x) the
// position in level l's frame (so, for k != l, a bilinear sample of level k
// resized to level l's size); -1 when the window holds nothing above -inf.
// Ties follow the forward's scan (frames ascending, then h, then w; strictly
// greater or a first NaN replaces): the first maximum in that order wins.
import { showDim } from '../dims.js';
import { numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { withDefaults } from './attrs.js';
import { need, requireDtype, requireEq, requireRank } from './checks.js';
import { MAX3D_ATTRS, forEachArgmax, gradientRouter, max3dShape, neighbourLevels, windowParams } from './max3d.js';
import { Op, ShapeError } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const max3dArgmax: Op<'max3d_argmax'> = {
  name: 'max3d_argmax', kind: 'opaque',
  doc: 'where each max3d output\'s maximum came from, as an i32 code frame * H * W + y * W + x (position in the output level\'s frame; -1: none); first maximum in the forward\'s scan order',
  inputs: [{ name: 'levels', dtypes: ['f32', 'f16'], variadic: true }],
  attrs: MAX3D_ATTRS,
  shape(ins, attrs, ctx) {
    return max3dShape('max3d_argmax', ins, attrs, ctx).map((t) => ({ dtype: 'i32', shape: t.shape }));
  },
  reference(ins, attrs) {
    const { tau, phi } = windowParams(attrs);
    const levels = ins as Tensor[];
    const outs = levels.map((x) => {
      const t = alloc('i32', x.shape, false);
      t.data.fill(-1);
      return t;
    });
    forEachArgmax(levels, tau, phi, (l, o, k, at) => {
      const [, , H, W] = levels[l].shape;
      outs[l].data[o] = k * H * W + (at % (H * W));
    });
    return outs;
  },
  flops(ins, _outs, attrs) {
    const { tau, phi } = windowParams(withDefaults(max3dArgmax, attrs));
    let total = 0;
    ins.forEach((t, l) => {
      const frames = neighbourLevels(l, ins.length, tau).length;
      total += numel(t!.shape) * (frames * phi * phi + 6 * (frames - 1));
    });
    return total;
  },
  grad: 'none',
};

/** Splits the flat inputs of max3d_argmax_grad into codes and gradients, checking both. */
function codesAndGrads<T>(ins: readonly T[]): { L: number; codes: readonly T[]; grads: readonly T[] } {
  if (ins.length === 0 || ins.length % 2 !== 0) throw new ShapeError(`max3d_argmax_grad: needs the L arg-max codes then the L output gradients, got ${ins.length} tensors`);
  const L = ins.length / 2;
  return { L, codes: ins.slice(0, L), grads: ins.slice(L) };
}

const max3dArgmaxGrad: Op<'max3d_argmax_grad'> = {
  name: 'max3d_argmax_grad', kind: 'opaque',
  doc: 'adjoint of max3d from its arg-max codes: xs = the L codes of max3d_argmax, then the L output gradients; each output\'s gradient goes to the element its code names, through the bilinear weights when that is a resized neighbour (a gather per input: no atomics, fixed summation order)',
  inputs: [{ name: 'xs', dtypes: ['i32', 'f32', 'f16'], variadic: true }],
  attrs: MAX3D_ATTRS,
  shape(ins, attrs, ctx) {
    const { L, codes, grads } = codesAndGrads(ins);
    const cts = max3dShape('max3d_argmax_grad', codes, attrs, ctx, ['i32']);
    return grads.map((g, l) => {
      const t = need('max3d_argmax_grad', g, `gradient ${l}`, L + l);
      requireRank('max3d_argmax_grad', t, 4, `gradient ${l}`, L + l, 'B, C, H, W');
      requireDtype('max3d_argmax_grad', t, ['f32', 'f16'], `gradient ${l}`, L + l);
      if (t.dtype !== (grads[0] as typeof t).dtype) throw new ShapeError(`max3d_argmax_grad: gradient ${l} is ${t.dtype} but gradient 0 is ${(grads[0] as typeof t).dtype}`, { arg: L + l });
      cts[l].shape.forEach((d, i) => requireEq(ctx, t.shape[i], d, `max3d_argmax_grad: gradient ${l} dim ${i} is ${showDim(t.shape[i])} but code ${l} has ${showDim(d)}`, L + l));
      return { dtype: t.dtype, shape: t.shape };
    });
  },
  reference(ins) {
    const { codes, grads } = codesAndGrads(ins as Tensor[]);
    const acc = grads.map((g) => new Float64Array(g.data.length));
    const route = gradientRouter(acc, codes.map((c) => c.shape as readonly number[]));
    codes.forEach((c, l) => {
      const [, , H, W] = c.shape as number[];
      const plane = H * W;
      for (let o = 0; o < c.data.length; o++) {
        const code = c.data[o];
        const k = Math.floor(code / plane);
        // A code naming no level routes nothing (the kernel finds no match for it either).
        if (code < 0 || k >= codes.length) continue;
        const pos = code % plane;
        route(l, k, Math.floor(o / plane), Math.floor(pos / W), pos % W, grads[l].data[o]);
      }
    });
    return grads.map((g, l) => {
      const out = alloc(g.dtype, g.shape, usesF64(grads));
      out.data.set(acc[l]);
      return out;
    });
  },
  flops(_ins, outs, attrs) {
    const { tau, phi } = windowParams(withDefaults(max3dArgmaxGrad, attrs));
    // Per input element: the φ×φ code checks of its own level and of each neighbour's samples, 4 taps each.
    return outs.reduce((a, t, l) => a + numel(t.shape) * neighbourLevels(l, outs.length, tau).length * (phi * phi + 8), 0);
  },
  grad: 'none',
};

export const MAX3D_ARGMAX_OPS = [max3dArgmax, max3dArgmaxGrad] as const;
