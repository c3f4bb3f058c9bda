// Backward graphs through fusion and compileGraph, run on the kernel-IR
// interpreter (the device-free oracle for every runtime's kernels), equal to
// the reference interpreter's backward within f32 tolerance:
// |compiled - reference| <= 1e-4 + 1e-4 * |reference|.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { differentiate } from '../../compiler/autodiff.js';
import { interpret } from '../../compiler/interpret.js';
import { runProgram } from '../../compiler/kernel/run-program.js';
import { compileGraph } from '../../compiler/program.js';
import { Tensor, rng, tensor } from '../../compiler/tensor.js';
import { AttrsIn, i32 } from '../helpers/op-check.js';
import { opLossGraph } from '../helpers/grad-check.js';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { initParams } from '../../compiler/init.js';
import { CPU } from '../../compiler/target.js';

function rand32(shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  const next = rng(seed);
  return tensor('f32', shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * next()));
}

/** Compiles the op's backward fused and unfused; both must match the reference backward. Returns the fused launch count. */
function compiledMatches(op: string, inputs: (Tensor | undefined)[], attrs: AttrsIn, wrt: number[]): number {
  const built = opLossGraph(op, inputs, attrs, wrt, 3);
  const { graph } = differentiate(built.graph, 'loss');
  const want = interpret(graph, built.feeds, built.params);
  let launches = 0;
  for (const fuse of [true, false]) {
    const program = compileGraph(graph, CPU, { fuse });
    if (fuse) launches = program.launches.length;
    const got = runProgram(program, graph, built.feeds, Object.fromEntries(built.params));
    for (const name of Object.keys(want)) {
      const a = got[name].data, b = want[name].data;
      assert.is(a.length, b.length, `${op} ${name}`);
      for (let i = 0; i < b.length; i++) {
        if (!(Math.abs(a[i] - b[i]) <= 1e-4 + 1e-4 * Math.abs(b[i]))) assert.unreachable(`${op} (fuse ${fuse}) ${name}[${i}]: compiled ${a[i]}, reference ${b[i]}`);
      }
    }
  }
  return launches;
}

test('conv2d backward (input, weight, bias; stride, padding, dilation, groups) compiles and matches', () => {
  compiledMatches('conv2d', [rand32([2, 3, 7, 6], 1), rand32([4, 3, 3, 3], 2), rand32([4], 3)], { stride: [2], padding: [1] }, [0, 1, 2]);
  compiledMatches('conv2d', [rand32([1, 4, 6, 7], 4), rand32([6, 2, 3, 2], 5), undefined], { groups: 2, dilation: [2, 1], padding: [2, 0] }, [0, 1]);
});

test('matmul, group_norm, frozen_bn backward', () => {
  compiledMatches('matmul', [rand32([2, 3, 4], 1), rand32([4, 5], 2)], {}, [0, 1]);
  compiledMatches('group_norm', [rand32([2, 4, 3, 3], 3), rand32([4], 4, 0.5, 1.5), rand32([4], 5)], { groups: 2 }, [0, 1, 2]);
  const stats = [rand32([3], 6), rand32([3], 7), rand32([3], 8), rand32([3], 9, 0.5, 2)];
  compiledMatches('frozen_bn', [rand32([2, 3, 4, 3], 10), ...stats], {}, [0]);
});

test('max_pool2d, resize (nearest whole factor, bilinear) backward', () => {
  compiledMatches('max_pool2d', [rand32([2, 2, 5, 5], 1)], { kernel: [3], stride: [2], padding: [1] }, [0]);
  compiledMatches('resize', [rand32([1, 2, 3, 4], 2)], { size: [6, 8], mode: 'nearest' }, [0]);
  compiledMatches('resize', [rand32([1, 2, 5, 3], 3)], { size: [7, 4], mode: 'bilinear' }, [0]);
});

test('layout, reductions and selections backward', () => {
  compiledMatches('concat', [rand32([2, 3], 1), rand32([2, 2], 2)], { axis: 1 }, [0, 1]);
  compiledMatches('slice', [rand32([3, 8], 3)], { axis: 1, start: 1, end: 7, step: 2 }, [0]);
  compiledMatches('transpose', [rand32([2, 3, 4], 4)], { perm: [2, 0, 1] }, [0]);
  compiledMatches('max', [rand32([3, 5], 5)], { axes: [1] }, [0]);
  compiledMatches('mean', [rand32([2, 3, 4], 6)], { axes: [0, 2], keepdims: true }, [0]);
  compiledMatches('gather', [rand32([3, 4], 7), i32([3, 2], [0, 3, 1, 1, 2, 0])], { axis: 1 }, [0]);
  compiledMatches('index_select', [rand32([2, 5, 3], 8), i32([3], [4, 0, 4])], { axis: 1 }, [0]);
});

test('losses and GIoU backward (elementwise graph ops) compile and match', () => {
  const t = tensor('f32', [2, 3], [0, 1, 0.3, 1, 0, 0]);
  compiledMatches('sigmoid_focal_loss', [rand32([2, 3], 1, -3, 3), t], {}, [0]);
  compiledMatches('bce_with_logits', [rand32([2, 3], 2, -3, 3), t], {}, [0, 1]);
  const boxes = (seed: number): Tensor => {
    const next = rng(seed);
    return tensor('f32', [2, 5, 4], Array.from({ length: 10 }, () => { const x = next() * 8, y = next() * 8, w = 1 + next() * 5, h = 1 + next() * 5; return [x, y, x + w, y + h]; }).flat());
  };
  // fuse.ts materialises every value with two consumers, and the GIoU
  // backward reuses each box side many times: several small kernels today.
  const launches = compiledMatches('box_giou_aligned', [boxes(3), boxes(4)], {}, [0, 1]);
  assert.ok(launches >= 1);
  compiledMatches('box_iou_aligned', [boxes(5), boxes(6)], {}, [0, 1]);
});

/** Lowers a model, adds loss = sum over outputs of mean(out^2), and compares the compiled backward with the reference's. */
function wholeBackward(file: string, entry: string, args: Record<string, number>): string {
  const { program, diagnostics } = checkFiles([file]);
  assert.ok(program && diagnostics.length === 0, diagnostics.map((d) => d.message).join('\n'));
  const g = lower(program!, { entry, inputs: { image: { dtype: 'f32', shape: [1, 3, 32, 32] } }, args });
  const scalar = { dtype: 'f32' as const, shape: [] };
  const push = (op: string, inputs: number[], attrs: AttrsIn, type: { dtype: 'f32'; shape: number[] }): number => {
    const id = g.nodes.length, value = g.values.length;
    g.values.push({ id: value, type, node: id, index: 0 });
    g.nodes.push({ id, op, inputs, attrs, outputs: [value], span: g.nodes[0].span, scope: 'loss' });
    return value;
  };
  let loss = -1;
  for (const o of [...g.outputs]) {
    const t = g.values[o.value].type as { dtype: 'f32'; shape: number[] };
    const m = push('mean', [push('square', [o.value], {}, t)], { axes: [], keepdims: false }, scalar);
    loss = loss < 0 ? m : push('add', [loss, m], {}, scalar);
  }
  g.outputs.push({ name: 'loss', value: loss });
  const { graph, grads } = differentiate(g, 'loss');
  const params = initParams(graph, 2);
  const image = rand32([1, 3, 32, 32], 9);
  const want = interpret(graph, { image }, params);
  const compiled = compileGraph(graph, CPU, { fuse: true });
  const got = runProgram(compiled, graph, { image }, Object.fromEntries(params));
  let worst = 0;
  for (const name of grads.keys()) {
    const a = got[`grad/${name}`].data, b = want[`grad/${name}`].data;
    const scale = Math.max(1e-3, ...Array.from(b, Math.abs));
    for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  }
  // Relative to each gradient's largest entry: f32 sums in a different order.
  assert.ok(worst < 1e-3, `${entry}: worst relative difference ${worst}`);
  return `${entry} backward: ${graph.nodes.length - g.nodes.length} backward nodes, ${compiled.launches.length} launches (forward + backward), worst ${worst.toExponential(2)}`;
}

test('tiny FCOS and DeFCN (3DMF): the whole backward compiles and equals the reference backward', () => {
  console.log(`  ${wholeBackward('models/fcos.fd', 'FCOS', { depth: 0, K: 2, C: 8, groups: 4, width: 4 })}`);
  console.log(`  ${wholeBackward('models/defcn.fd', 'DeFCN', { depth: 0, K: 3, C: 8, groups: 4, width: 4 })}`);
});

test.run();
