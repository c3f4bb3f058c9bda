// The SGD-with-momentum update of one parameter as one op with two outputs
// (compiler/optimizer.ts appendSgd): the new momentum buffer and the new
// weight, so one kernel stores both at each index instead of a launch for
// the buffer and another for the weight that reads it back.
//
// With the step's finite flag `ok` (a bool scalar), a step that is not
// committed leaves both as they were:
//   p  = buf·momentum + d      (d when momentum is 0)
//   c  = ok ? p : buf          → new_buf
//   w' = ok ? w − c·lr : w     → new_w
// The expressions, and their order, are the ones the optimizer built from
// add/mul/where/sub nodes before, so the update is bit-for-bit the same.
import { numel } from '../types.js';
import { Tensor } from '../tensor.js';
import { floatAttr } from './attrs.js';
import { need, requireDtype, requireEq } from './checks.js';
import { Op, ShapeError } from './op.js';
import { alloc, usesF64 } from './tensors.js';

const sgd_update: Op<'sgd_update'> = {
  name: 'sgd_update', kind: 'elementwise',
  doc: 'one SGD-with-momentum step: (new_buf, new_w) from the weight, its momentum buffer, the step direction d (gradient plus weight decay) and the learning rate; with the bool scalar ok false, both stay as they were',
  inputs: [
    { name: 'w', dtypes: ['f32'] }, { name: 'buf', dtypes: ['f32'] }, { name: 'd', dtypes: ['f32'] },
    { name: 'lr', dtypes: ['f32'] }, { name: 'ok', dtypes: ['bool'], optional: true },
  ],
  attrs: [{ name: 'momentum', type: 'float', doc: '0: the buffer is d itself' }],
  shape([w, buf, d, lr, ok], attrs, ctx) {
    const tw = need('sgd_update', w, 'w', 0), tb = need('sgd_update', buf, 'buf', 1), td = need('sgd_update', d, 'd', 2), tl = need('sgd_update', lr, 'lr', 3);
    floatAttr('sgd_update', attrs, 'momentum');
    const same = [[tb, 'buf', 1], [td, 'd', 2]] as const;
    for (const [t, name, arg] of [[tw, 'w', 0] as const, ...same, [tl, 'lr', 3] as const]) requireDtype('sgd_update', t, ['f32'], name, arg);
    for (const [t, name, arg] of same) {
      if (t.shape.length !== tw.shape.length) throw new ShapeError(`sgd_update: ${name} must have w's shape (rank ${tw.shape.length}), got rank ${t.shape.length}`, { arg });
      t.shape.forEach((dim, i) => requireEq(ctx, dim, tw.shape[i], `sgd_update: ${name} must have w's shape (dim ${i})`, arg));
    }
    if (tl.shape.length !== 0) throw new ShapeError(`sgd_update: lr must be a scalar, got rank ${tl.shape.length}`, { arg: 3 });
    if (ok !== undefined) {
      requireDtype('sgd_update', ok, ['bool'], 'ok', 4);
      if (ok.shape.length !== 0) throw new ShapeError(`sgd_update: ok must be a scalar, got rank ${ok.shape.length}`, { arg: 4 });
    }
    return [{ dtype: 'f32', shape: tw.shape }, { dtype: 'f32', shape: tw.shape }];
  },
  reference([w, buf, d, lr, ok], attrs) {
    const f64 = usesF64([w, buf, d, lr]);
    // Each step rounded as the f32 tensor between the graph nodes it replaces was.
    const r = f64 ? (x: number) => x : Math.fround;
    const m = floatAttr('sgd_update', attrs, 'momentum');
    const mk = r(m), rate = lr!.data[0], commit = ok === undefined || ok.data[0] !== 0;
    const newBuf = alloc('f32', w!.shape, f64), newW = alloc('f32', w!.shape, f64);
    for (let i = 0; i < numel(w!.shape); i++) {
      const old = buf!.data[i];
      const p = m !== 0 ? r(r(old * mk) + d!.data[i]) : d!.data[i];
      const c = commit ? p : old;
      newBuf.data[i] = c;
      newW.data[i] = commit ? r(w!.data[i] - r(c * rate)) : w!.data[i];
    }
    return [newBuf, newW] satisfies Tensor[];
  },
  // p's product and sum, the weight's product and difference (the guard only selects).
  flops: (_inputs, outputs, attrs) => numel(outputs[0].shape) * (attrs.momentum !== 0 ? 4 : 2),
  // An optimizer step: nothing differentiates through it.
  grad: 'none',
};

export const SGD_OPS = [sgd_update] as const;
