import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { zeros } from '../../../compiler/tensor.js';
import { list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

test('arange and full by hand', () => {
  const a = run1('arange', [], { n: 4 });
  assert.is(a.dtype, 'i32');
  assert.equal(list(a), [0, 1, 2, 3]);
  assert.is(run1('arange', [], { n: 3, dtype: 'f32' }).dtype, 'f32');
  assert.equal(list(run1('full', [], { shape: [2, 2], value: 1.5 })), [1.5, 1.5, 1.5, 1.5]);
  const b = run1('full', [], { shape: [3], value: 1, dtype: 'bool' });
  assert.equal([b.dtype, ...list(b)], ['bool', 1, 1, 1]);
  assert.equal(list(run1('full', [], { shape: [2], value: -2.7, dtype: 'i32' })), [-2, -2]);
});

test('locations: cell centres, row-major over i then j', () => {
  const l = run1('locations', [zeros('f32', [1, 4, 2, 3])], { stride: 8 });
  assert.equal([...l.shape], [6, 2]);
  assert.equal(list(l), [4, 4, 12, 4, 20, 4, 4, 12, 12, 12, 20, 12]);
});

test('create shapes and errors', () => {
  assert.is(shown(shapeOf('arange', [], { n: sym('N') })[0]), 'i32[N]');
  assert.is(shown(shapeOf('full', [], { shape: [sym('B'), 100], value: -1, dtype: 'i32' })[0]), 'i32[B, 100]');
  assert.is(shown(shapeOf('locations', [ty('f32', [sym('B'), 256, sym('H'), sym('W')])], { stride: 8 })[0]), 'f32[H*W, 2]');
  assert.is(shown(shapeOf('locations', [ty('f32', [1, 8, 4, 4])], { stride: sym('S') })[0]), 'f32[16, 2]');
  shapeError('arange', [], { n: -1 }, 'arange: n = -1 must not be negative');
  shapeError('arange', [], { n: 3, dtype: 'bool' }, "arange: attribute 'dtype' must be one of");
  shapeError('locations', [ty('f32', [4, 4])], { stride: 8 }, 'locations: feature map must have rank 4 (B, C, H, W)');
  shapeError('locations', [ty('f32', [1, 1, 4, 4])], { stride: 0 }, 'locations: stride must be at least 1');
  shapeError('full', [], { shape: [2], value: 'x' }, "full: attribute 'value' must be a number");
});

test.run();
