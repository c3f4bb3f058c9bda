// Language features end to end: a small program per feature, checked and
// lowered, with the graph it must produce.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkSource, DiagnosticsError } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { Graph } from '../../compiler/graph.js';
import type { ConcreteType } from '../../compiler/types.js';

function run(body: string, inputs: Record<string, ConcreteType>, args: Record<string, number | boolean> = {}, header = ''): Graph {
  const text = `${header}\nmodule T(n: int = 3, flag: bool = false, mode: string = "nearest") {\n${body}\n}`;
  const { program, diagnostics } = checkSource('lang.fd', text, () => { throw new Error('no imports'); });
  assert.is(diagnostics.length, 0, diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.message}`).join('\n'));
  return lower(program!, { entry: 'T', inputs, args });
}
const f32 = (...shape: number[]): ConcreteType => ({ dtype: 'f32', shape });
const outShapes = (g: Graph): number[][] => g.outputs.map((o) => [...g.values[o.value].type.shape]);
const ops = (g: Graph): string[] => g.nodes.filter((n) => !['input', 'param', 'const'].includes(n.op)).map((n) => n.op);

test('dims as ints: dim(), shape(), len(), min/max, integer arithmetic in attrs', () => {
  const g = run(`fn forward(x: f32[B, C, H, W]) {
    let s = shape(x)
    let h = min(dim(x, 2), s[3]) / 2
    let k = len(s) - max(1, 2)
    return (resize(x, size = (h, 2 * W)), reshape(x, shape = (B, C * H * W)), slice(x, axis = 1, start = k - 1, end = C))
  }`, { x: f32(2, 3, 8, 6) });
  assert.equal(outShapes(g), [[2, 3, 3, 12], [2, 144], [2, 2, 8, 6]]);
});

test('tuples: destructuring, nesting, negative and member indices, concatenation', () => {
  const g = run(`fn forward(x: f32[N]) {
    let t = (x, (x * 2, x * 3))
    let (a, (b, c)) = t
    let u = [a, b] + [c]
    return (u[-1], t.1.0, len(u) * a)
  }`, { x: f32(4) });
  assert.is(g.outputs.length, 3);
  assert.equal(ops(g).filter((o) => o === 'mul').length, 3);
});

test('ops: optional inputs by name, variadic inputs as a tuple or positionally, several outputs', () => {
  const g = run(`param w: f32[4, 2, 3, 3] = zeros
  param b: f32[4] = zeros
  fn forward(x: f32[1, 2, 5, 5], v: f32[6]) {
    let y = conv2d(x, w, b = b, padding = 1)
    let z = conv2d(x, w, padding = (0, 1))
    let (vals, idx) = topk(v, k = 2)
    return (concat((y, y), axis = 1), concat(z, z, z, axis = 0), vals, idx)
  }`, { x: f32(1, 2, 5, 5), v: f32(6) });
  assert.equal(outShapes(g), [[1, 8, 5, 5], [3, 4, 3, 5], [2], [2]]);
  assert.is(g.values[g.outputs[3].value].type.dtype, 'i32');
  const conv = g.nodes.find((n) => n.op === 'conv2d')!;
  assert.is(conv.inputs.length, 3);
  assert.ok(conv.inputs[2] >= 0, 'the bias given by name is wired');
  assert.is(g.nodes.filter((n) => n.op === 'conv2d')[1].inputs[2], -1, 'an omitted optional input is -1');
});

test('static if/else-if chains, choose, string comparison and constructor arguments', () => {
  const body = `fn forward(x: f32[N]) {
    let k = choose(flag, 10, 20)
    if n == 1 {
      return x * k
    } else if mode == "bilinear" {
      return x + k
    } else {
      return -x
    }
  }`;
  const pick = (args: Record<string, number | boolean>) => ops(run(body, { x: f32(2) }, args));
  assert.equal(pick({ n: 1 }), ['mul']);
  assert.equal(pick({}), ['neg']);
  const g = run(body, { x: f32(2) }, { n: 1, flag: true });
  assert.is(g.nodes.find((n) => n.op === 'const')!.attrs.value, 10);
});

test('functions of a module call each other; fields and member calls', () => {
  const g = run(`param s: f32[1] = ones
  fn helper(x: f32[N], times: int) -> f32[N] { return x * times }
  fn forward(x: f32[N]) {
    return helper(x, n) + s
  }`, { x: f32(5) });
  assert.equal(outShapes(g), [[5]]);
  const g2 = run(`inner = Inner()
  fn forward(x: f32[N]) { return inner.double(x) + inner.w }`, { x: f32(3) }, {}, `module Inner() {
  param w: f32[3] = ones
  fn double(x: f32[N]) -> f32[N] { return x * 2 }
}`);
  assert.equal(g2.params.map((p) => p.name), ['inner.w']);
});

test('int parameters are dims of the signature', () => {
  const g = run(`fn up(x: f32[B, C, H, W], s: int) -> f32[B, C, s * H, s * W] {
    return resize(x, size = (s * H, s * W))
  }
  fn rows(xs: f32[m, 4], m: int) -> f32[m, 4] { return xs }
  fn forward(x: f32[B, C, H, W]) {
    let y = up(x, 2)
    return (up(y, 3) + resize(x, size = (6 * H, 6 * W)), rows(reshape(x, shape = (6, 4)), 6))
  }`, { x: f32(1, 2, 3, 4) });
  assert.equal(outShapes(g), [[1, 2, 18, 24], [6, 4]]);
});

test('int arithmetic on dims: floor division and remainder', () => {
  const g = run(`fn forward(x: f32[N]) {
    return reshape(x, shape = (N / 4, N % 5 + 2))
  }`, { x: f32(12) });
  assert.equal(outShapes(g), [[3, 4]]);
});

test('a where-constraint that is not a divisibility rule is checked at lowering', () => {
  const body = `fn forward(x: f32[N, M]) where N <= M { return x }`;
  run(body, { x: f32(2, 3) });
  try {
    run(body, { x: f32(4, 3) });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, DiagnosticsError);
    assert.match((e as Error).message, /the constraint N <= M does not hold/);
  }
});

test('detection ops are callable: box IoU, one-to-one match with bucketed GTs, batched NMS, top-k', () => {
  const g = run(`fn forward(pred: f32[B, N, 4], scores: f32[B, N], classes: i32[B, N], gt: f32[B, G, 4], gt_count: i32[B]) where G: bucket {
    let iou = box_iou(gt, pred)
    let assigned = match(iou, gt_count)
    let (keep, kept) = nms(pred, scores, classes, iou_threshold = 0.6, max_out = 5)
    let (best, where_) = topk(scores, k = 3)
    return (assigned, keep, kept, best)
  }`, {
    pred: f32(2, 16, 4), scores: f32(2, 16), classes: { dtype: 'i32', shape: [2, 16] },
    gt: f32(2, 3, 4), gt_count: { dtype: 'i32', shape: [2] },
  });
  assert.equal(g.values[g.inputs[3].value].type.shape, [2, 8, 4], 'G = 3 rounds up to the bucket 8');
  assert.equal(outShapes(g), [[2, 8], [2, 5], [2], [2, 3]]);
  assert.equal(ops(g), ['box_iou', 'match', 'nms', 'topk']);
});

test.run();
