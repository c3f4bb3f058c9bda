// The C rendering run through the CPU runtime (native thread pool, -O3
// -march=native) and compared with the references, fused and unfused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { probeCpu } from '../../runtime-cpu/load.js';
import { rng } from '../../compiler/tensor.js';
import { TestGraph, compare, pick, referenceRun } from './kernel/graphs.js';
import { CPU } from '../../compiler/target.js';

const why = await probeCpu();
if (why) console.log(`SKIP CPU runtime: ${why}`);
const cpuTest = why ? test.skip : test;

function models(): [string, TestGraph][] {
  const out: [string, TestGraph][] = [];
  const next = rng(17);
  // conv + GN + relu stack with a stride-2 step, batch 2
  {
    const t = new TestGraph();
    let x = t.input('x', [2, 3, 11, 9]);
    const chans = [3, 8, 8, 4];
    for (let i = 1; i < chans.length; i++) {
      const c = t.op('conv2d', [x, t.param(`w${i}`, [chans[i], chans[i - 1], 3, 3], -0.4, 0.4), t.param(`b${i}`, [chans[i]])], { stride: [i === 2 ? 2 : 1], padding: [1] });
      x = t.op('relu', [t.op('group_norm', [c, t.param(`g${i}`, [chans[i]]), t.param(`h${i}`, [chans[i]])], { groups: 2 })]);
    }
    t.output('y', x);
    out.push(['conv-gn-relu', t]);
  }
  for (let trial = 0; trial < 3; trial++) {
    const g = pick(next, 1, 2);
    const t = new TestGraph();
    const x = t.input('x', [pick(next, 1, 2), 2 * g, pick(next, 4, 13), pick(next, 4, 13)]);
    const c = t.op('conv2d', [x, t.param('w', [3 * g, 2, 3, 3]), -1], { stride: [pick(next, 1, 2)], padding: [pick(next, 0, 2)], dilation: [pick(next, 1, 2)], groups: g });
    const bn = t.op('frozen_bn', [c, t.param('bw', [3 * g]), t.param('bb', [3 * g]), t.param('bm', [3 * g]), t.param('bv', [3 * g], 0.5, 2)]);
    t.output('y', t.op('relu', [bn]));
    out.push([`conv-bn-${trial}`, t]);
  }
  {
    const t = new TestGraph();
    const levels = [[12, 10], [6, 5], [3, 3]].map(([h, w], i) => t.input(`p${i}`, [2, 4, h, w]));
    t.ops('max3d', levels, { tau: 2, phi: 3 }).forEach((o, i) => t.output(`y${i}`, o));
    out.push(['max3d', t]);
  }
  return out;
}

cpuTest('CPU runtime runs the C rendering and matches the reference (fused and unfused)', async () => {
  const rt = new CpuRuntime();
  for (const [name, t] of models()) {
    const want = referenceRun(t);
    for (const fuse of [true, false]) {
      const exe = await rt.load(compileGraph(t.graph, CPU, { fuse }));
      try {
        if (Object.keys(t.params).length) await exe.setParams(t.params);
        const got = await exe.run(t.inputs);
        for (const [o, w] of Object.entries(want)) {
          assert.equal(got[o].shape, w.shape, `${name} ${o} shape`);
          const msg = compare(got[o], w, 2e-4, 2e-4);
          assert.is(msg, '', `${name} ${fuse ? 'fused' : 'unfused'} output ${o}: ${msg}`);
        }
      } finally {
        exe.dispose();
      }
    }
  }
});

test.run();
