// Lowering: concrete bindings, graph structure, and the errors only
// concrete dims reveal (pointing at their spans).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkSource, DiagnosticsError } from '../../dsl/index.js';
import { lower, entryInputs, LowerOptions } from '../../compiler/lower.js';
import { Graph } from '../../compiler/graph.js';
import type { Program } from '../../dsl/program.js';

function program(text: string): Program {
  const { program: p, diagnostics } = checkSource('mem.fd', text, () => { throw new Error('no imports here'); });
  assert.is(diagnostics.length, 0, diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.message}`).join('\n'));
  return p!;
}

function lowerError(p: Program, opts: LowerOptions): DiagnosticsError {
  try {
    lower(p, opts);
  } catch (e) {
    assert.instance(e, DiagnosticsError);
    return e as DiagnosticsError;
  }
  assert.unreachable('lowering should have failed');
  throw new Error('unreachable');
}

const f32 = (...shape: number[]) => ({ dtype: 'f32' as const, shape });

const NET = `
module Block(C: int) {
  param w: f32[C, C, 3, 3] = normal(0, 0.01)
  frozen param gain: f32[C] = ones
  fn forward(x: f32[B, C, H, W]) -> f32[B, C, H, W] {
    return relu(conv2d(x, w, padding = 1)) * 2.0
  }
}
module Net(C: int = 4, n: int = 3, double: bool = false) {
  stem = Block(C)
  frozen fixed = Block(C)
  tower = repeat(n, Block(C))
  blocks = [for i in 0..2: Block(C)]
  fn forward(x: f32[B, C, H, W]) where H % 4 == 0 {
    let y = tower(stem(x))
    let z = [for b in blocks: b(y)]
    if double {
      return (y + y, z[1])
    }
    return (y, fixed(z[0]))
  }
}`;

test('parameters get dotted names, repeat indices and frozen flags', () => {
  const g = lower(program(NET), { entry: 'Net', inputs: { x: f32(2, 4, 8, 8) } });
  const names = g.params.map((p) => p.name);
  assert.equal(names.slice(0, 4), ['stem.w', 'stem.gain', 'fixed.w', 'fixed.gain']);
  assert.ok(names.includes('tower.2.w') && !names.includes('tower.3.w'));
  assert.ok(names.includes('blocks.1.gain'));
  const frozen = new Map(g.params.map((p) => [p.name, p.frozen]));
  assert.is(frozen.get('fixed.w'), true, 'a frozen field freezes its module');
  assert.is(frozen.get('stem.gain'), true, 'frozen param');
  assert.is(frozen.get('stem.w'), false);
  assert.equal(g.params.find((p) => p.name === 'stem.w')!.init, { kind: 'normal', mean: 0, std: 0.01 });
});

test('loops and repeat unroll; literals become consts of the operand dtype; nodes carry spans and scopes', () => {
  const g = lower(program(NET), { entry: 'Net', inputs: { x: f32(2, 4, 8, 8) } });
  const convs = g.nodes.filter((n) => n.op === 'conv2d');
  assert.is(convs.length, 1 + 3 + 2 + 1);
  assert.equal(convs[0].attrs.padding, [1]);
  assert.equal(convs[0].attrs.stride, [1], 'defaults are filled in');
  assert.is(convs[0].span.file, 'mem.fd');
  assert.is(convs[0].span.line, 6);
  assert.is(convs[1].scope, 'tower.0');
  const consts = g.nodes.filter((n) => n.op === 'const');
  assert.ok(consts.length > 0 && consts.every((n) => n.attrs.value === 2 && g.values[n.outputs[0]].type.dtype === 'f32'));
  assert.equal(g.outputs.map((o) => o.name), ['y', 'out1']);
});

test('constructor arguments override defaults; static if follows them', () => {
  const p = program(NET);
  const g = lower(p, { entry: 'Net', inputs: { x: f32(1, 6, 4, 4) }, args: { C: 6, n: 1, double: true } });
  assert.is(g.nodes.filter((n) => n.op === 'conv2d').length, 1 + 1 + 2);
  assert.equal(g.values[g.outputs[0].value].type.shape, [1, 6, 4, 4]);
  assert.ok(g.nodes.some((n) => n.op === 'add'));
});

test('input errors point at the declared parameter', () => {
  const p = program(NET);
  const ch = lowerError(p, { entry: 'Net', inputs: { x: f32(1, 3, 8, 8) } });
  assert.is(ch.diagnostics[0].span.line, 14);
  assert.match(ch.diagnostics[0].message, /cannot unify C = 4 with 3/);
  const div = lowerError(p, { entry: 'Net', inputs: { x: f32(1, 4, 10, 8) } });
  assert.match(div.diagnostics[0].message, /H = 10 is not divisible by 4/);
  assert.is(div.diagnostics[0].span.line, 14);
  assert.match(div.message, /mem\.fd:14:14: error/);
  assert.match(lowerError(p, { entry: 'Net', inputs: {} }).message, /missing input 'x'/);
  assert.match(lowerError(p, { entry: 'Net', inputs: { x: f32(1, 4, 8, 8), y: f32(1) } }).message, /has no input 'y'/);
  assert.match(lowerError(p, { entry: 'Nett', inputs: {} }).message, /unknown entry module 'Nett'[\s\S]*modules: Block, Net/);
  assert.match(lowerError(p, { entry: 'Net', fn: 'backward', inputs: {} }).message, /has no function 'backward'/);
  assert.match(lowerError(p, { entry: 'Net', inputs: { x: f32(1, 4, 8, 8) }, args: { D: 3 } }).message, /no constructor parameter 'D'/);
  assert.match(lowerError(p, { entry: 'Net', inputs: { x: { dtype: 'i32', shape: [1, 4, 8, 8] } } }).message, /dtype mismatch/);
});

test('an assumption the checker deferred fails at lowering, at its span', () => {
  const p = program(`
module M(C: int) {
  param w: f32[8, C, 3, 3] = zeros
  fn forward(x: f32[B, 4, H, W]) {
    return conv2d(x, w, padding = 1)
  }
}`);
  const ok = lower(p, { entry: 'M', inputs: { x: f32(1, 4, 5, 5) }, args: { C: 4 } });
  assert.equal(ok.values[ok.outputs[0].value].type.shape, [1, 8, 5, 5]);
  const e = lowerError(p, { entry: 'M', inputs: { x: f32(1, 4, 5, 5) }, args: { C: 5 } });
  assert.is(e.diagnostics.length, 1);
  assert.equal([e.diagnostics[0].span.line, e.diagnostics[0].span.col], [5, 22]);
  assert.match(e.diagnostics[0].message, /input has 4 channels but the weight expects 5/);
  assert.match(e.diagnostics[0].hint ?? '', /'w' is declared f32\[8, C, 3, 3\] with C = 5 \(mem\.fd:3\)/);
});

test('bucket dims round up to powers of two (at least 8)', () => {
  const p = program(`
module Targets() {
  fn forward(boxes: f32[B, G, 4], count: i32[B]) where G: bucket {
    return (boxes * 1.0, count)
  }
}`);
  const shapeFor = (g: number): number[] => {
    const graph: Graph = lower(p, { entry: 'Targets', inputs: { boxes: f32(2, g, 4), count: { dtype: 'i32', shape: [2] } } });
    return [...graph.values[graph.inputs[0].value].type.shape];
  };
  assert.equal(shapeFor(3), [2, 8, 4]);
  assert.equal(shapeFor(13), [2, 16, 4]);
  assert.equal(shapeFor(64), [2, 64, 4]);
});

test('every use of a bucket dim rounds, not only the one that binds it', () => {
  const p = program(`
module Targets() {
  fn forward(boxes: f32[B, G, 4], classes: i32[B, G]) where G: bucket {
    return (boxes * 1.0, classes)
  }
}`);
  const graph: Graph = lower(p, { entry: 'Targets', inputs: { boxes: f32(2, 3, 4), classes: { dtype: 'i32', shape: [2, 3] } } });
  assert.equal([...graph.values[graph.inputs[0].value].type.shape], [2, 8, 4]);
  assert.equal([...graph.values[graph.inputs[1].value].type.shape], [2, 8]);
});

test('scalar indexing of a 1-D parameter lowers to slice + reshape', () => {
  const p = program(`
module S(levels: int = 5) {
  param scales: f32[levels] = ones
  fn forward(x: f32[N], l: int) { return x * scales[l] }
}`);
  const g = lower(p, { entry: 'S', inputs: { x: f32(3) }, args: { l: 4 } });
  const slice = g.nodes.find((n) => n.op === 'slice')!;
  assert.equal([slice.attrs.start, slice.attrs.end], [4, 5]);
  const reshape = g.nodes.find((n) => n.op === 'reshape')!;
  assert.equal(g.values[reshape.outputs[0]].type.shape, []);
  assert.match(lowerError(p, { entry: 'S', inputs: { x: f32(3) }, args: { l: 5 } }).message, /index 5 is out of range/);
});

test('entryInputs lists the entry function parameters', () => {
  assert.equal(entryInputs(program(NET), 'Net'), [{ name: 'x', type: 'f32[B, C, H, W]' }]);
  assert.equal(entryInputs(program(NET), 'Nope'), []);
});

test.run();
