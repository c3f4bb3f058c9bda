// The browser entry stays browser-only: api/browser.ts bundles for the
// browser platform with no shim at all (a Node import — node:fs, sharp, the
// native addon — would fail the build), and a program file compiled in Node
// (compileProgramFile) runs through the program-file path on Node's WebGPU
// with the detections the config gives on the reference interpreter.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../web/chromium.js';
import { Detector, ModelError, compileProgramFile, programFileText } from '../../api/index.js';
import { parseKeepingNonFinite } from '../../api/json-numbers.js';
import { writeWeights } from '../models/detect-weights.js';
import { writePng } from '../../data/image.js';
import { openOrSkip, rejects } from '../runtime-webgpu/open.js';

test('api/browser.ts bundles for browsers with no Node import', async () => {
  const r = await build({ entryPoints: [join(repoRoot, 'api', 'browser.ts')], bundle: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent', define: { 'process.env': '{}' } });
  const inputs = Object.keys(r.metafile.inputs);
  assert.ok(inputs.some((f) => f.endsWith('runtime-webgpu/browser.ts')));
  assert.equal(inputs.filter((f) => /^node:|sharp|native\/|runtime-cpu|runtime-cuda|node_modules/.test(f)), []);
  // A Node import does fail such a build (what makes the check above mean something).
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-bundle-'));
  writeFileSync(join(dir, 'x.ts'), "import { readFileSync } from 'node:fs'; export const f = readFileSync;");
  await rejects(() => build({ entryPoints: [join(dir, 'x.ts')], bundle: true, platform: 'browser', write: false, logLevel: 'silent' }), /node:fs/);
});

const rt = await openOrSkip('test/api/bundle.test.ts (program file on WebGPU)');
rt?.destroy();

(rt ? test : test.skip)('a program file compiled in Node runs on WebGPU with the config\'s detections', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-program-'));
  const weights = writeWeights('tiny-defcn', dir);
  const data = new Uint8Array(64 * 48 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 29 + (i >> 6)) % 251;
  const image = join(dir, 'img.png');
  await writePng(image, { width: 64, height: 48, data });
  const file = await compileProgramFile({ weights });
  assert.equal(file.input, { batch: 1, height: 64, width: 64 });
  const path = join(dir, 'tiny-defcn.program.json');
  // The detect program's kernels hold ±Infinity constants (top-k, 3DMF, max-pool starts):
  // the text keeps each one, where JSON.stringify would write null (read back as −∞ by WGSL).
  const text = programFileText(file);
  const nonFinite = (v: unknown, out: number[] = []): number[] => {
    if (typeof v === 'number' && !Number.isFinite(v)) out.push(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) nonFinite(x, out);
    return out;
  };
  const before = nonFinite(file);
  assert.ok(before.includes(Infinity) && before.includes(-Infinity), 'the program has both infinities');
  assert.equal(nonFinite(parseKeepingNonFinite(text)), before, 'every non-finite constant comes back as itself');
  assert.ok(nonFinite(JSON.parse(JSON.stringify(file))).length === 0, 'plain JSON would have lost them');
  writeFileSync(path, text);
  const det = await Detector.create({ program: path, weights });
  const got = await det.detect(image);
  det.dispose();
  const want = await (await Detector.create({ weights, runtime: 'reference' })).detect(image);
  assert.is(got.count, want.count);
  assert.is(got.height, 48);
  for (let i = 0; i < want.count; i++) {
    const j = [...got.scores.keys()].find((k) => got.labels[k] === want.labels[i] && Math.abs(got.scores[k]! - want.scores[i]!) <= 1e-4 && [0, 1, 2, 3].every((c) => Math.abs(got.boxes[4 * k + c]! - want.boxes[4 * i + c]!) <= 1e-2));
    assert.ok(j !== undefined || want.scores[i]! - Math.min(...want.scores) <= 1e-4, `detection ${i}`);
  }
  await rejects(() => Detector.create({ program: path, weights, runtime: 'cpu' }), (e) => e instanceof ModelError && /compiled for WebGPU/.test((e as Error).message));
  await rejects(() => Detector.create({ program: '{"format":"other"}', weights }), (e) => e instanceof ModelError && /not a fusedet program file/.test((e as Error).message));
});

test.run();
