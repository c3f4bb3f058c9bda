// Kill a real `fusedet train` child with SIGKILL after it has written a
// checkpoint, resume it, and compare every later step's losses with an
// uninterrupted run: bit-identical. On the CPU runtime with the tiny FCOS
// training entry (the DeFCN one needs max3d's backward kernel, not there
// yet); on the reference interpreter only where the CPU runtime is
// genuinely unavailable (no C compiler: said in a NOTICE line), never
// because some other error was caught.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TINY_FLAGS } from './tiny.js';
import { cpuOrSkip } from '../helpers/skip.js';
import { readSafetensors } from '../../models/checkpoint/safetensors.js';

/** The CPU runtime when it can start here; else (CpuUnavailable alone, FUSEDET_REQUIRE_CPU unset) the reference, said. */
async function pickRuntime(): Promise<string> {
  if (process.env.FUSEDET_TEST_TRAIN_RUNTIME) return process.env.FUSEDET_TEST_TRAIN_RUNTIME;
  const cpu = await cpuOrSkip();
  if (cpu.runtime) return 'cpu';
  console.log(`NOTICE resume tests on the reference interpreter: the CPU runtime is unavailable (${cpu.reason})`);
  return 'reference';
}
const RUNTIME = await pickRuntime();
const root = mkdtempSync(join(tmpdir(), 'fusedet-resume-'));
const STEPS = RUNTIME === 'cpu' ? 40 : 16;
const base = (dir: string): string[] => ['dist/cli/main.js', 'train', 'models/fcos-train.fd', '--entry', 'FCOSTrain', '--fixed-batch', ...TINY_FLAGS,
  '--batch', '1', '--size', '32', '--steps', String(STEPS), '--lr', '0.02', '--warmup', '5', '--decay-steps', '12',
  '--runtime', RUNTIME, '--checkpoint-dir', dir, '--checkpoint-every', '4', '--seed', '2', '--no-progress'];

interface Entry { step: number; lr: number; scalars: Record<string, number> }
const entries = (dir: string): Entry[] => (JSON.parse(readFileSync(join(dir, 'log.json'), 'utf8')) as { entries: Entry[] }).entries;

/** The highest step among step-N.safetensors in `dir`, or -1. */
function newestCheckpoint(dir: string): number {
  if (!existsSync(dir)) return -1;
  const steps = readdirSync(dir).flatMap((f) => { const m = /^step-(\d+)\.safetensors$/.exec(f); return m ? [Number(m[1])] : []; });
  return Math.max(-1, ...steps);
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('SIGKILL mid-run, --resume: the same losses at every later step as an uninterrupted run', async () => {
  const whole = join(root, 'whole'), killed = join(root, 'killed');
  const a = cli(base(whole));
  assert.is(a.status, 0, a.stderr);

  const child = spawn(process.execPath, base(killed), { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, sig) => res(sig)));
  // Kill once a checkpoint of step 8 or later exists (and before the run can
  // finish). Not "step 8 exists": the store keeps two, so that file lives
  // only until step 16's is written (~0.4 s), and a slow poll misses it.
  const t0 = Date.now();
  while (newestCheckpoint(killed) < 8 && Date.now() - t0 < 50_000) {
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  assert.is(await exited, 'SIGKILL');
  const saved = readdirSync(killed).filter((f) => /^step-\d+\.safetensors$/.test(f));
  assert.ok(saved.length > 0 && !saved.includes(`step-${String(STEPS).padStart(8, '0')}.safetensors`), saved.join(','));

  const b = cli([...base(killed), '--resume']);
  assert.is(b.status, 0, b.stderr);
  const from = Number(/trained steps (\d+)\.\./.exec(b.stdout)![1]);
  assert.ok(from >= 8 && from < STEPS, b.stdout);

  const ea = entries(whole), eb = entries(killed);
  assert.is(ea.length, STEPS);
  assert.is(eb.length, STEPS);
  for (let s = 0; s < STEPS; s++) {
    assert.is(eb[s].step, s);
    assert.is(eb[s].lr, ea[s].lr);
    for (const t of ['loss', 'loss_cls', 'loss_box', 'grad_norm']) assert.is(eb[s].scalars[t], ea[s].scalars[t], `step ${s} ${t}`);
  }
  // The final weights are the same bytes too.
  const last = `step-${String(STEPS).padStart(8, '0')}.safetensors`;
  assert.ok(readFileSync(join(whole, last)).equals(readFileSync(join(killed, last))));
});

test('resume refusals: no checkpoint, another model, existing checkpoints without --resume', () => {
  const dir = join(root, 'whole');
  const again = cli(base(dir));
  assert.is(again.status, 1);
  assert.match(again.stderr, /already holds checkpoints; pass --resume/);
  const empty = cli([...base(join(root, 'empty')), '--resume']);
  assert.is(empty.status, 1);
  assert.match(empty.stderr, /holds no checkpoint/);
  // K = 4 instead of 3: the cls conv has another shape.
  const other = cli([...base(dir).map((a) => (a === 'K=3' ? 'K=4' : a)), '--steps', '30', '--resume']);
  assert.is(other.status, 1);
  assert.match(other.stderr, /tensor 'net\.head\.cls\.(weight|bias)' is f32\[[\d, ]+\], the model expects f32\[[\d, ]+\]/);
  assert.not.match(other.stderr, /\n\s+at /);
  const cut = join(root, 'cut');
  mkdirSync(cut);
  const f = join(cut, 'step-00000004.safetensors');
  writeFileSync(f, readFileSync(join(dir, `step-${String(STEPS).padStart(8, '0')}.safetensors`)).subarray(0, 5000));
  const t = cli([...base(cut), '--resume']);
  assert.is(t.status, 1);
  assert.match(t.stderr, /step-00000004\.safetensors is damaged: truncated/);
});

test('NaN guard: a huge lr stops with the step and the tensor, the last good checkpoint intact', () => {
  const dir = join(root, 'nan');
  const args = base(dir).map((a, i, all) => (all[i - 1] === '--lr' ? '1e30' : all[i - 1] === '--checkpoint-every' ? '1' : all[i - 1] === '--warmup' ? '0' : a));
  const r = cli(args);
  assert.is(r.status, 1, r.stdout);
  const m = /step (\d+): non-finite training step: (.*)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  const failed = Number(m![1]);
  assert.match(r.stderr, /last good checkpoint .*step-\d+\.safetensors is intact/);
  // The probe names the first layer whose output went non-finite, with its source place.
  assert.match(r.stderr, /first non-finite value: the output of \w+ in net\.[\w.]+ at models\/\w+\.fd:\d+:\d+/);
  const kept = readdirSync(dir).filter((f) => /^step-\d+\.safetensors$/.test(f)).sort().at(-1)!;
  assert.is(Number(/\d+/.exec(kept)![0]), failed);
  // It is whole: every tensor finite, readable.
  const { tensors } = readSafetensors(join(dir, kept));
  for (const [name, t] of tensors) assert.ok(Array.from(t.data).every(Number.isFinite), name);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
