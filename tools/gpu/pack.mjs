// Packs what an NVIDIA machine needs for `npm run gpu:test` / `gpu:bench`
// (it has CUDA, Python and PyTorch but no Node.js) into .gpu/ (git-ignored):
//   .gpu/node.xz, .gpu/env.sh        this machine's node and its setup (../shared/gpu/pack)
//   .gpu/fusedet/gpu.test.mjs        the on-device test suite, one esbuild bundle
//   .gpu/fusedet/gpu-bench.mjs       the fusedet side of the benchmark
// plus the two addons in build/Release/, which the bundles find at
// ../../build/Release from .gpu/fusedet/. Prints the one command to run there.
// Usage: node tools/gpu/pack.mjs
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
process.chdir(root);
const addons = ['build/Release/fusedet_native.node', 'build/Release/fusedet_cuda.node'];
if (addons.some((a) => !existsSync(a))) {
  process.stderr.write('building the native addon (npx node-gyp rebuild) ...\n');
  execFileSync('npx', ['node-gyp', 'rebuild'], { stdio: 'inherit' });
}

const out = '.gpu/fusedet';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { 'gpu.test': 'test/runtime-cuda/gpu.test.ts', 'gpu-bench': 'test/runtime-cuda/gpu-bench.ts' },
  bundle: true, platform: 'node', format: 'esm', target: 'node20', outdir: out, outExtension: { '.js': '.mjs' },
  // Bundled CommonJS dependencies call require(); ESM output has none unless given one.
  banner: { js: "import { createRequire as __fusedetRequire } from 'node:module'; const require = __fusedetRequire(import.meta.url);" },
  // Native packages the GPU runs never load (images, canvas, WebGPU).
  external: ['sharp', '@napi-rs/canvas', 'webgpu'],
  logLevel: 'warning',
});

execFileSync(join(root, '../shared/gpu/pack'), { stdio: 'inherit' });

const size = (p) => (statSync(p).isDirectory() ? readdirSync(p).reduce((s, f) => s + size(join(p, f)), 0) : statSync(p).size);
const total = size('.gpu') + addons.reduce((s, a) => s + size(a), 0);
process.stdout.write(`packed ${(total / 2 ** 20).toFixed(1)} MiB (limit 64 MiB): .gpu/ and ${addons.join(', ')}\n`);
if (total > 64 * 2 ** 20) { process.stderr.write('too large for one run call\n'); process.exitCode = 1; }
process.stdout.write(`on the NVIDIA machine (one run call), carry: [".gpu", "${addons.join('", "')}"]\n  command: bash tools/gpu/run.sh all\n`);
