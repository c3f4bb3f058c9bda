import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { dimAttr, dimsAttr, floatAttr, intAttr, intsAttr, normAxis, showAttr, stringAttr, withDefaults } from '../../../compiler/ops/attrs.js';
import { ShapeError } from '../../../compiler/ops/op.js';
import { def } from '../../helpers/op-check.js';

const fails = (fn: () => unknown, msg: string): void => {
  try { fn(); } catch (e) { assert.instance(e, ShapeError); assert.ok((e as Error).message.includes(msg), (e as Error).message); return; }
  assert.unreachable(`expected ShapeError "${msg}"`);
};

test('ints attrs: one value for every dim or one per dim', () => {
  assert.equal(intsAttr('op', { s: [2] }, 's', 2), [2, 2]);
  assert.equal(intsAttr('op', { s: 3 }, 's', 2), [3, 3]);
  assert.equal(intsAttr('op', { s: [1, 2] }, 's', 2), [1, 2]);
  assert.equal(intsAttr('op', { s: [1, 2, 3] }, 's'), [1, 2, 3]);
  fails(() => intsAttr('op', { s: [1, 2, 3] }, 's', 2), "op: attribute 's' needs 1 or 2 values, got 3");
  fails(() => intsAttr('op', { s: [1.5] }, 's', 2), "op: attribute 's' must be an integer, got 1.5");
  assert.is(String(dimsAttr('op', { s: [sym('H')] }, 's', 2)[1]), 'H');
  fails(() => intsAttr('op', { s: [sym('H')] }, 's', 2), "op: attribute 's' must be a known integer, got H");
});

test('scalar attrs and their errors', () => {
  assert.is(intAttr('op', { k: [4] }, 'k'), 4);
  assert.is(String(dimAttr('op', { k: sym('K') }, 'k')), 'K');
  fails(() => intAttr('op', {}, 'k'), "op: missing attribute 'k'");
  fails(() => intAttr('op', { k: 'x' }, 'k'), "op: attribute 'k' must be an integer, got \"x\"");
  fails(() => dimAttr('op', { k: [1, 2] }, 'k'), "op: attribute 'k' must be one integer, got 2 values");
  assert.is(floatAttr('op', { f: -Infinity }, 'f'), -Infinity);
  fails(() => floatAttr('op', { f: true }, 'f'), "op: attribute 'f' must be a number, got true");
  fails(() => stringAttr('op', { m: 'cubic' }, 'm', ['a', 'b']), "op: attribute 'm' must be one of \"a\", \"b\", got \"cubic\"");
  assert.is(showAttr([1, sym('H')]), '[1, H]');
});

test('normAxis and withDefaults', () => {
  assert.is(normAxis('op', -1, 4), 3);
  assert.is(normAxis('op', 0, 1), 0);
  fails(() => normAxis('op', 4, 4), 'op: axis 4 is out of range for a tensor of rank 4');
  fails(() => normAxis('op', -5, 4), 'axis -5 is out of range');
  const full = withDefaults(def('conv2d'), { stride: [2] });
  assert.equal(full, { stride: [2], padding: [0], dilation: [1], groups: 1 });
});

test.run();
