// `fusedet run` end to end, in process: a small .fd model on the CPU runtime
// and on the reference, --compare, --input-file, and the errors a user can
// cause. (Here rather than test/cli/: that folder belongs to the CLI's owner.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main.js';


const dir = mkdtempSync(join(tmpdir(), 'fusedet-run-test-'));
process.env.FUSEDET_CACHE_DIR = join(dir, 'cache');
const model = join(dir, 'net.fd');
writeFileSync(model, `module Block(cin: int, cout: int) {
  param weight: f32[cout, cin, 3, 3] = normal(0, 0.2)
  param bias: f32[cout] = zeros
  fn forward(x: f32[B, cin, H, W]) -> f32[B, cout, H, W] {
    return relu(conv2d(x, weight, bias, padding = 1))
  }
}
module Net(C: int = 4) {
  a = Block(3, C)
  b = Block(C, C)
  fn forward(image: f32[B, 3, H, W]) -> f32[B, C, H, W] {
    return b(a(image))
  }
}
`);

/** Runs the CLI in this process; returns its exit code and what it printed. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const [o, e] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  try {
    return { code: await main(argv), out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

const base = ['run', model, '--entry', 'Net', '--input', 'image=f32[2,3,9,7]', '--arg', 'C=5'];

function checksumOf(out: string): string {
  const m = /: f32\[2, 5, 9, 7\]\s+sum (\S+)\s+sum\|x\| (\S+)/.exec(out);
  assert.ok(m, out);
  return `${m![1]} ${m![2]}`;
}

test('reference and cpu agree; --compare prints small errors', async () => {
  const ref = await cli(...base, '--runtime', 'reference', '--seed', '3');
  assert.is(ref.code, 0, ref.err);
  assert.match(ref.out, /time: [\d.]+ ms on the reference interpreter/);
  const cpu = await cli(...base, '--runtime', 'cpu', '--seed', '3', '--compare', 'reference');
  assert.is(cpu.code, 0, cpu.err);
  assert.match(cpu.out, /^cpu: \d+ kernels, \d+ launches;/);
  const [sumRef, sumCpu] = [checksumOf(ref.out), checksumOf(cpu.out)].map((s) => s.split(' ').map(Number));
  assert.ok(Math.abs(sumRef[1] - sumCpu[1]) <= 1e-4 * Math.abs(sumRef[1]), `${sumRef} vs ${sumCpu}`);
  const m = /max abs err (\S+)\s+max rel err (\S+)/.exec(cpu.out);
  assert.ok(m && Number(m[1]) < 1e-5 && Number(m[2]) < 1e-4, cpu.out);
});

test('the seed changes the input and weights; a file input replaces the random one', async () => {
  const a = checksumOf((await cli(...base, '--runtime', 'reference', '--seed', '1')).out);
  const b = checksumOf((await cli(...base, '--runtime', 'reference', '--seed', '2')).out);
  assert.is.not(a, b);
  const file = join(dir, 'image.bin');
  writeFileSync(file, Buffer.from(new Float32Array(2 * 3 * 9 * 7).fill(0.5).buffer));
  const f1 = await cli(...base, '--runtime', 'reference', '--seed', '1', '--input-file', `image=${file}`);
  assert.is(f1.code, 0, f1.err);
  assert.is.not(checksumOf(f1.out), a);
});

test('user errors: bad spec, short file, unknown runtime, missing entry', async () => {
  const spec = await cli('run', model, '--entry', 'Net', '--input', 'image=f32[2,3,9');
  assert.is(spec.code, 2);
  assert.match(spec.err, /bad --input 'image=f32\[2,3,9': expected name=dtype\[d0,d1,\.\.\.\]/);
  const short = join(dir, 'short.bin');
  writeFileSync(short, Buffer.alloc(12));
  const file = await cli(...base, '--runtime', 'reference', '--input-file', `image=${short}`);
  assert.is(file.code, 2);
  assert.match(file.err, /12 bytes, but f32\[2,3,9,7\] needs 1512/);
  const rt = await cli(...base, '--runtime', 'tpu');
  assert.is(rt.code, 2);
  assert.match(rt.err, /--runtime must be one of auto, cpu, webgpu, cuda, reference, not 'tpu'/);
  const entry = await cli('run', model, '--input', 'image=f32[1,3,8,8]');
  assert.is(entry.code, 2);
  assert.match(entry.err, /--entry NAME is required/);
  const nofile = await cli(...base, '--input-file', 'image=/nonexistent.bin');
  assert.match(nofile.err, /cannot read it \(ENOENT\)/);
});

test.run();
