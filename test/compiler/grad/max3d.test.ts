// max3d's gradient as autodiff emits it — max3d_argmax once, then the gather
// max3d_argmax_grad — against finite differences (f64) at tau 4 and with a
// level of one pixel; and the backward graph's shape: the two ops.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { differentiate } from '../../../compiler/autodiff.js';
import { gradCheck, opLossGraph, rand64 } from '../../helpers/grad-check.js';

test('tau 4 over four levels (every level sees all four), a 1×1 top level; phi 5', () => {
  const levels = [rand64([1, 2, 9, 8], 21), rand64([1, 2, 5, 4], 22), rand64([1, 2, 3, 2], 23), rand64([1, 2, 1, 1], 24)];
  assert.ok(gradCheck('max3d', levels, { tau: 4, phi: 3 }, { samples: 40 }) >= 90);
  gradCheck('max3d', [rand64([2, 1, 6, 5], 25), rand64([2, 1, 3, 3], 26)], { tau: 2, phi: 5 });
});

test('the backward graph: one max3d_argmax feeding one max3d_argmax_grad, with the forward window', () => {
  const levels = [rand64([1, 2, 8, 8], 1), rand64([1, 2, 4, 4], 2), rand64([1, 2, 2, 2], 3)];
  const built = opLossGraph('max3d', levels, { tau: 2, phi: 5 }, [0, 1, 2], 7);
  const { graph } = differentiate(built.graph, 'loss');
  const back = graph.nodes.slice(built.forwardNodes);
  const argmax = back.filter((n) => n.op === 'max3d_argmax'), gather = back.filter((n) => n.op === 'max3d_argmax_grad');
  assert.is(argmax.length, 1);
  assert.is(gather.length, 1);
  assert.equal(gather[0].inputs.slice(0, 3), argmax[0].outputs);
  assert.is(gather[0].attrs.phi, 5);
  assert.ok(argmax[0].outputs.every((v) => graph.values[v].type.dtype === 'i32'));
});

test.run();
