// Outputs of a CPU run go to the caller in memory from the addon's allocator,
// recycled when collected (native/cpu_addon.cc): run() turns the event loop
// once before launching, so the finalizers of outputs dropped since the last
// run hand their memory back first, even when the caller awaits run() in a
// tight loop (microtasks only).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';

test('a loop of awaited runs reuses the memory of the outputs it dropped', () => {
  const url = (p: string): string => JSON.stringify(new URL(p, import.meta.url).href);
  // gc() needs --expose-gc: a child process. --single-threaded-gc sweeps collected
  // ArrayBuffers inside gc() instead of on a background thread, so their finalizers are
  // queued before the next run() by the time gc() returns (with concurrent sweeping one
  // of them now and then lands a run late, and the count below varies).
  const child = `
    import { TestGraph } from ${url('../compiler/kernel/graphs.js')};
    import { compileGraph } from ${url('../../compiler/program.js')};
    import { CPU } from ${url('../../compiler/target.js')};
    import { CpuRuntime } from ${url('../../runtime-cpu/runtime.js')};
    import { tryNativeCpu } from ${url('../../runtime-cpu/native.js')};
    const t = new TestGraph();
    t.output('y', t.op('relu', [t.input('x', [1, 16, 128, 128])])); // 1 MiB out
    const exe = await new CpuRuntime().load(compileGraph(t.graph, CPU));
    const before = tryNativeCpu().recycled().reused;
    let sum = 0;
    for (let i = 0; i < 6; i++) {
      sum += (await exe.run(t.inputs)).y.data[0]; // the output is dropped here
      gc();
    }
    console.log(JSON.stringify({ reused: tryNativeCpu().recycled().reused - before, sum }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--single-threaded-gc', '--input-type=module', '-e', child], { encoding: 'utf8' });
  const { reused } = JSON.parse(out.trim().split('\n').pop()!);
  assert.ok(reused >= 4, `only ${reused} of 5 later runs reused a dropped output's memory`);
});

test.run();
