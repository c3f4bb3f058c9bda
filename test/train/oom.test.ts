// Out of memory in the training path: `fusedet train` on a runtime that
// cannot allocate the step's buffers exits 1 with one message naming the
// buffer, the bytes that failed and the program's total, never a stack.
// FUSEDET_CPU_MEMORY_LIMIT caps what the CPU runtime may allocate; on
// WebGPU a buffer over the device's limits is refused the same way (a real
// out-of-memory error is reported per buffer through error scopes, which no
// test device can be made to raise).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../compiler/program.js';
import { cpuOrSkip, webGpuOrSkip } from '../helpers/skip.js';
import { rejects } from '../runtime-webgpu/open.js';
import { TINY_FLAGS, smallStep } from './tiny.js';

const cpu = await cpuOrSkip();
const gpu = await webGpuOrSkip();
const root = mkdtempSync(join(tmpdir(), 'fusedet-oom-'));

function train(limit: number, dir: string) {
  const args = ['dist/cli/main.js', 'train', 'models/fcos-train.fd', '--entry', 'FCOSTrain', '--fixed-batch', ...TINY_FLAGS,
    '--batch', '1', '--size', '32', '--steps', '2', '--runtime', 'cpu', '--checkpoint-dir', join(root, dir), '--no-progress'];
  return spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, FUSEDET_CPU_MEMORY_LIMIT: String(limit) } });
}

cpu.test('a buffer over the limit: exit 1, the buffer, its bytes and the program total in one line', () => {
  const r = train(5000, 'one');
  assert.is(r.status, 1, r.stderr);
  const msg = r.stderr.trim();
  assert.is(msg.split('\n').length, 1, msg);
  assert.match(msg, /^cannot allocate (param|temp|input|output) buffer \d+( '[\w.]+')?: [\d.]+ KiB \(\d+ bytes\) exceeds the 4\.9 KiB this machine allows; the program needs [\d.]+ KiB \(\d+ bytes\) in \d+ buffers/);
  assert.not.match(r.stderr, /\n\s+at |RangeError/);
  assert.not.ok(existsSync(join(root, 'one', 'step-00000002.safetensors')));
});

cpu.test('buffers that each fit but not together: the first over the limit is named, with the total', () => {
  const r = train(200_000, 'total');
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /cannot allocate the program's \d+ buffers: .* exceeds the 195\.3 KiB this machine allows; the first over the limit is \w+ buffer \d+.* \([\d.]+ K?i?B\); the program needs .* in \d+ buffers/);
  assert.not.match(r.stderr, /\n\s+at /);
});

gpu.test('WebGPU: a step buffer over the device limit names the buffer, its bytes and the program total', async () => {
  const rt = gpu.runtime!;
  const p = compileGraph(smallStep().graph, rt.target);
  const i = p.buffers.findIndex((b) => b.role === 'temp');
  p.buffers[i] = { ...p.buffers[i], bytes: 2 ** 40 };
  p.peakBytes += 2 ** 40;
  await rejects(() => rt.load(p), (e: unknown) => (e as { exitCode?: number }).exitCode === 1 &&
    new RegExp(`temp buffer \\(#${p.buffers[i].id}\\) needs 1099511627776 bytes .*the program needs 1\\.0 TiB \\(\\d+ bytes\\) in ${p.buffers.length} buffers`).test((e as Error).message));
});

test.run();
