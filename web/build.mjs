// Builds the browser side into one folder (default dist/web-bundle, which the
// package ships and `fusedet serve` serves):
//   fusedet.js   the library's browser entry (api/browser.ts) as one ES module:
//                what a page imports (`import { Detector } from './fusedet.js'`)
//   app.js       the demo page's script (web/app.ts); it imports ./fusedet.js
//                at run time, so the page runs the packaged bundle itself
//   index.html   the demo page
//   smoke.js, smoke.html   the WebGPU smoke page (web/smoke-app.ts) the
//                browser tests compare with Node
// platform 'browser' makes a stray Node import a build error, which is the
// point. fusedet.js builds with no Node shim at all; the smoke page compiles
// graphs in the page, so its one Node import, node:crypto (kernel hashes), is
// mapped to web/shims/node-crypto.ts, and process.env reads as empty.
// Usage: node web/build.mjs [outdir]
import { build } from 'esbuild';
import { mkdirSync, copyFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(process.argv[2] ?? join(root, 'dist', 'web-bundle'));
mkdirSync(outdir, { recursive: true });
const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', sourcemap: 'linked', logLevel: 'warning', define: { 'process.env': '{}' } };
await build({ ...common, entryPoints: [join(root, 'api', 'browser.ts')], outfile: join(outdir, 'fusedet.js') });
await build({
  ...common, entryPoints: [join(root, 'web', 'app.ts')], outfile: join(outdir, 'app.js'),
  plugins: [{
    name: 'packaged-api',
    setup(b) { b.onResolve({ filter: /\/api\/browser\.js$/ }, () => ({ path: './fusedet.js', external: true })); },
  }],
});
await build({
  ...common, entryPoints: [join(root, 'web', 'smoke-app.ts')], outfile: join(outdir, 'smoke.js'),
  plugins: [{
    name: 'node-shims',
    setup(b) { b.onResolve({ filter: /^node:crypto$/ }, () => ({ path: join(root, 'web', 'shims', 'node-crypto.ts') })); },
  }],
});
// Written under a temporary name, then renamed: a server never sees half a page.
for (const page of ['index.html', 'smoke.html']) {
  copyFileSync(join(root, 'web', page), join(outdir, `${page}.tmp`));
  renameSync(join(outdir, `${page}.tmp`), join(outdir, page));
}
process.stdout.write(`web bundle: ${outdir}\n`);
