// Issue 5's figures on Dawn/SwiftShader in Node, ratios measured in this run:
// the stack of four 3×3 convs 64→64 at 32×32 vs tfjs-backend-webgpu on the
// same Dawn, and fused vs unfused max3d on WebGPU. A failure to compile or
// run on this adapter becomes a row with the message, not a crash.
import { compileGraph } from '../compiler/program.js';
import { createNodeWebGpu } from '../runtime-webgpu/node.js';
import type { Runtime } from '../runtime/interface.js';
import { benchGraph, convStackSrc, timeRuns } from './tfjs/graphs.js';
import { tfjsConvStack, useBackend } from './tfjs/conv.js';
import { installNavigatorGpu } from './tfjs/webgpu.js';
import { byClass, max3dRows } from './cpu-suite.js';
import type { BenchRow, BenchSuite } from './run.js';

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n').slice(0, 4).join(' / ');

export const webgpuSuite: BenchSuite = {
  name: 'webgpu',
  title: 'WebGPU runtime on Dawn/SwiftShader (issue 5): conv stack vs tfjs-backend-webgpu, fused vs unfused max3d',
  async run() {
    const rows: BenchRow[] = [], notes: string[] = [], raw: Record<string, unknown> = {};
    let rt: Runtime;
    try {
      rt = await createNodeWebGpu({ timing: true });
    } catch (e) {
      rows.push({ what: 'WebGPU runtime', ours: NaN, baseline: null, baselineName: '', unit: 's', ratio: null, notes: [firstLine(e)] });
      return { rows, raw, notes: [`no WebGPU adapter: ${firstLine(e)}`] };
    }
    const conv = { what: 'four 3×3 convs 64→64 (bias, ReLU) at 32×32', layers: 4, c: 64, hw: 32, reps: 5 };
    let ours: { best: number; median: number } | undefined;
    try {
      const bg = benchGraph(convStackSrc(conv.layers, conv.c), 'ConvStack', { x: [1, conv.c, conv.hw, conv.hw] });
      const program = compileGraph(bg.graph, rt.target);
      const exe = await rt.load(program);
      await exe.setParams(bg.params);
      ours = await timeRuns(exe, bg.inputs, conv.reps);
      raw.convClasses = byClass(program, exe.lastTimes());
      exe.dispose();
    } catch (e) {
      notes.push(`our conv stack did not run on WebGPU: ${firstLine(e)}`);
    }
    let theirs: { best: number; median: number } | undefined;
    try {
      await installNavigatorGpu();
      notes.push(...(await useBackend('webgpu')));
      theirs = await tfjsConvStack(conv.layers, conv.c, conv.hw, conv.hw, conv.reps);
    } catch (e) {
      notes.push(`tfjs-backend-webgpu did not run: ${firstLine(e)}`);
    }
    raw.conv = { ...conv, ours, theirs };
    rows.push({
      what: conv.what + (ours ? '' : ' — ours failed on this adapter (see notes)'),
      ours: ours?.best ?? NaN, baseline: theirs?.best ?? null, baselineName: 'tfjs-backend-webgpu, same Dawn/SwiftShader', unit: 's',
      ratio: ours && theirs ? theirs.best / ours.best : null, target: '≥ 2× faster',
      notes: ours && theirs ? [`medians: ours ${ours.median.toFixed(3)} s, tfjs ${theirs.median.toFixed(3)} s`] : [],
    });
    try {
      const r = await max3dRows((p) => rt.load(p), rt.target, 32, 32, 48, 5, 'WebGPU/SwiftShader');
      rows.push(...r.rows); raw.max3d = r.raw;
      notes.push(...r.rows.map((x) => `${x.what}: ${(x.notes ?? []).join('; ')}`));
    } catch (e) {
      rows.push({ what: 'max3d fused vs unfused on WebGPU — failed', ours: NaN, baseline: null, baselineName: '', unit: 's', ratio: null, target: '≥ 2×', notes: [firstLine(e)] });
      notes.push(`max3d on WebGPU failed: ${firstLine(e)}`);
    }
    return { rows, raw, notes };
  },
};
