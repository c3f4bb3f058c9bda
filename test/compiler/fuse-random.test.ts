// Random small graphs mixing every fusion kind (elementwise, broadcast,
// injective, reduce, out-fusable, opaque), several outputs: fused and unfused
// programs both equal the reference on the kernel-IR interpreter.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rng } from '../../compiler/tensor.js';
import { TestGraph, checkBoth, pick } from './kernel/graphs.js';

function randomGraph(seed: number): TestGraph {
  const next = rng(seed);
  const t = new TestGraph();
  const C = pick(next, 1, 4);
  const vals = [t.input('x', [pick(next, 1, 2), C, pick(next, 2, 6), pick(next, 2, 6)])];
  const any = (): number => vals[Math.floor(next() * vals.length)];
  for (let s = 0; s < 8; s++) {
    const a = any();
    const sh = t.type(a).shape;
    const r = next();
    const four = sh.length === 4;
    try {
      let y: number;
      if (r < 0.15) y = t.op('relu', [a]);
      else if (r < 0.25) y = t.op('add', [a, any()]);
      else if (r < 0.35) y = t.op('mul', [a, t.input(`b${s}`, sh.map((d, i) => (i === 1 ? d : 1)))]);
      else if (r < 0.45 && four) y = t.op('conv2d', [a, t.param(`w${s}`, [C, sh[1], 3, 3], -0.5, 0.5), t.param(`cb${s}`, [C])], { padding: [1] });
      else if (r < 0.52 && four) y = t.op('sum', [a], { axes: [2, 3], keepdims: true });
      else if (r < 0.58 && four) y = t.op('max_pool2d', [a], { kernel: [3], stride: [1], padding: [1] });
      else if (r < 0.64 && four) y = t.op('group_norm', [a, t.param(`g${s}`, [sh[1]]), t.param(`h${s}`, [sh[1]])], { groups: 1 });
      else if (r < 0.70 && four) y = t.op('transpose', [a], { perm: [0, 1, 3, 2] });
      else if (r < 0.76 && four) y = t.op('resize', [a], { size: [sh[2] * 2, sh[3] * 2], mode: 'bilinear' });
      else if (r < 0.82) y = t.op('sigmoid', [a]);
      else if (r < 0.88 && four) y = t.op('frozen_bn', [a, t.param(`bw${s}`, [sh[1]]), t.param(`bb${s}`, [sh[1]]), t.param(`bm${s}`, [sh[1]]), t.param(`bv${s}`, [sh[1]], 0.5, 2)]);
      else y = t.op('neg', [a]);
      vals.push(y);
    } catch {
      // shapes that do not broadcast: draw again
    }
  }
  t.output('y', vals[vals.length - 1]);
  if (vals.length > 2) t.output('z', vals[Math.floor(vals.length / 2)]);
  return t;
}

test('random graphs: fused and unfused equal the reference', () => {
  let fusedLaunches = 0, ops = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const t = randomGraph(seed);
    const { fused } = checkBoth(t, 2e-4, 2e-4);
    fusedLaunches += fused.launches.length;
    ops += fused.report!.kernelsBefore;
  }
  assert.ok(fusedLaunches < ops, `fusion merged something (${fusedLaunches} launches for ${ops} ops)`);
});

test.run();
