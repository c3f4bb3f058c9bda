// The checker as a whole: every error of a file in one run, no cascades,
// the printed form, imports through a caller's readFile, and what the
// symbolic dims prove.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkSource, formatDiagnostics, Diagnostic } from '../../dsl/index.js';

function check(text: string, files: Record<string, string> = {}): Diagnostic[] {
  return checkSource('main.fd', text, (p) => {
    if (p in files) return files[p];
    throw new Error(`no file ${p}`);
  }).diagnostics;
}
const where = (ds: Diagnostic[]): string[] => ds.map((d) => `${d.span.line}:${d.span.col}`);

test('several errors in one file are all reported, in several modules and functions', () => {
  const ds = check(`module A() {
  param w: f32[8, 3, 3, 3] = zeros
  fn forward(x: f32[B, 4, H, W]) { return conv2d(x, w) }
  fn other(x: f32[B, 4]) { return x + missing }
}
module B() {
  a = A()
  fn forward(x: f32[B, 4]) { return sigmoid(x, x) }
}
fn f(x: f32[N]) -> f32[N, 2] { return x }`);
  assert.equal(where(ds), ['3:53', '4:39', '8:48', '10:39']);
  assert.match(ds[0].message, /3 channels but the weight expects 4|input has 4 channels but the weight expects 3/);
  assert.match(ds[1].message, /unknown name 'missing'/);
  assert.match(ds[2].message, /sigmoid takes 1 tensor input/);
  assert.match(ds[3].message, /expected a tensor of rank 2/);
});

test('an erroneous expression does not cascade', () => {
  const ds = check(`module A() {
  param w: f32[8, 3, 3, 3] = zeros
  fn forward(x: f32[B, 3, H, W]) {
    let y = relu(nothing)
    let z = conv2d(y, w) + y * 2
    return relu(z)[0]
  }
}`);
  assert.is(ds.length, 1);
  assert.match(ds[0].message, /unknown name 'nothing'/);
});

test('syntax errors in several declarations are all reported', () => {
  const ds = check(`module A() {
  fn forward(x: f32[B]) { return relu(x }
}
module B() {
  fn forward(x: f32[B]) { return x }
}
module C( {
}
fn g(x: f32[N]) -> f32[N] { return x + }`);
  assert.equal(where(ds), ['2:41', '7:11', '9:40']);
});

test('the printed form: file:line:col, the line, a caret under the span, the hint', () => {
  const text = `module A() {
  param w: f32[8, 3, 3, 3] = zeros
  fn forward(x: f32[B, 4, H, W]) {
    let y = conv2d(x, w)
    return y
  }
}`;
  const out = formatDiagnostics(check(text), () => text);
  assert.is(out, [
    'main.fd:4:23: error: conv2d: input has 4 channels but the weight expects 3 (groups = 1)',
    '   4 |     let y = conv2d(x, w)',
    '     |                       ^',
    "  hint: 'w' is declared f32[8, 3, 3, 3] (main.fd:2); the weight is [out_channels, in_channels / groups, kH, kW]",
    '',
    '1 error',
  ].join('\n'));
});

test('imports are read through the given readFile, relative to the importer', () => {
  const lib = `module Twice() {\n  fn forward(x: f32[N]) -> f32[N] { return x * 2 }\n}`;
  const ok = check(`import "lib/twice.fd"\nmodule A() {\n  t = Twice()\n  fn forward(x: f32[N]) { return t(x) }\n}`, { 'lib/twice.fd': lib });
  assert.is(ok.length, 0);
  const bad = check(`import "lib/twice.fd"\nmodule A() {\n  t = Twice()\n  fn forward(x: f32[N, 2]) { return t(x) }\n}`, { 'lib/twice.fd': lib });
  assert.equal(where(bad), ['4:39']);
  assert.match(bad[0].message, /argument 'x' of Twice.forward: expected a tensor of rank 1/);
});

test('where-constraints let stride chains prove their output dims; dims are at least 1', () => {
  const ds = check(`module Down(C: int) {
  param w: f32[C, C, 3, 3] = zeros
  fn forward(x: f32[B, C, H, W]) -> f32[B, C, H / 8, W / 8] where H % 8 == 0, W % 8 == 0 {
    let a = conv2d(x, w, stride = 2, padding = 1)
    let b = conv2d(a, w, stride = 2, padding = 1)
    return conv2d(b, w, stride = 2, padding = 1)
  }
  fn wrong(x: f32[B, C, H, W]) -> f32[B, C, H / 8, W] where H % 8 == 0 {
    return conv2d(x, w, stride = 2, padding = 1)
  }
  fn twice(x: f32[B, C, H, W]) -> f32[B, C, 2 * H, W] {
    return x
  }
}`);
  // W against (W - 1)//2 + 1 is left to lowering: they are equal when W = 1.
  assert.equal(where(ds), ['9:12', '12:12']);
  assert.match(ds[0].message, /cannot unify H \/ 8 = \(H\/8\) with 4\*\(H\/8\)/);
  assert.match(ds[1].message, /cannot unify 2 \* H = 2\*H with H/);
});

test('unification binds dims across calls and reports the argument', () => {
  const ds = check(`fn pair(a: f32[N, 4], b: f32[N, 4]) -> f32[N, 4] { return a + b }
module M() {
  fn forward(x: f32[N, 4], y: f32[N, 3]) {
    let p = pair(x, x)
    return pair(p, y)
  }
}`);
  assert.equal(where(ds), ['5:20']);
  assert.match(ds[0].message, /cannot unify 4 with 3/);
});

test('generic checking leaves symbol-dependent equalities to lowering, as assumptions', () => {
  const r = checkSource('main.fd', `module M(C: int) {
  param w: f32[8, C, 3, 3] = zeros
  fn forward(x: f32[B, 4, H, W]) where H % 4 == 0, W % 4 == 0 { return conv2d(x, w, padding = 1, stride = 4) }
}`);
  assert.is(r.diagnostics.length, 0);
  // Channels 4 against C is assumed; the output size H/4 >= 1 is proven (H is a multiple of 4, so at least 4).
  assert.equal(r.assumptions.map((a) => `${a.span.line}:${a.span.col}`), ['3:82']);
  assert.match(r.assumptions[0].what, /input has 4 channels but the weight expects C/);
});

test('symbols the checker invents (an int parameter) prove nothing', () => {
  const r = checkSource('main.fd', `fn f(x: f32[N], l: int) { return x[l] * x[2 * l] }`);
  assert.is(r.diagnostics.length, 0);
  assert.ok(r.assumptions.length > 0);
});

test('static if on an unknown constructor bool checks both branches', () => {
  const ds = check(`module M(flag: bool) {
  fn forward(x: f32[N]) {
    if flag {
      return relu(x, 1)
    }
    return sigmoid(y)
  }
}`);
  assert.equal(where(ds), ['4:22', '6:20']);
});

test('recursion and runaway loops end in diagnostics', () => {
  const rec = check(`fn f(x: f32[N]) { return f(x) }`);
  assert.match(rec[0].message, /nest more than/);
  const loop = check(`module M() {\n  fn forward(x: f32[N]) { return [for i in 0..100000: x] }\n}`);
  assert.match(loop[0].message, /100000 iterations/);
  const self = check(`module M() {\n  m = M()\n  fn forward(x: f32[N]) { return x }\n}`);
  assert.match(self[0].message, /nest more than/);
  const nested = check(`fn f(x: f32[N]) { return [for i in 0..4000: [for j in 0..4000: x]] }`);
  assert.match(nested[0].message, /more than \d+ steps/);
  assert.match(check(`fn f(x: f32[N]) { return ${'('.repeat(5000)}x${')'.repeat(5000)} }`)[0].message, /nests too deeply/);
  assert.match(check(`fn f(x: f32[N]) { return x${' + x'.repeat(5000)} }`)[0].message, /nests too deeply/);
});

test.run();
