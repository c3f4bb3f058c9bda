// The tiny DeFCN forward in headless chromium: Node compiles models/defcn.fd
// (the DSL reads files), the page loads the Program, parameters and input
// as JSON and runs them on navigator.gpu. Its outputs must equal the
// reference interpreter's within the tolerance test/runtime-webgpu/defcn.test
// holds Node's WebGPU run to: |a - b| / max(|b|, 1e-3·max|b|) ≤ 2e-3.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { interpret } from '../../compiler/interpret.js';
import { compileGraph } from '../../compiler/program.js';
import { encodeProgramFile } from '../../web/program-file.js';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { tinyDefcn, relError } from '../runtime-webgpu/tiny-defcn.js';
import { CHROMIUM, runPage } from './chromium.js';
// The page's program is compiled for a browser's default WebGPU limits, as web/app.ts compiles for its device.
import { webgpuTarget } from '../../compiler/target.js';

// Node's adapter stands in for "WebGPU can start on this machine".
const rt = existsSync(CHROMIUM) ? await openOrSkip('test/web/browser-defcn.test.ts') : undefined;
if (!existsSync(CHROMIUM)) console.log(`SKIP test/web/browser-defcn.test.ts: ${CHROMIUM} is missing (apt-get install chromium)`);
rt?.destroy();
const browserTest = rt ? test : test.skip;

browserTest('tiny DeFCN forward in the browser equals the reference', async () => {
  const { graph, params, inputs } = tinyDefcn();
  const file = encodeProgramFile(compileGraph(graph, webgpuTarget(), { fuse: true }), params, inputs);
  const { result, logs } = await runPage('?program=defcn', { 'defcn.json': file }, 110_000);
  assert.ok(result.ok, `page failed: ${result.error}\n${logs.join('\n')}`);
  const want = interpret(graph, inputs, params);
  assert.equal(Object.keys(result.outputs!).sort(), graph.outputs.map((o) => o.name).sort());
  for (const o of graph.outputs) {
    const e = relError(result.outputs![o.name], want[o.name].data);
    assert.ok(e <= 2e-3, `${o.name}: browser vs reference relative error ${e.toExponential(2)}`);
  }
});

test.run();
