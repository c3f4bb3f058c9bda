// bench/peak.ts, the independent GEMM peak: the stand-alone C reference
// compiles, multiplies correctly at sizes that are no multiple of its tiles
// (it checks its own product and exits non-zero otherwise), and reports every
// tile; the highest peak ignores failed measurements. And the onnxruntime-node
// baseline loads and runs a model exported by bench/torch/export_onnx.py.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cReferencePeak, cpuDescription, highestPeak } from '../../bench/peak.js';
import { onnxModel, timeOnnx } from '../../bench/onnx.js';
import { TORCH_PYTHON } from '../../bench/torch-env.js';

process.env.FUSEDET_PEAK_CACHE = mkdtempSync(join(tmpdir(), 'fusedet-peak-test-'));
process.env.FUSEDET_ONNX_CACHE = mkdtempSync(join(tmpdir(), 'fusedet-onnx-test-'));

test('the plain-C reference multiplies correctly and reports every tile', () => {
  for (const [n, threads] of [[97, 2], [300, 1]]) {
    const tiles = cReferencePeak(n, threads, 1);
    assert.is(tiles.length, 5);
    for (const t of tiles) {
      assert.ok(t.gflops > 0 && Number.isFinite(t.gflops), `${t.mr}×${t.nrv} at ${n}: ${t.gflops}`);
      assert.is(t.vectorWidth, cpuDescription().vectorWidth);
    }
  }
});

test('highestPeak: the largest finite figure; none is an error', () => {
  assert.equal(highestPeak([{ name: 'a', gflops: 90 }, { name: 'b', gflops: NaN }, { name: 'c', gflops: 120 }]), { name: 'c', gflops: 120 });
  assert.throws(() => highestPeak([{ name: 'a', gflops: NaN }]), /no GEMM peak/);
});

let torch = true;
try { execFileSync(TORCH_PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }); } catch { torch = false; }
if (!torch) console.log('SKIP onnxruntime-node runs an exported model: Debian python3-torch is not installed');
(torch ? test : test.skip)('onnxruntime-node runs an exported model', async () => {
  const t = await timeOnnx(onnxModel('sgemm', 64, 64), { a: [64, 64], b: [64, 64] }, 1, 2);
  assert.ok(t.best > 0 && t.best <= t.median, JSON.stringify(t));
  assert.match(t.version, /^1\.30\./);
});

test.run();
