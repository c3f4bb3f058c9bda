// postprocess.fd's two-stage top-k (pp_topk: per-chunk top-k, then the top-k
// of the survivors) gives exactly one topk's values and indices, ties
// included (lower index first), on lines long enough to take the two-stage
// path (padded and unpadded chunking), on the reference interpreter and on
// the CPU runtime.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { checkFilesOrThrow } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { interpret } from '../../compiler/interpret.js';
import { OPS } from '../../compiler/ops/index.js';
import { withDefaults } from '../../compiler/ops/attrs.js';
import { compileGraph } from '../../compiler/program.js';
import { Tensor, rng } from '../../compiler/tensor.js';
import { cpuOrSkip } from '../helpers/skip.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-pp-topk-'));
const src = join(dir, 'topk.fd');
writeFileSync(src, `import "${relative(dir, resolve('models/postprocess.fd'))}"
module T(n: int = 1000) {
  fn forward(x: f32[B, L]) {
    let (v, i) = pp_topk(x, n)
    return (v, i)
  }
}
`);

function line(B: number, L: number, seed: number): Tensor {
  const next = rng(seed);
  // Few distinct values: many ties across chunk borders.
  return { dtype: 'f32', shape: [B, L], data: Float32Array.from({ length: B * L }, () => Math.floor(next() * 300) / 300) };
}

function graphFor(B: number, L: number, n: number) {
  return lower(checkFilesOrThrow([src]), { entry: 'T', inputs: { x: { dtype: 'f32', shape: [B, L] } }, args: { n } });
}

function expected(x: Tensor, n: number): Tensor[] {
  return OPS.topk.reference([x], withDefaults(OPS.topk, { k: n }));
}

const CASES: [number, number, number][] = [[2, 70000, 1000], [1, 98304, 1000], [1, 80000, 5]];

test('two-stage top-k equals one topk on the reference interpreter (ties, padded and exact chunking)', () => {
  for (const [B, L, n] of CASES) {
    const g = graphFor(B, L, n);
    assert.ok(g.nodes.filter((nd) => nd.op === 'topk').length === 2, 'the two-stage path is taken');
    const x = line(B, L, L + n);
    const out = interpret(g, { x }, new Map());
    const [v, i] = expected(x, n);
    assert.equal(Array.from(out.v.data), Array.from(v.data), `values ${B}x${L} k ${n}`);
    assert.equal(Array.from(out.i.data), Array.from(i.data), `indices ${B}x${L} k ${n}`);
  }
});

test('a short line takes one topk', () => {
  assert.is(graphFor(1, 5000, 100).nodes.filter((nd) => nd.op === 'topk').length, 1);
});

const cpu = await cpuOrSkip();
cpu.test('CPU runtime: two-stage top-k equals one topk', async () => {
  const [B, L, n] = CASES[0];
  const g = graphFor(B, L, n);
  const exe = await cpu.runtime!.load(compileGraph(g, cpu.runtime!.target, {}));
  try {
    const x = line(B, L, 5);
    const out = await exe.run({ x });
    const [v, i] = expected(x, n);
    assert.equal(Array.from(out.v.data), Array.from(v.data));
    assert.equal(Array.from(out.i.data), Array.from(i.data));
  } finally { exe.dispose(); }
});

test.run();
