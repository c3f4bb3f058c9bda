// The tfjs side of the conv comparisons: the same conv stack (3×3, bias,
// ReLU, NHWC as tfjs wants it) on a named tfjs backend, timed like ours
// (best and median of `reps` after a warm-up), each run read back to the host
// so the time covers the whole computation.
import * as tf from '@tensorflow/tfjs-core';

export interface TfjsTimes { backend: string; best: number; median: number; notes: string[] }

export async function useBackend(name: 'wasm' | 'webgpu'): Promise<string[]> {
  const notes: string[] = [];
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Node has no cross-origin isolation: tfjs-wasm picks its SIMD build and
    // threads only where SharedArrayBuffer workers are allowed.
    wasm.setThreadsCount?.(2);
  } else {
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  if (!(await tf.setBackend(name))) throw new Error(`tfjs: backend '${name}' failed to initialise`);
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT').catch(() => undefined);
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT').catch(() => undefined);
  if (name === 'wasm') notes.push(`tfjs-backend-wasm ${tf.version_core}: SIMD ${simd}, multithread ${threads}`);
  return notes;
}

/** `layers` 3×3 convs c→c (stride 1, same padding, bias, ReLU) on [1, h, w, c]. */
export async function tfjsConvStack(layers: number, c: number, h: number, w: number, reps: number): Promise<TfjsTimes> {
  const x = tf.randomUniform([1, h, w, c], -1, 1) as tf.Tensor4D;
  const ws = Array.from({ length: layers }, () => tf.randomNormal([3, 3, c, c], 0, 0.05) as tf.Tensor4D);
  const bs = Array.from({ length: layers }, () => tf.zeros([c]) as tf.Tensor1D);
  const once = async (): Promise<void> => {
    const y = tf.tidy(() => {
      let t: tf.Tensor4D = x;
      for (let i = 0; i < layers; i++) t = tf.relu(tf.add(tf.conv2d(t, ws[i], 1, 'same'), bs[i])) as tf.Tensor4D;
      return t;
    });
    await y.data();
    y.dispose();
  };
  await once();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await once();
    times.push((performance.now() - t0) / 1000);
  }
  x.dispose(); ws.forEach((t) => t.dispose()); bs.forEach((t) => t.dispose());
  times.sort((a, b) => a - b);
  return { backend: tf.getBackend(), best: times[0], median: times[Math.floor(times.length / 2)], notes: [] };
}
