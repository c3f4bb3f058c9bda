// The npm package as a new user gets it: `npm pack` (after the prepack steps:
// the browser bundle and the API's type declarations), installed OFFLINE into
// an empty folder — dependencies from npm's cache, fusedet's own install
// script building the native addon from the tarball's native/ and
// binding.gyp — then detection there from a ten-line script (the README's)
// and from `npx fusedet detect`, equal to the checkout's library API; a
// TypeScript consumer of `fusedet` and `fusedet/browser` type-checks against
// the shipped declarations. About 2 minutes on a loaded 2-core machine, most
// of it compiling the addon.
//
// Offline: npm needs registry metadata to resolve a bare tarball's
// dependencies, and `npm ci` caches only the tarballs, so the test writes
// the new folder's package-lock.json from the checkout's (every
// non-development entry, with its resolved URL and integrity) and runs
// `npm ci --offline`, which then needs nothing but the cache.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../web/chromium.js';
import { writeWeights } from '../models/detect-weights.js';
import { writePng } from '../../data/image.js';
import { Detector } from '../../api/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-pack-'));
const app = join(dir, 'app');
mkdirSync(app);

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const SCRIPT = `import { Detector } from 'fusedet';

const det = await Detector.create({ weights: 'tiny-defcn.safetensors', runtime: process.argv[2] });
const { boxes, scores, labels, count } = await det.detect('scene.png');
for (let i = 0; i < Math.min(count, 3); i++) {
  console.error(labels[i], scores[i].toFixed(3), Array.from(boxes.subarray(4 * i, 4 * i + 4), (v) => v.toFixed(1)).join(' '));
}
console.log(JSON.stringify({ runtime: det.runtime, count, scores: Array.from(scores), labels: Array.from(labels), boxes: Array.from(boxes) }));
det.dispose();
`;

const CONSUMER = `import { Detector, ImageInputError, type Detections } from 'fusedet';
import { Detector as BrowserDetector } from 'fusedet/browser';
const det: Detector = await Detector.create({ weights: 'w.safetensors', runtime: 'auto' });
const one: Detections = await det.detect('a.png');
const many: Detections[] = await det.detect(['a.png', new Uint8Array(4)]);
const n: number = one.count + many.length + one.boxes[0]! + one.labels[0]!;
const b = await BrowserDetector.create({ program: 'p.json', weights: 'w.safetensors' });
const e: Error = new ImageInputError('x');
// @ts-expect-error: not a runtime
await Detector.create({ weights: 'w', runtime: 'tpu' });
console.log(n, b.adapter, e);
`;

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the packed tarball installs offline into an empty folder and detects there (script and npx)', async () => {
  // prepack's steps (tools/build.mjs already ran: npm test builds first).
  run(process.execPath, [join(repoRoot, 'web', 'build.mjs')], repoRoot);
  run('npm', ['run', '-s', 'build:types'], repoRoot);
  const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repoRoot).stdout) as { filename: string; files: { path: string }[] }[];
  const tarball = join(dir, packed[0]!.filename);
  const files = new Set(packed[0]!.files.map((f) => f.path));
  for (const f of ['dist/api/index.js', 'dist/api/browser.js', 'dist/types/api/index.d.ts', 'dist/web-bundle/fusedet.js', 'dist/web-bundle/index.html', 'models/defcn.fd', 'configs/tiny-defcn.json', 'binding.gyp', 'native/addon.cc', 'tools/build-native.mjs', 'data/fashion-mnist/subset.bin.gz']) {
    assert.ok(files.has(f), `the tarball lacks ${f}`);
  }
  assert.not.ok([...files].some((f) => f.startsWith('dist/test/')), 'tests stay out of the tarball');

  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; license: string; dependencies: Record<string, string>; engines: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const spec = `file:../${packed[0]!.filename}`;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { fusedet: spec } },
    'node_modules/fusedet': {
      version: pkg.version, resolved: spec, integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      hasInstallScript: true, license: pkg.license, dependencies: pkg.dependencies, bin: { fusedet: 'dist/cli/main.js' }, engines: pkg.engines,
    },
  };
  for (const [k, v] of Object.entries(lock.packages)) if (k.startsWith('node_modules/') && !v.dev) packages[k] = v;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { fusedet: spec } }));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }, null, 2));
  run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app, { JOBS: 'max' });
  assert.ok(existsSync(join(app, 'node_modules', 'fusedet', 'build', 'Release', 'fusedet_native.node')), 'the install script built the native addon');

  // The user's files: weights (a training checkpoint of the tiny DeFCN) and an image.
  const weights = writeWeights('tiny-defcn', app);
  const data = new Uint8Array(80 * 64 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 53 + (i >> 7) * 13) % 251;
  await writePng(join(app, 'scene.png'), { width: 80, height: 64, data });
  writeFileSync(join(app, 'detect.mjs'), SCRIPT);
  assert.ok(SCRIPT.trim().split('\n').length <= 10, 'a ten-line script');

  const want = await (await Detector.create({ weights, runtime: 'reference' })).detect(join(app, 'scene.png'));
  const got = JSON.parse(run(process.execPath, ['detect.mjs', 'cpu'], app).stdout) as { runtime: string; count: number; scores: number[]; labels: number[]; boxes: number[] };
  assert.is(got.runtime, 'cpu');
  assert.is(got.count, want.count);
  assert.ok(got.count > 0);
  // Same detections as the checkout (CPU vs the interpreter: the tolerances of test/models/detect.test.ts).
  const cut = Math.min(...want.scores);
  for (let i = 0; i < want.count; i++) {
    const j = got.scores.findIndex((s, k) => got.labels[k] === want.labels[i] && Math.abs(s - want.scores[i]!) <= 1e-4 && [0, 1, 2, 3].every((c) => Math.abs(got.boxes[4 * k + c]! - want.boxes[4 * i + c]!) <= 1e-2));
    assert.ok(j >= 0 || want.scores[i]! - cut <= 1e-4, `detection ${i} of the checkout is missing in the installed package's`);
  }

  run('npx', ['--offline', 'fusedet', 'detect', '--weights', 'tiny-defcn.safetensors', '--runtime', 'cpu', '--out', 'out', 'scene.png'], app);
  const json = JSON.parse(readFileSync(join(app, 'out', 'scene.json'), 'utf8')) as { width: number; detections: unknown[] };
  assert.is(json.width, 80);
  assert.is(json.detections.length, want.count);
  assert.ok(existsSync(join(app, 'out', 'scene.png')));

  writeFileSync(join(app, 'consumer.ts'), CONSUMER);
  run(join(repoRoot, 'node_modules', '.bin', 'tsc'), ['--ignoreConfig', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', '--strict', '--types', '', 'consumer.ts'], app);
});

test.run();
