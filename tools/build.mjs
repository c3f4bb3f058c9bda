// Transpiles every TypeScript source to dist/ (same layout, ESM, one file per
// module, inline source maps). File by file, so one broken file does not stop
// the others from building; the exit code still reports it. Unchanged files
// are skipped. Type checking is separate (`npm run typecheck`).
import { transform } from 'esbuild';
import { readdirSync, statSync, existsSync, mkdirSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { join, dirname } from 'node:path';

// Every top-level source folder: a new folder cannot be forgotten here (a
// missing one once left dist/runtime/ unbuilt in fresh clones).
const NOT_SOURCE = new Set(['node_modules', 'dist', 'build', 'tools', 'docs', 'demo-out']);
const roots = readdirSync('.').filter((d) => !d.startsWith('.') && !NOT_SOURCE.has(d) && statSync(d).isDirectory());

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const sources = roots.filter((r) => existsSync(r)).flatMap((r) => walk(r, []));
let failed = 0;
await Promise.all(sources.map(async (src) => {
  const out = join('dist', src.replace(/\.ts$/, '.js'));
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return;
  try {
    const r = await transform(readFileSync(src, 'utf8'), {
      loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline', sourcefile: src,
    });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, r.code);
  } catch (e) {
    failed++;
    process.stderr.write(`build: ${src}: ${e.message}\n`);
  }
}));
// A source that was deleted or renamed must not leave a stale module behind
// (a stale test would still run).
const wanted = new Set(sources.map((s) => join('dist', s.replace(/\.ts$/, '.js'))));
for (const r of roots) if (existsSync(join('dist', r))) for (const f of walkJs(join('dist', r), [])) if (!wanted.has(f)) unlinkSync(f);
function walkJs(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walkJs(p, out); else if (p.endsWith('.js')) out.push(p);
  }
  return out;
}
if (failed) { process.stderr.write(`build: ${failed} file(s) failed\n`); process.exitCode = 1; }
