import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgSpecs, parseInputSpec, parseInputSpecs } from '../../cli/input-spec.js';

test('parses a well-formed input spec', () => {
  assert.equal(parseInputSpec('image=f32[1,3,800,1216]'), { name: 'image', type: { dtype: 'f32', shape: [1, 3, 800, 1216] } });
  assert.equal(parseInputSpec('count = i32[ 4 ]'), { name: 'count', type: { dtype: 'i32', shape: [4] } });
  assert.equal(parseInputSpec('s=f32[]'), { name: 's', type: { dtype: 'f32', shape: [] } });
});

for (const [spec, why] of [
  ['image', 'expected name=dtype'],
  ['image=f64[1,3]', "unknown dtype 'f64'"],
  ['image=f32[1,0,4]', "dimension 1 ('0') must be a positive integer"],
  ['image=f32[1,H,4]', "dimension 1 ('H')"],
  ['image=f32[1,3', 'expected name=dtype'],
  ['3d=f32[1]', 'expected name=dtype'],
] as const) {
  test(`rejects '${spec}' with a message that says why`, () => {
    try { parseInputSpec(spec); assert.unreachable('should have thrown'); } catch (e) {
      const err = e as Error & { exitCode?: number };
      assert.ok(err.message.includes(why), err.message);
      assert.is(err.exitCode, 2);
    }
  });
}

test('a name given twice is an error', () => {
  assert.throws(() => parseInputSpecs(['x=f32[1]', 'x=f32[2]']), /given twice/);
});

test('constructor arguments: numbers and booleans', () => {
  assert.equal(parseArgSpecs(['K=80', 'centerness=false', 'alpha=0.8']), { K: 80, centerness: false, alpha: 0.8 });
  assert.throws(() => parseArgSpecs(['K']), /expected name=value/);
  assert.throws(() => parseArgSpecs(['K=eighty']), /must be a number/);
});

test.run();
