// The demo page (web/index.html + app.js) served by `fusedet serve`, in
// headless Debian chromium with SwiftShader WebGPU: it loads the packaged
// browser bundle (fusedet.js), runs the tiny DeFCN on a built-in scene and
// its detections equal the Node API's on the same image bytes and weights
// (reference interpreter) within the tolerances test/models/detect.test.ts
// holds runtimes to: same count and labels, |Δscore| ≤ 1e-4, every
// |Δcoordinate| ≤ 1e-2 px (near-ties may swap order). A screenshot is saved
// (dist/web-demo.png; docs/web-demo.png is one). Damaged weights and an
// undecodable image show their messages on the page; without WebGPU the page
// says so and its server button gets the same detections from POST /detect.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS, repoRoot } from './chromium.js';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { writeWeights } from '../models/detect-weights.js';
import { startServer, type RunningServer } from '../../cli/commands/serve.js';
import { Detector, type Detections } from '../../api/index.js';
import type { DemoResult } from '../../web/app.js';

const rt = existsSync(CHROMIUM) ? await openOrSkip('test/web/demo-page.test.ts') : undefined;
if (!existsSync(CHROMIUM)) console.log(`SKIP test/web/demo-page.test.ts: ${CHROMIUM} is missing (apt-get install chromium)`);
rt?.destroy();
const browserTest = rt ? test : test.skip;

const SCREENSHOT = join(repoRoot, 'dist', 'web-demo.png');

type Browser = Awaited<ReturnType<typeof import('playwright-core')['chromium']['launch']>>;
let dir = '', server: RunningServer | undefined, browser: Browser | undefined, weights = '';

// Set up only where the tests run (they are registered as skipped above otherwise).
if (rt) test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fusedet-demo-page-'));
  const web = join(dir, 'web');
  const built = spawnSync(process.execPath, [join(repoRoot, 'web', 'build.mjs'), web], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`web/build.mjs failed:\n${built.stderr}`);
  weights = writeWeights('tiny-defcn', dir);
  writeFileSync(join(web, 'damaged.safetensors'), readFileSync(weights).subarray(0, 300));
  writeFileSync(join(web, 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\n this is not the rest of a PNG', 'latin1'));
  server = await startServer({ weights, runtime: 'reference', webDir: web, port: 0, scenes: 2 });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
});

test.after(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function open(query: string, b: Browser = browser!): Promise<{ result: DemoResult; status: string; page: Awaited<ReturnType<Browser['newPage']>> }> {
  const page = await b.newPage();
  const logs: string[] = [];
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') logs.push(m.text()); });
  await page.goto(server!.url + query);
  await page.waitForFunction(() => (globalThis as { fusedetResult?: unknown }).fusedetResult !== undefined, undefined, { timeout: 120_000 });
  const result = await page.evaluate(() => (globalThis as { fusedetResult?: unknown }).fusedetResult) as DemoResult;
  if (logs.length && process.env.FUSEDET_DEBUG) console.log(logs.join('\n'));
  return { result, status: (await page.textContent('#status')) ?? '', page };
}

function sameDetections(got: NonNullable<DemoResult['detections']>, want: Detections, where: string): void {
  assert.is(got.count, want.count, `${where}: count`);
  assert.is(got.width, want.width); assert.is(got.height, want.height);
  const cut = Math.min(...want.scores);
  const used = new Set<number>();
  for (let i = 0; i < want.count; i++) {
    const k = [...Array(got.count).keys()].find((j) => !used.has(j) && got.labels[j] === want.labels[i] && Math.abs(got.scores[j]! - want.scores[i]!) <= 1e-4 &&
      [0, 1, 2, 3].every((c) => Math.abs(got.boxes[4 * j + c]! - want.boxes[4 * i + c]!) <= 1e-2));
    if (k === undefined) { assert.ok(want.scores[i]! - cut <= 1e-4, `${where}: no match for detection ${i} (score ${want.scores[i]})`); continue; }
    used.add(k);
  }
}

async function nodeDetections(scene: number): Promise<Detections> {
  const bytes = new Uint8Array(await (await fetch(`${server!.url}scenes/${scene}.png`)).arrayBuffer());
  const det = await Detector.create({ weights, runtime: 'reference' });
  try { return await det.detect(bytes); } finally { det.dispose(); }
}

browserTest('the page runs DeFCN on WebGPU through the packaged bundle; boxes equal Node\'s; an undecodable image is said on the page', async () => {
  const { result, status, page } = await open('?scene=1');
  assert.ok(result.ok, `page failed: ${result.error}`);
  assert.is(result.mode, 'webgpu');
  assert.match(result.adapter ?? '', /swiftshader/i);
  assert.ok(result.detections!.count > 0, 'the decisive weights detect something');
  sameDetections(result.detections!, await nodeDetections(1), 'scene 1');
  assert.match(status, /detections in scenes\/1\.png/);
  assert.match((await page.textContent('#timings')) ?? '', /run \(upload, network, post-processing, read-back\)/);
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(readFileSync(SCREENSHOT).length > 5000);
  // An undecodable image on the same page (the model stays loaded: SwiftShader compiles its pipelines in about a minute).
  await page.evaluate(() => {
    const doc = (globalThis as unknown as { document: { getElementById(id: string): { value: string; append(n: unknown): void }; createElement(t: string): { value: string; textContent: string } } }).document;
    const o = doc.createElement('option'); o.value = 'broken.png'; o.textContent = 'broken.png';
    doc.getElementById('scene').append(o); doc.getElementById('scene').value = 'broken.png';
    delete (globalThis as { fusedetResult?: unknown }).fusedetResult;
  });
  await page.click('#run');
  await page.waitForFunction(() => (globalThis as { fusedetResult?: unknown }).fusedetResult !== undefined, undefined, { timeout: 60_000 });
  const broken = await page.evaluate(() => (globalThis as { fusedetResult?: unknown }).fusedetResult) as DemoResult;
  assert.not.ok(broken.ok);
  assert.match((await page.textContent('#status')) ?? '', /ImageInputError: broken\.png: cannot decode image/);
  await page.close();
});

browserTest('damaged weights show a clear message on the page', async () => {
  const w = await open('?scene=0&weights=damaged.safetensors');
  assert.not.ok(w.result.ok);
  assert.match(w.status, /WeightsError: damaged\.safetensors: not a usable safetensors file: (truncated|corrupt)/);
  await w.page.close();
});

browserTest('without WebGPU the page says so and the server endpoint gives the same detections', async () => {
  const { chromium } = await import('playwright-core');
  const plain = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-features=WebGPU,Vulkan'], timeout: 30_000 });
  try {
    const { result, page } = await open('?scene=1', plain);
    assert.not.ok(result.ok);
    assert.match(result.error ?? '', /RuntimeUnavailableError: WebGPU is not available/);
    assert.ok(await page.isVisible('#fallback'), 'the server fallback is offered');
    await page.evaluate(() => { delete (globalThis as { fusedetResult?: unknown }).fusedetResult; });
    await page.click('#server');
    await page.waitForFunction(() => (globalThis as { fusedetResult?: unknown }).fusedetResult !== undefined, undefined, { timeout: 60_000 });
    const viaServer = await page.evaluate(() => (globalThis as { fusedetResult?: unknown }).fusedetResult) as DemoResult;
    assert.ok(viaServer.ok, viaServer.error);
    assert.is(viaServer.mode, 'server');
    // The server rounds to 1e-3 px and 1e-6 in score.
    sameDetections(viaServer.detections!, await nodeDetections(1), 'server');
  } finally { await plain.close(); }
});

test.run();
