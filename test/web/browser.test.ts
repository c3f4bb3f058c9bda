// The demo page in headless Debian chromium (SwiftShader WebGPU) compiles
// and runs the same programs as Node and must produce the same numbers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { smokeProgram, smokeData, SMOKE_ROWS, SMOKE_COLS } from '../../web/smoke-program.js';
import { demoGraph } from '../../web/demo-graph.js';
import { compileGraph } from '../../compiler/program.js';
import { CHROMIUM, runPage } from './chromium.js';

const rt = existsSync(CHROMIUM) ? await openOrSkip('test/web/browser.test.ts') : undefined;
if (!existsSync(CHROMIUM)) console.log(`SKIP test/web/browser.test.ts: ${CHROMIUM} is missing (apt-get install chromium)`);
const browserTest = rt ? test : test.skip;

browserTest('the bundled page computes on navigator.gpu what Node computes', async () => {
  const { result: res, status, logs } = await runPage('');
  assert.ok(res.ok, `page failed: ${res.error}\n${logs.join('\n')}`);
  assert.match(res.adapter ?? '', /swiftshader/i);
  assert.match(status ?? '', /rowsum: 16 values/);

  const ex = await rt!.load(smokeProgram(SMOKE_ROWS, SMOKE_COLS));
  const { x, w } = smokeData(SMOKE_ROWS, SMOKE_COLS);
  await ex.setParams({ w });
  const node = await ex.run({ x });
  const demo = demoGraph();
  const dex = await rt!.load(compileGraph(demo.graph, rt!.target, { fuse: true }));
  await dex.setParams(demo.params);
  Object.assign(node, await dex.run(demo.inputs));
  dex.dispose();
  const names = ['rowsum', 'y', 'score0', 'score1', 'score2', ...demo.graph.outputs.map((o) => o.name).filter((n) => n.startsWith('peak'))];
  assert.equal(Object.keys(res.outputs!).sort(), names.slice().sort());
  for (const name of names) {
    const a = res.outputs![name], b = node[name].data;
    assert.is(a.length, b.length, name);
    // Same WGSL on the same SwiftShader: the bits should agree, not just the values.
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    assert.is(diff, 0, `${name}: browser vs Node max |diff| ${diff}`);
  }
  ex.dispose();
});

test.run();
