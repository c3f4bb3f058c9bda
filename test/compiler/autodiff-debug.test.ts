// FUSEDET_DEBUG=5 (the graph after the autodiff pass) is read at the edge:
// differentiate() prints only when its `debug` option says so, whatever the
// environment holds, and `fusedet train` passes the variable in as that option.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { differentiate } from '../../compiler/autodiff.js';
import { GraphBuilder } from '../../compiler/graph.js';
import { GRAD_SPAN } from '../helpers/grad-check.js';

function squareSum() {
  const g = new GraphBuilder();
  const w = g.param('w', { dtype: 'f32', shape: [3] }, { kind: 'zeros' }, false, GRAD_SPAN, 'w');
  const [sq] = g.node('square', [w], {}, [{ dtype: 'f32', shape: [3] }], GRAD_SPAN, 'loss');
  const [s] = g.node('sum', [sq], { axes: [], keepdims: false }, [{ dtype: 'f32', shape: [] }], GRAD_SPAN, 'loss');
  g.output('loss', s);
  return g.graph;
}

/** What `run` writes to stderr. */
function stderrOf(run: () => void): string {
  const write = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { text += String(chunk); return true; }) as typeof process.stderr.write;
  try { run(); } finally { process.stderr.write = write; }
  return text;
}

test('debug 5 prints the graph after autodiff; the environment alone prints nothing', () => {
  const printed = stderrOf(() => differentiate(squareSum(), 'loss', { debug: 5 }));
  assert.match(printed, /^--- pass autodiff: \d+ backward nodes\n/);
  assert.match(printed, /grad\/w=%\d+/);
  assert.is(stderrOf(() => differentiate(squareSum(), 'loss', { debug: 4 })), '');
  const saved = process.env.FUSEDET_DEBUG;
  process.env.FUSEDET_DEBUG = '5';
  try {
    assert.is(stderrOf(() => differentiate(squareSum(), 'loss')), '', 'autodiff read the environment');
  } finally {
    if (saved === undefined) delete process.env.FUSEDET_DEBUG; else process.env.FUSEDET_DEBUG = saved;
  }
});

test('fusedet train reads FUSEDET_DEBUG at the edge and passes it to autodiff', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-autodiff-debug-'));
  try {
    const train = (debug: string) => spawnSync(process.execPath, [
      'dist/cli/main.js', 'train', 'models/defcn-train.fd', '--entry', 'DeFCNTrain', '--fixed-batch', '--checkpoint-dir', join(dir, debug),
      '--runtime', 'reference', '--steps', '1', '--batch', '1', '--size', '32', '--no-progress',
      '--arg', 'depth=0', '--arg', 'width=4', '--arg', 'C=8', '--arg', 'K=3', '--arg', 'groups=4',
    ], { encoding: 'utf8', env: { ...process.env, FUSEDET_DEBUG: debug } });
    const on = train('5');
    assert.is(on.status, 0, on.stderr);
    assert.is((on.stderr.match(/--- pass autodiff: \d+ backward nodes/g) ?? []).length, 1, on.stderr.slice(0, 2000));
    const off = train('0');
    assert.is(off.status, 0, off.stderr);
    assert.not.match(off.stderr, /pass autodiff/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
