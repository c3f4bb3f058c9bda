// The demo page in headless Debian chromium (SwiftShader WebGPU) compiles
// and runs the same programs as Node and must produce the same numbers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { smokeProgram, smokeData, SMOKE_ROWS, SMOKE_COLS } from '../../web/smoke-program.js';
import { demoGraph } from '../../web/demo-graph.js';
import { compileGraph } from '../../compiler/program.js';
import type { PageResult } from '../../web/app.js';

const CHROMIUM = '/usr/bin/chromium';
// Here (no GPU) chromium falls back to SwiftShader even with only
// --enable-unsafe-webgpu; naming SwiftShader keeps it so on a machine with a
// GPU driver too, which is what makes bitwise comparison with Node sound.
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader',
  '--no-sandbox', '--headless=new', '--disable-gpu-sandbox', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const rt = existsSync(CHROMIUM) ? await openOrSkip('test/web/browser.test.ts') : undefined;
if (!existsSync(CHROMIUM)) console.log(`SKIP test/web/browser.test.ts: ${CHROMIUM} is missing (apt-get install chromium)`);
const browserTest = rt ? test : test.skip;

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };

function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!file.startsWith(dir) || !existsSync(file)) { res.statusCode = 404; res.end('not found'); return; }
    res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    ok({ server, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/` });
  }));
}

browserTest('the bundled page computes on navigator.gpu what Node computes', async () => {
  const out = mkdtempSync(join(tmpdir(), 'fusedet-web-'));
  const built = spawnSync(process.execPath, [join(root, 'web', 'build.mjs'), out], { encoding: 'utf8' });
  assert.is(built.status, 0, built.stderr);
  const { server, url } = await serve(out);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  try {
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => (globalThis as { fusedetResult?: unknown }).fusedetResult !== undefined, undefined, { timeout: 30_000 });
    const res = await page.evaluate(() => (globalThis as { fusedetResult?: unknown }).fusedetResult) as PageResult;
    assert.ok(res.ok, `page failed: ${res.error}\n${logs.join('\n')}`);
    assert.match(res.adapter ?? '', /swiftshader/i);
    const status = await page.textContent('#status');
    assert.match(status ?? '', /rowsum: 16 values/);

    const ex = await rt!.load(smokeProgram(SMOKE_ROWS, SMOKE_COLS));
    const { x, w } = smokeData(SMOKE_ROWS, SMOKE_COLS);
    await ex.setParams({ w });
    const node = await ex.run({ x });
    const demo = demoGraph();
    const dex = await rt!.load(compileGraph(demo.graph, { fuse: true }));
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
  } finally {
    await browser.close();
    server.close();
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
