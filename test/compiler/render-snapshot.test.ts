// Committed renderings of the example models' kernels (test/snapshots/): a
// compiler change shows as a diff in generated code. FUSEDET_UPDATE_SNAPSHOTS=1
// rewrites them (and the nvcc register/spill report next to them).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { Graph } from '../../compiler/graph.js';
import { compileGraph, renderC, renderCuda } from '../../compiler/program.js';
import { TestGraph } from './kernel/graphs.js';
import { CPU } from '../../compiler/target.js';

const dir = fileURLToPath(new URL('../../../test/snapshots/', import.meta.url));
const update = process.env.FUSEDET_UPDATE_SNAPSHOTS === '1';

function convGnStack(): Graph {
  const t = new TestGraph();
  let x = t.input('p', [1, 16, 20, 24]);
  for (let i = 0; i < 2; i++) {
    const c = t.op('conv2d', [x, t.param(`tower.${i}.w`, [16, 16, 3, 3]), t.param(`tower.${i}.b`, [16])], { padding: [1] });
    x = t.op('relu', [t.op('group_norm', [c, t.param(`tower.${i}.gn.w`, [16]), t.param(`tower.${i}.gn.b`, [16])], { groups: 4 })]);
  }
  t.output('cls', t.op('conv2d', [x, t.param('cls.w', [4, 16, 3, 3]), t.param('cls.b', [4])], { padding: [1] }));
  return t.graph;
}

function max3dGraph(): Graph {
  const t = new TestGraph();
  const levels = [[40, 48], [20, 24], [10, 12], [5, 6], [3, 3]].map(([h, w], i) => t.input(`p${i}`, [1, 8, h, w]));
  t.ops('max3d', levels, { tau: 2, phi: 3 }).forEach((o, i) => t.output(`f${i}`, t.op('sigmoid', [o])));
  return t.graph;
}

function tinyDefcn(): Graph {
  const { program, diagnostics } = checkFiles(['models/defcn.fd']);
  if (!program) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return lower(program, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [1, 3, 64, 64] } }, args: { depth: 0, width: 4, C: 16, K: 3, groups: 4 } });
}

const MODELS: [string, () => Graph][] = [['conv-gn-relu', convGnStack], ['max3d', max3dGraph], ['defcn-tiny', tinyDefcn]];

function writeAtomic(path: string, text: string): void {
  writeFileSync(path + '.tmp', text);
  renameSync(path + '.tmp', path);
}

test('rendered kernels match the committed snapshots', () => {
  const stale: string[] = [];
  for (const [name, build] of MODELS) {
    const program = compileGraph(build(), CPU, { fuse: true });
    const outs: [string, string][] = [[`${name}.c`, renderC(program)], [`${name}.cu`, renderCuda(program)]];
    for (const [file, text] of outs) {
      const path = dir + file;
      if (update) { writeAtomic(path, text); continue; }
      if (!existsSync(path)) { stale.push(`${file} (missing)`); continue; }
      if (readFileSync(path, 'utf8') !== text) stale.push(file);
    }
  }
  assert.equal(stale, [], `renderings changed: ${stale.join(', ')}; review with git diff after FUSEDET_UPDATE_SNAPSHOTS=1`);
});

test.run();
