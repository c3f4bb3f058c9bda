// `fusedet serve` (cli/commands/serve.ts) as a client sees it: 100
// sequential and 20 concurrent POST /detect answer 200 with the detector's
// detections (the same for the same image, equal to the library API's), a
// bad image 400 with the reason, an empty body 400, an oversized body 413,
// GET /detect 405, a path outside the page 404 — and the server still
// answers afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../cli/commands/serve.js';
import { Detector } from '../../api/index.js';
import { writeWeights } from '../models/detect-weights.js';
import { selectRuntime } from '../../runtime/select.js';
import { unavailableReason } from '../helpers/skip.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-serve-'));
const weights = writeWeights('tiny-defcn', dir);
const web = join(dir, 'web');
mkdirSync(web);
writeFileSync(join(web, 'index.html'), '<!doctype html><title>page</title>');
// The CPU runtime where it runs (fast once compiled); the interpreter otherwise: the server's behaviour is under test, not a runtime.
let runtime: 'cpu' | 'reference' = 'cpu';
try { await selectRuntime('cpu'); } catch (e) {
  if (unavailableReason(e) === undefined) throw e;
  runtime = 'reference';
}
const MAX = 64 * 1024;
const server = await startServer({ weights, runtime, webDir: web, port: 0, maxBodyBytes: MAX, scenes: 2 });
const scene = new Uint8Array(await (await fetch(`${server.url}scenes/0.png`)).arrayBuffer());

interface Answer { status: number; body: { error?: string; count?: number; detections?: { box: number[]; score: number; label: number }[] } }
async function post(body: Uint8Array, path = 'detect'): Promise<Answer> {
  const r = await fetch(server.url + path, { method: 'POST', body, headers: { 'content-type': 'image/png' } });
  return { status: r.status, body: await r.json() as Answer['body'] };
}

test('100 sequential and 20 concurrent requests answer 200 with the library\'s detections', async () => {
  const det = await Detector.create({ weights, runtime: 'reference' });
  const want = await det.detect(scene);
  det.dispose();
  const first = await post(scene);
  assert.is(first.status, 200, first.body.error);
  assert.is(first.body.count, want.count);
  assert.ok(want.count > 0);
  first.body.detections!.forEach((d, i) => {
    assert.is(d.label, want.labels[i]);
    assert.ok(Math.abs(d.score - want.scores[i]!) <= 1e-4, `score ${i}`);
    d.box.forEach((v, c) => assert.ok(Math.abs(v - want.boxes[4 * i + c]!) <= 1e-2, `box ${i}`));
  });
  const same = (a: Answer): void => { assert.is(a.status, 200, a.body.error); assert.equal(a.body.detections, first.body.detections); };
  for (let i = 0; i < 100; i++) same(await post(scene));
  const concurrent = await Promise.all(Array.from({ length: 20 }, () => post(scene)));
  concurrent.forEach(same);
});

test('bad image 400 with the reason, empty 400, oversized 413, wrong method 405, outside the page 404; the server stays up', async () => {
  const bad = await post(new TextEncoder().encode('this is not an image'));
  assert.is(bad.status, 400);
  assert.match(bad.body.error ?? '', /cannot decode image/);
  const truncated = await post(scene.subarray(0, scene.length >> 1));
  assert.is(truncated.status, 400);
  assert.match(truncated.body.error ?? '', /cannot decode image/);
  const empty = await post(new Uint8Array(0));
  assert.is(empty.status, 400);
  assert.match(empty.body.error ?? '', /empty/);
  const big = await post(new Uint8Array(MAX + 1));
  assert.is(big.status, 413);
  assert.match(big.body.error ?? '', new RegExp(`up to ${MAX} bytes`));
  assert.is((await fetch(server.url + 'detect')).status, 405);
  assert.is((await fetch(server.url + '..%2Fweights.safetensors')).status, 404);
  assert.is((await fetch(server.url + 'missing.js')).status, 404);
  const page = await fetch(server.url);
  assert.is(page.status, 200);
  assert.match(await page.text(), /<title>page<\/title>/);
  const health = await (await fetch(server.url + 'health')).json() as { ok: boolean; runtime: string };
  assert.ok(health.ok);
  assert.is(health.runtime, runtime);
  assert.is((await post(scene)).status, 200);
  // The page's model: a program file and the weights.
  const program = await (await fetch(server.url + 'model/program.json')).json() as { format: string; input: { height: number } };
  assert.is(program.format, 'fusedet-program');
  assert.is(program.input.height, 64);
  assert.equal(new Uint8Array(await (await fetch(server.url + 'model/weights.safetensors')).arrayBuffer()), new Uint8Array(readFileSync(weights)));
});

test.after(async () => { await server.close(); });

test.run();
