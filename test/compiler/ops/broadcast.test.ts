import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { broadcastIndex, broadcastShapes } from '../../../compiler/ops/broadcast.js';
import { ShapeError } from '../../../compiler/ops/op.js';
import { RecordingContext } from '../../helpers/op-check.js';

test('broadcastIndex maps output positions to input positions', () => {
  assert.equal([...broadcastIndex([2, 3], [3])], [0, 1, 2, 0, 1, 2]);
  assert.equal([...broadcastIndex([2, 3], [2, 1])], [0, 0, 0, 1, 1, 1]);
  assert.equal([...broadcastIndex([2, 2, 2], [2, 1, 2])], [0, 1, 0, 1, 2, 3, 2, 3]);
  assert.equal([...broadcastIndex([3], [])], [0, 0, 0]);
  assert.equal([...broadcastIndex([2, 2], [2, 2])], [0, 1, 2, 3]);
});

test('broadcastShapes: numbers, symbols and errors', () => {
  const ctx = new RecordingContext();
  assert.equal(broadcastShapes('op', [[2, 1, 4], [3, 1], []], ctx), [2, 3, 4]);
  assert.equal(broadcastShapes('op', [[sym('H'), 1], [1, 5]], ctx).map(String), ['H', '5']);
  assert.is(ctx.assumptions.length, 0);
  broadcastShapes('op', [[sym('H')], [sym('W')]], ctx);
  assert.is(ctx.assumptions.length, 1);
  assert.throws(() => broadcastShapes('op', [[2, 3], [4, 3]], ctx), (e: Error) => e instanceof ShapeError && e.message === 'op: shapes [2, 3] and [4, 3] do not broadcast (dim -2 is 2 vs 4)');
});

test.run();
