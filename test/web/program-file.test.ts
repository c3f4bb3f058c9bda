// The program file a page runs (web/program-file.ts) must carry what Node
// compiled exactly. Kernel IR holds ±Infinity constants (a max reduction
// starts at −∞, a min at +∞); plain JSON writes them as null, which the WGSL
// renderer reads as −∞, so a min reduction in the page started at −∞: the
// ground-truth training step's first loss was 5.58 in the page for 4.74 in
// Node. NaN and infinities in tensors travel too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GraphAppender } from '../../compiler/optimizer.js';
import { GraphBuilder } from '../../compiler/graph.js';
import { compileGraph } from '../../compiler/program.js';
import { webgpuTarget } from '../../compiler/target.js';
import { tensor } from '../../compiler/tensor.js';
import { NO_SPAN } from '../../compiler/types.js';
import { decodeProgramFile, encodeProgramFile } from '../../web/program-file.js';

/** Every number in x that is not finite, by path. */
function nonFinite(x: unknown, path = '', out: Map<string, number> = new Map()): Map<string, number> {
  if (typeof x === 'number') { if (!Number.isFinite(x)) out.set(path, x); }
  else if (x !== null && typeof x === 'object') for (const [k, v] of Object.entries(x)) nonFinite(v, `${path}.${k}`, out);
  return out;
}

function minMaxProgram() {
  const b = new GraphBuilder();
  const x = b.input('x', { dtype: 'f32', shape: [4, 8] }, NO_SPAN);
  const a = new GraphAppender(b.graph);
  b.output('hi', a.op('max', [x], { axes: [1], keepdims: false }));
  b.output('lo', a.op('min', [x], { axes: [1], keepdims: false }));
  return compileGraph(b.graph, webgpuTarget());
}

test('±Infinity constants of the kernels and non-finite tensor values survive the program file', () => {
  const program = minMaxProgram();
  const consts = nonFinite(program);
  assert.ok([...consts.values()].includes(Infinity) && [...consts.values()].includes(-Infinity), `the min/max kernels hold +∞ and −∞ constants (found ${[...consts.values()].join(', ')})`);
  const x = tensor('f32', [4, 8], Array.from({ length: 32 }, (_, i) => (i === 3 ? NaN : i === 5 ? Infinity : i === 7 ? -Infinity : i - 16)));
  const back = decodeProgramFile(encodeProgramFile(program, {}, { x }));
  const got = nonFinite(back.program);
  assert.is(got.size, consts.size);
  for (const [path, v] of consts) assert.ok(Object.is(got.get(path), v), `${path}: ${v} came back as ${got.get(path)}`);
  assert.equal(back.program, program);
  const data = Array.from(back.inputs.x!.data);
  assert.ok(Number.isNaN(data[3]!) && data[5] === Infinity && data[7] === -Infinity && data[0] === -16, `tensor values: ${data.slice(0, 8).join(', ')}`);
});

test('a damaged non-finite tag is an error, not a number', () => {
  const text = encodeProgramFile(minMaxProgram(), {}, {}).replace('"$nonfinite":"Infinity"', '"$nonfinite":"lots"');
  assert.throws(() => decodeProgramFile(text), /"\$nonfinite": "lots" is not Infinity, -Infinity or NaN/);
});

test.run();
