// The kernels of the generators (create.ts): each output element computed
// from its own index, so a generator fused into a consumer costs no memory.
import { bin, cast, div, f32, idx, konst, sel } from '../kernel/build.js';
import { intAttr } from './attrs.js';
import type { CREATE_OPS } from './create.js';
import { OpNameOf, perElement } from './op.js';

export const CREATE_KERNELS = perElement<OpNameOf<typeof CREATE_OPS>>({
  arange: (em, node, out) => cast(out[0], em.dtype(node.outputs[0])),
  full: (em, node) => konst(em.dtype(node.outputs[0]), Number(node.attrs.value)),
  locations: (em, node, out) => {
    const s = intAttr('locations', node.attrs, 'stride');
    const [, , , W] = em.inShape(node, 0);
    const cell = em.bind(out[0]);
    const coord = sel(bin('eq', out[1], idx(0)), bin('mod', cell, idx(W)), div(cell, idx(W)));
    return bin('mul', bin('add', cast(coord, 'f32'), f32(0.5)), f32(s));
  },
});
