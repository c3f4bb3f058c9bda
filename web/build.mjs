// Bundles the browser demo (web/app.ts with the runtime's browser entry) into
// one ES module beside a copy of web/index.html. platform 'browser' makes a
// stray Node import in the runtime core a build error, which is the point.
// The compiler's one Node import, node:crypto (kernel hashes), is mapped to
// web/shims/node-crypto.ts and process.env reads as empty; any other Node
// import still fails the build.
// Usage: node web/build.mjs [outdir]   (default dist/web-bundle)
import { build } from 'esbuild';
import { mkdirSync, copyFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(process.argv[2] ?? join(root, 'dist', 'web-bundle'));
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: [join(root, 'web', 'app.ts')],
  bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
  outfile: join(outdir, 'app.js'), sourcemap: 'linked', logLevel: 'warning',
  // Debug switches read from process.env (FUSEDET_DEBUG) are off in a page.
  define: { 'process.env': '{}' },
  plugins: [{
    name: 'node-shims',
    setup(b) {
      b.onResolve({ filter: /^node:crypto$/ }, () => ({ path: join(root, 'web', 'shims', 'node-crypto.ts') }));
    },
  }],
});
// Written under a temporary name, then renamed: a server never sees half a page.
copyFileSync(join(root, 'web', 'index.html'), join(outdir, 'index.html.tmp'));
renameSync(join(outdir, 'index.html.tmp'), join(outdir, 'index.html'));
process.stdout.write(`web bundle: ${outdir}\n`);
