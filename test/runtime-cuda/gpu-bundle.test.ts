// What tools/gpu/pack.mjs ships, checked here without a GPU: the on-device
// suite and the bench bundled by esbuild load the addon from
// ../../build/Release, without node_modules, and refuse clearly (the suite
// skips, or fails under FUSEDET_REQUIRE_CUDA=1; the bench exits 3); run.sh
// says what is missing when .gpu/ was not packed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const noDriver = !['/usr/lib/x86_64-linux-gnu/libcuda.so.1', '/usr/lib64/libcuda.so.1'].some(existsSync);
if (!noDriver) console.log('SKIP bundle refusal checks: this machine has a driver');

(noDriver ? test : test.skip)('the bundles load the addon from ../../build/Release and refuse clearly without a driver', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-gpu-bundle-'));
  try {
    symlinkSync(join(root, 'build'), join(dir, 'build'));
    const out = join(dir, '.gpu', 'fusedet');
    mkdirSync(out, { recursive: true });
    await build({
      entryPoints: { 'gpu.test': join(root, 'test/runtime-cuda/gpu.test.ts'), 'gpu-bench': join(root, 'test/runtime-cuda/gpu-bench.ts') },
      bundle: true, platform: 'node', format: 'esm', target: 'node20', outdir: out, outExtension: { '.js': '.mjs' },
      banner: { js: "import { createRequire as __fusedetRequire } from 'node:module'; const require = __fusedetRequire(import.meta.url);" },
      external: ['sharp', '@napi-rs/canvas', 'webgpu'], logLevel: 'error',
    });
    // cwd = the project (models/*.fd); NODE_PATH empty and the bundle outside the tree, so node_modules cannot help.
    const opts = { cwd: root, encoding: 'utf8' as const, timeout: 60_000, env: { ...process.env, NODE_PATH: '' } };
    const suite = spawnSync(process.execPath, [join(out, 'gpu.test.mjs')], opts);
    assert.is(suite.status, 0, suite.stderr);
    assert.match(suite.stdout, /SKIP CUDA on-device tests: libcuda\.so\.1 not found \(searched: /);
    const strict = spawnSync(process.execPath, [join(out, 'gpu.test.mjs')], { ...opts, env: { ...opts.env, FUSEDET_REQUIRE_CUDA: '1' } });
    assert.is(strict.status, 1);
    assert.match(strict.stderr, /FUSEDET_REQUIRE_CUDA=1 but CUDA is unavailable: libcuda\.so\.1 not found/);
    const bench = spawnSync(process.execPath, [join(out, 'gpu-bench.mjs')], opts);
    assert.is(bench.status, 3, bench.stderr);
    assert.match(bench.stderr, /^SKIP fusedet CUDA bench: libcuda\.so\.1 not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run.sh without a packed .gpu/ says how to make it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-gpu-run-'));
  try {
    mkdirSync(join(dir, 'tools', 'gpu'), { recursive: true });
    writeFileSync(join(dir, 'tools', 'gpu', 'run.sh'), spawnSync('cat', [join(root, 'tools/gpu/run.sh')], { encoding: 'utf8' }).stdout);
    const r = spawnSync('bash', [join(dir, 'tools/gpu/run.sh'), 'test'], { encoding: 'utf8', timeout: 30_000 });
    assert.is(r.status, 2);
    assert.match(r.stderr, /\.gpu\/ is missing or incomplete: run 'node tools\/gpu\/pack\.mjs'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
