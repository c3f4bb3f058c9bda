// CPU reductions with few outputs of many elements each are spread over
// workgroups (ops/reduce.kernel.ts cpuReduceWorkgroup): the CPU runs a
// workgroup's threads on one core, so 32 group-norm statistics in one
// workgroup of 64 used one core of the machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { CPU, webgpuTarget } from '../../compiler/target.js';
import { TestGraph } from './kernel/graphs.js';

function meanProgram(shape: number[], axes: number[], target = CPU) {
  const t = new TestGraph();
  t.output('m', t.op('mean', [t.input('x', shape)], { axes, keepdims: false }));
  return compileGraph(t.graph, target);
}

test('32 outputs of 6400 elements: 16 workgroups of 2 on the CPU', () => {
  const p = meanProgram([1, 32, 80, 80], [2, 3]);
  assert.is(p.launches.length, 1);
  assert.is(p.launches[0].grid, 16);
  assert.is(p.kernels[p.launches[0].kernel].workgroupSize, 2);
});

test('8 heavy outputs: one per workgroup; light reductions keep workgroups of 64', () => {
  assert.is(meanProgram([1, 8, 40, 40], [2, 3]).launches[0].grid, 8);
  const light = meanProgram([1, 256, 8, 8], [2, 3]); // 64 elements per output
  assert.is(light.kernels[light.launches[0].kernel].workgroupSize, 64);
  assert.is(light.launches[0].grid, 4);
});

test('other targets keep their schedules', () => {
  const p = meanProgram([1, 32, 80, 80], [2, 3], webgpuTarget());
  assert.is(p.kernels[p.launches[0].kernel].workgroupSize, 64);
});

test.run();
