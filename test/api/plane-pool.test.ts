// PlanePool (api/core.ts): the images' float planes are lent while detect()
// prepares and runs them and given back afterwards, also when the run
// fails; planes the caller owns (a tensor input) are never taken over; a
// plane taken again is fully rewritten by pixelsToChw.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlanePool, type Prepared, detectAll, pixelsToChw } from '../../api/core.js';
import type { Detections } from '../../api/types.js';

const P = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], testShortSide: 2, testMaxSize: 2 } as never;
const isList = (x: unknown): x is readonly number[] => Array.isArray(x);
const fakeDetections = (items: Prepared[]): Detections[] => items.map((it) => ({ boxes: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0), count: 0, width: it.origW, height: it.origH, timings: { prepareMs: 0, runMs: 0, totalMs: 0 } }));

test('pooled planes go back after the run, or after a failed one; the caller planes do not', async () => {
  const pool = new PlanePool();
  const pixels = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => i * 10);
  const prepare = async (x: number): Promise<Prepared[]> => [x === 0
    ? { chw: pixelsToChw(pixels, 2, 2, 3, P, pool), pooled: true, width: 2, height: 2, origW: 2, origH: 2 }
    : { chw: new Float32Array(12), width: 2, height: 2, origW: 2, origH: 2 }];
  let seen: Float32Array[] = [];
  await detectAll([0, 1], isList, prepare, async (items) => { seen = items.map((i) => i.chw); return fakeDetections(items); }, false, pool);
  assert.is(pool.take(12), seen[0], 'the pooled plane is lent again');
  assert.is.not(pool.take(12), seen[1], 'the caller plane was not kept');
  await detectAll(0, isList, prepare, async (items) => { seen = items.map((i) => i.chw); throw new Error('run failed'); }, false, pool)
    .then(() => assert.unreachable('the run failed'), (e: Error) => assert.is(e.message, 'run failed'));
  assert.is(pool.take(12), seen[0], 'given back after a failed run too');
});

test('a reused plane holds only the new image', () => {
  const pool = new PlanePool();
  const a = pixelsToChw(Uint8Array.from({ length: 12 }, () => 255), 2, 2, 3, P, pool);
  pool.give(a);
  const b = pixelsToChw(new Uint8Array(12), 2, 2, 3, P, pool);
  assert.is(b, a);
  assert.equal(Array.from(b), new Array(12).fill(-2), '(0/255 - 0.5) / 0.25 everywhere');
});

test('RGBA pixels become three normalised planes, alpha dropped', () => {
  const rgba = Uint8Array.from([0, 51, 102, 9, 255, 204, 153, 7]); // two pixels
  const out = Array.from(pixelsToChw(rgba, 2, 1, 4, P)).map((v) => Math.round(v * 1000) / 1000);
  // (v/255 - 0.5) / 0.25: plane R = [0, 255], G = [51, 204], B = [102, 153]
  assert.equal(out, [-2, 2, -1.2, 1.2, -0.4, 0.4]);
});

test.run();
