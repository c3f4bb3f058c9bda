// What is compiled for a GPU (runtime-cuda/target.ts): its own cubin when the
// compiler builds it, PTX for the newest older architecture when the GPU is
// newer than the compiler, a clear refusal when it is older than all of them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileTarget, parseGpuCodes, targetName } from '../../runtime-cuda/target.js';

const CUDA13 = [75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121];

test('a GPU the compiler builds for gets its own cubin; an unknown list means trying the GPU\'s own', () => {
  assert.equal(compileTarget(90, CUDA13, 'nvcc 13.0'), { kind: 'cubin', arch: 90 });
  assert.equal(compileTarget(70, [], 'nvrtc 11.0'), { kind: 'cubin', arch: 70 });
  assert.is(targetName(compileTarget(90, CUDA13, 'nvcc 13.0')), 'sm_90');
});

test('a GPU newer than the compiler gets PTX for the newest architecture below it', () => {
  const cuda124 = [50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90];
  assert.equal(compileTarget(100, cuda124, 'nvrtc 12.4'), { kind: 'ptx', arch: 90 });
  assert.equal(compileTarget(130, CUDA13, 'nvcc 13.0'), { kind: 'ptx', arch: 121 });
  assert.equal(compileTarget(85, CUDA13, 'nvcc 13.0'), { kind: 'ptx', arch: 80 }, 'between two known architectures: the one below');
  assert.is(targetName({ kind: 'ptx', arch: 90 }), 'compute_90');
});

test('a GPU older than every architecture the compiler builds is refused as CudaUnavailable, saying what to do', () => {
  let err: Error | undefined;
  try { compileTarget(70, CUDA13, 'nvcc 13.0 (/usr/local/cuda/bin/nvcc)'); } catch (e) { err = e as Error; }
  assert.is(err?.name, 'CudaUnavailable');
  assert.is((err as Error & { exitCode: number }).exitCode, 3);
  assert.is(err!.message, 'the CUDA runtime is not available: nvcc 13.0 (/usr/local/cuda/bin/nvcc) cannot build for this GPU (compute capability 7.0; ' +
    'it builds sm_75 to sm_121): point FUSEDET_NVRTC_DIR or FUSEDET_NVCC at an older CUDA toolkit that still supports it');
});

test('nvcc --list-gpu-code output: sm_XX numbers, sorted, variants left out', () => {
  assert.equal(parseGpuCodes('sm_75\nsm_80\nsm_90a\nsm_90\nsm_100\nsm_110\nsm_103\n'), [75, 80, 90, 100, 103, 110]);
  assert.equal(parseGpuCodes('nvcc fatal : Unknown option'), []);
});

test.run();
