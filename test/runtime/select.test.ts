// `--runtime` selection: auto takes the first runtime that answers and
// records why the others refused; an explicit unavailable runtime names its
// reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import * as sel from '../../runtime/select.js';
import { probeCuda } from '../../runtime-cuda/load.js';
import { testUnless } from '../helpers/skip.js';

const maybe = test;

maybe('auto takes the first runtime that answers, recording why the ones before refused', async () => {
  const { runtime, probes } = await sel.selectRuntime('auto');
  assert.equal(probes.map((p) => p.name), ['cuda', 'webgpu', 'cpu'].slice(0, probes.length));
  assert.is(runtime.name, probes[probes.length - 1].name);
  assert.is(probes[probes.length - 1].unavailable, undefined);
  for (const p of probes.slice(0, -1)) assert.ok((p.unavailable ?? '').length > 10, `${p.name}: '${p.unavailable}'`);
  // No GPU here (the CI machines): cuda says why; WebGPU has at most
  // SwiftShader, which auto passes over; the CPU runtime runs.
  if (probes[0].unavailable !== undefined && runtime.name === 'cpu') {
    assert.match(probes[1].unavailable ?? '', /software adapter|adapter|webgpu|vulkan|VK_ICD/i);
  }
});

// Decided at registration: where a CUDA driver answers, the refusal cannot be exercised (skipped, counted).
const cudaWhy = probeCuda();
testUnless(cudaWhy === undefined ? 'a CUDA driver answers here, so the refusal case cannot be exercised' : undefined)('an explicit unavailable runtime fails with its reason', async () => {
  let err: unknown;
  try { await sel.selectRuntime('cuda'); } catch (e) { err = e; }
  assert.instance(err, sel.NoRuntime);
  assert.match((err as Error).message, /no runtime is available:\n  cuda: libcuda\.so\.1 not found/);
  assert.is((err as { exitCode: number }).exitCode, 3);
});

maybe('cpu without a compiler is refused, naming the fix', async () => {
  process.env.FUSEDET_CC = '/nonexistent/cc';
  try {
    let err: unknown;
    try { await sel.selectRuntime('cpu'); } catch (e) { err = e; }
    assert.match((err as Error).message, /cpu: no C compiler found.*apt-get install build-essential/);
  } finally {
    delete process.env.FUSEDET_CC;
  }
});

maybe('unknown names are refused', () => {
  assert.is(sel.parseRuntimeChoice('cpu'), 'cpu');
  assert.throws(() => sel.parseRuntimeChoice('tpu'), /unknown runtime 'tpu': expected one of auto, cpu, webgpu, cuda/);
});

test.run();
