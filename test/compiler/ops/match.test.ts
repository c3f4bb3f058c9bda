import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sym } from '../../../compiler/dims.js';
import { rng } from '../../../compiler/tensor.js';
import { f32, i32, list, run1, shapeError, shapeOf, shown, ty } from '../../helpers/op-check.js';

/** Best total over every injective row -> column assignment. */
function bruteForce(q: number[], rows: number, cols: number): number {
  let best = -Infinity;
  const used = new Array<boolean>(cols).fill(false);
  const go = (r: number, acc: number): void => {
    if (r === rows) { best = Math.max(best, acc); return; }
    for (let c = 0; c < cols; c++) if (!used[c]) { used[c] = true; go(r + 1, acc + q[r * cols + c]); used[c] = false; }
  };
  go(0, 0);
  return best;
}

test('match by hand: the greedy choice is not optimal', () => {
  // Greedy row 0 -> col 0 (0.9) forces row 1 -> col 1 (0.1): 1.0; optimal 0.8 + 0.8 = 1.6.
  const q = f32([1, 2, 2], [0.9, 0.8, 0.8, 0.1]);
  assert.equal(list(run1('match', [q, i32([1], [2])])), [1, 0]);
});

test('match: padded rows get -1; zero GTs; columns distinct', () => {
  const q = f32([2, 3, 4], [0.1, 0.9, 0.2, 0.3, 0.5, 0.4, 0.6, 0.1, 9, 9, 9, 9, 0.2, 0.3, 0.4, 0.5, 1, 1, 1, 1, 1, 1, 1, 1]);
  const m = list(run1('match', [q, i32([2], [2, 0])]));
  assert.equal(m.slice(3), [-1, -1, -1]);
  assert.is(m[2], -1);
  assert.equal(m.slice(0, 2), [1, 2]);
});

test('match totals equal brute force on random instances with ties and -1 entries', () => {
  const next = rng(2024);
  for (let trial = 0; trial < 60; trial++) {
    const G = 1 + Math.floor(next() * 4), N = G + Math.floor(next() * 3);
    const count = 1 + Math.floor(next() * G);
    const vals = Array.from({ length: G * N }, () => {
      const r = next();
      // Quantised qualities make ties common; -1 marks locations outside the prior.
      return r < 0.35 ? -1 : r < 0.5 ? 0 : Math.round(next() * 4) / 4;
    });
    const m = list(run1('match', [f32([1, G, N], vals), i32([1], [count])]));
    const cols = m.slice(0, count);
    assert.is(new Set(cols).size, count, `trial ${trial}: distinct columns`);
    assert.ok(cols.every((c) => c >= 0 && c < N));
    assert.ok(m.slice(count).every((c) => c === -1));
    const total = cols.reduce((a, c, r) => a + vals[r * N + c], 0);
    const best = bruteForce(vals, count, N);
    assert.ok(Math.abs(total - best) < 1e-9, `trial ${trial}: total ${total} vs optimum ${best}`);
  }
});

test('match: continuous qualities, larger instances (6 x 8), batched; optimal total and distinct columns', () => {
  const next = rng(7);
  const B = 3, G = 6, N = 8;
  const vals = Array.from({ length: B * G * N }, () => (next() < 0.3 ? -1 : next()));
  const counts = [6, 4, 0];
  const m = list(run1('match', [f32([B, G, N], vals), i32([B], counts)]));
  for (let b = 0; b < B; b++) {
    const q = vals.slice(b * G * N, (b + 1) * G * N);
    const cols = m.slice(b * G, b * G + counts[b]);
    assert.is(new Set(cols).size, counts[b]);
    assert.ok(m.slice(b * G + counts[b], (b + 1) * G).every((c) => c === -1));
    if (counts[b] === 0) continue;
    const total = cols.reduce((a, c, r) => a + q[r * N + c], 0);
    assert.ok(Math.abs(total - bruteForce(q, counts[b], N)) < 1e-5, `image ${b}`);
  }
});

test('match: non-finite qualities rank below every finite one', () => {
  const q = f32([1, 2, 3], [-Infinity, 0.2, NaN, 0.9, 0.8, -1]);
  assert.equal(list(run1('match', [q, i32([1], [2])])), [1, 0]);
});

/** The same stream as fixtures/match-scipy.py draws: two numbers per entry. */
function scipyQualities(seed: number, n: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = next(), v = next();
    out[i] = r < 0.3 ? -1 : r < 0.45 ? 0 : r < 0.7 ? Math.floor(v * 8 + 0.5) / 8 : v;
  }
  return out;
}

test('match totals equal scipy linear_sum_assignment(maximize=True) on instances up to 40 x 400', () => {
  const fixture = JSON.parse(readFileSync('test/compiler/ops/fixtures/match-scipy.json', 'utf8')) as { cases: { seed: number; G: number; N: number; total: number; first: number[] }[] };
  assert.ok(fixture.cases.length >= 6);
  for (const c of fixture.cases) {
    const q = scipyQualities(c.seed, c.G * c.N);
    assert.equal(Array.from(q.slice(0, 4)), c.first, `seed ${c.seed}: generator matches the Python one`);
    const m = list(run1('match', [f32([1, c.G, c.N], q), i32([1], [c.G])]));
    assert.is(new Set(m).size, c.G);
    const total = m.reduce((a, col, r) => a + q[r * c.N + col], 0);
    assert.ok(Math.abs(total - c.total) < 1e-6, `${c.G} x ${c.N}: total ${total} vs scipy ${c.total}`);
  }
});

test('match shapes and errors', () => {
  assert.is(shown(shapeOf('match', [ty('f32', [sym('B'), sym('G'), sym('N')]), ty('i32', [sym('B')])])[0]), 'i32[B, G]');
  shapeError('match', [ty('f32', [1, 5, 4]), ty('i32', [1])], {}, 'match: 5 GT rows but only 4 locations');
  shapeError('match', [ty('f32', [2, 3, 4]), ty('i32', [1])], {}, 'match: gt_count has 1 entries but quality has batch 2');
  shapeError('match', [ty('f32', [2, 3, 4]), ty('f32', [2])], {}, 'match: gt_count must be i32, got f32');
  assert.throws(() => run1('match', [f32([1, 1, 2], [1, 2]), i32([1], [3])]), /gt_count\[0\] = 3 is outside \[0, 1\]/);
});

test.run();
