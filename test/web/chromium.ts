// Headless Debian chromium with SwiftShader WebGPU, a static server for a
// built bundle, and a page result read back: shared by the browser tests.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PageResult } from '../../web/smoke-app.js';

export const CHROMIUM = '/usr/bin/chromium';
// Here (no GPU) chromium falls back to SwiftShader even with only
// --enable-unsafe-webgpu; naming SwiftShader keeps it so on a machine with a
// GPU driver too, which is what makes bitwise comparison with Node sound.
// disable_workgroup_init: as in Node (runtime-webgpu/node.ts), for build time.
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader',
  '--enable-dawn-features=disable_workgroup_init',
  '--no-sandbox', '--headless=new', '--disable-gpu-sandbox', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.json': 'application/json' };

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

export interface PageRun { result: PageResult; status: string | null; logs: string[]; /** The file behind #download, when asked for. */ download?: Buffer }

/** Builds the bundle (plus `extra` files) into a temporary folder, opens `query` on it and returns the page's result. */
export async function runPage(query: string, extra: Record<string, string> = {}, timeoutMs = 30_000, opts: { download?: boolean } = {}): Promise<PageRun> {
  const out = mkdtempSync(join(tmpdir(), 'fusedet-web-'));
  const { chromium } = await import('playwright-core');
  let server: Server | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    const built = spawnSync(process.execPath, [join(repoRoot, 'web', 'build.mjs'), out], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`web/build.mjs failed:\n${built.stderr}`);
    for (const [name, text] of Object.entries(extra)) writeFileSync(join(out, name), text);
    const s = await serve(out);
    server = s.server;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(s.url + 'smoke.html' + query);
    try {
      await page.waitForFunction(() => (globalThis as { fusedetResult?: unknown }).fusedetResult !== undefined, undefined, { timeout: timeoutMs });
    } catch (e) {
      // A page that never finishes: say what it showed and logged, not only that time ran out.
      const shown = await page.textContent('#status').catch(() => null);
      throw new Error(`${query}: the page left no result in ${timeoutMs / 1000} s (${(e as Error).message.split('\n')[0]}); #status: ${JSON.stringify(shown)}; console:\n${logs.join('\n') || '(nothing)'}`);
    }
    const result = await page.evaluate(() => (globalThis as { fusedetResult?: unknown }).fusedetResult) as PageResult;
    let download: Buffer | undefined;
    if (opts.download && result.ok) {
      const [d] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
      const path = await d.path();
      download = readFileSync(path);
    }
    return { result, status: await page.textContent('#status'), logs, ...(download ? { download } : {}) };
  } finally {
    await browser?.close();
    server?.close();
    rmSync(out, { recursive: true, force: true });
  }
}
