import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Dim, add, ceildiv, dimEquals, evaluate, floordiv, mod, mul, neg, quotientSym, showDim, showShape, sub, substitute, sym, symbols,
} from '../../compiler/dims.js';

const H = sym('H'), W = sym('W'), C = sym('C');
const eq = (a: Dim, b: Dim, what?: string): void => assert.is(dimEquals(a, b), true, what ?? `${showDim(a)} == ${showDim(b)}`);

/** A stride-s, kernel-k, padding-p window over n (what conv2d computes). */
const conv = (n: Dim, k: number, s: number, p: number): Dim => add(floordiv(add(sub(n, k), 2 * p), s), 1);

test('algebra identities', () => {
  eq(add(H, W), add(W, H));
  eq(mul(H, W), mul(W, H));
  eq(mul(add(H, 1), add(W, 2)), add(add(mul(H, W), mul(2, H)), add(W, 2)));
  eq(sub(H, H), 0);
  assert.is(sub(H, H), 0, 'collapses to the number 0');
  assert.is(add(sub(add(H, 3), H), 1), 4);
  eq(neg(neg(H)), H);
  eq(mul(H, 0), 0);
  eq(mul(add(H, W), add(H, W)), add(add(mul(H, H), mul(2, mul(H, W))), mul(W, W)));
  assert.is(dimEquals(add(H, 1), H), false, 'differ by a constant');
  assert.is(dimEquals(H, W), undefined, 'depends on the values');
  assert.is(mul(3, 4), 12);
});

test('floordiv: numbers, exact division, canonical remainders', () => {
  assert.is(floordiv(7, 2), 3);
  assert.is(floordiv(-7, 2), -4);
  eq(floordiv(mul(2, H), 2), H);
  eq(floordiv(add(mul(4, H), 6), 2), add(mul(2, H), 3));
  eq(floordiv(add(mul(2, H), 3), 2), add(H, 1));
  // (H - 1)//2 + 1 and (H + 1)//2 are the same number for every H.
  eq(add(floordiv(sub(H, 1), 2), 1), floordiv(add(H, 1), 2));
  eq(conv(H, 3, 2, 1), conv(H, 1, 2, 0), 'k3 p1 s2 and k1 p0 s2 agree');
  assert.is(dimEquals(conv(H, 3, 2, 1), conv(H, 2, 2, 0)), undefined, '(H+1)//2 vs H//2 depend on H');
  eq(floordiv(H, 1), H);
  assert.throws(() => floordiv(H, 0), /positive integer/);
  assert.throws(() => floordiv(H, 1.5), /positive integer/);
  for (const h of [1, 2, 7, 8, 33, 100]) {
    assert.is(evaluate(conv(H, 3, 2, 1), { H: h }), Math.floor((h + 2 - 3) / 2) + 1, `H = ${h}`);
    assert.is(evaluate(mod(H, 4), { H: h }), h % 4);
    assert.is(evaluate(ceildiv(H, 4), { H: h }), Math.ceil(h / 4));
  }
});

test('floordiv divides out a common factor of the coefficients', () => {
  eq(floordiv(add(mul(2, H), 1), 4), floordiv(H, 2));
  eq(floordiv(add(mul(6, H), 5), 4), add(add(H, 1), floordiv(H, 2)));
  eq(floordiv(mul(3, H), 2), add(H, floordiv(H, 2)));
  eq(floordiv(sub(0, H), 2), sub(floordiv(H, 2), H));
  eq(floordiv(add(mul(4, H), mul(6, W)), 8), floordiv(add(mul(2, H), mul(3, W)), 4));
});

test('random expressions evaluate like integer arithmetic', () => {
  let seed = 12345;
  const next = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  type E = { dim: Dim; val: (h: number, w: number) => number };
  const leaf = (): E => {
    const r = next();
    if (r < 0.35) return { dim: H, val: (h) => h };
    if (r < 0.6) return { dim: W, val: (_h, w) => w };
    const c = Math.floor(next() * 11) - 5;
    return { dim: c, val: () => c };
  };
  const build = (depth: number): E => {
    if (depth === 0) return leaf();
    const a = build(depth - 1), r = next();
    if (r < 0.3) { const b = build(depth - 1); return { dim: add(a.dim, b.dim), val: (h, w) => a.val(h, w) + b.val(h, w) }; }
    if (r < 0.45) { const b = build(depth - 1); return { dim: sub(a.dim, b.dim), val: (h, w) => a.val(h, w) - b.val(h, w) }; }
    if (r < 0.6) { const b = leaf(); return { dim: mul(a.dim, b.dim), val: (h, w) => a.val(h, w) * b.val(h, w) }; }
    if (r < 0.75) { const c = Math.floor(next() * 5) - 2; return { dim: mul(a.dim, c), val: (h, w) => a.val(h, w) * c }; }
    const d = 1 + Math.floor(next() * 8);
    return { dim: floordiv(a.dim, d), val: (h, w) => Math.floor(a.val(h, w) / d) };
  };
  for (let t = 0; t < 300; t++) {
    const e = build(1 + Math.floor(next() * 4));
    for (const [h, w] of [[1, 1], [2, 7], [13, 4], [32, 32], [100, 63], [7, 250]]) {
      assert.is(evaluate(e.dim, { H: h, W: w }), e.val(h, w), `${showDim(e.dim)} at H=${h}, W=${w}`);
    }
  }
});

test('quotient symbols: five stride-2 k3 p1 convs of H = 32 * [H/32] give exactly [H/32]', () => {
  const q = quotientSym('H', 32);
  let h: Dim = mul(32, q);
  assert.is(showDim(h), 'H');
  const seen: string[] = [];
  for (let i = 0; i < 5; i++) { h = conv(h, 3, 2, 1); seen.push(showDim(h)); }
  eq(h, q);
  assert.equal(seen, ['16*(H/32)', '8*(H/32)', '4*(H/32)', '2*(H/32)', '(H/32)']);
  // A 1x1 stride-2 shortcut and a 3x3 stride-2 main path agree at every stage (ResNet's residual add).
  eq(conv(mul(32, q), 1, 2, 0), conv(mul(32, q), 3, 2, 1));
  // The max-pool of the stem: k3 s2 p1 of H/2.
  eq(conv(mul(16, q), 3, 2, 1), mul(8, q));
  // Unfolding at a concrete H (the binder checks divisibility).
  assert.is(evaluate(h, { H: 800 }), 25);
  assert.is(evaluate(mul(8, q), { H: 640 }), 160);
  assert.equal([...symbols(add(h, W))].sort(), ['H', 'W']);
});

test('substitute and evaluate', () => {
  const e = add(mul(H, W), mul(3, C));
  assert.is(evaluate(e, { H: 2, W: 5, C: 4 }), 22);
  assert.is(evaluate(e, new Map([['H', 2], ['W', 5], ['C', 4]])), 22);
  eq(substitute(e, { H: 2 }), add(mul(2, W), mul(3, C)));
  eq(substitute(e, { C: add(H, 1) }), add(add(mul(H, W), mul(3, H)), 3));
  assert.is(substitute(floordiv(add(H, 1), 2), { H: 8 }), 4);
  assert.throws(() => evaluate(e, { H: 1 }), /unbound symbols: W, C|unbound symbols: C, W/);
  assert.is(evaluate(7, {}), 7);
});

test('showDim and showShape', () => {
  assert.is(showDim(5), '5');
  assert.is(showDim(H), 'H');
  assert.is(showDim(add(mul(2, H), 1)), '2*H + 1');
  assert.is(showDim(sub(1, H)), '-H + 1');
  assert.is(showDim(sub(mul(H, W), mul(3, C))), '-3*C + H*W');
  assert.is(showDim(floordiv(sub(H, 1), 2)), '(H + 1)//2 - 1');
  assert.is(showDim(mul(64, quotientSym('H', 32))), '2*H');
  assert.is(showShape([1, H, add(W, 2)]), '[1, H, W + 2]');
  assert.is(String(add(H, 1)), 'H + 1');
});

test.run();
