// Hand-written kernels following the CPU kernel ABI, for the runtime's tests
// (until the C renderer lands, and afterwards as fixed points).
import type { Program } from '../../compiler/program.js';
import { handKernel } from '../../runtime-cpu/hand.js';

export const WG = 256;

export const ELEMENTWISE_C = `#include <stdint.h>
#define WG ${WG}
/* c = a + b over n elements; one workgroup = WG elements. */
void add_f32(void *const *bufs, const int64_t *args, int64_t wg_begin, int64_t wg_end) {
  const float *a = bufs[0], *b = bufs[1];
  float *c = bufs[2];
  const int64_t n = args[0];
  for (int64_t g = wg_begin; g < wg_end; g++)
    for (int64_t i = g * WG; i < (g + 1) * WG && i < n; i++) c[i] = a[i] + b[i];
}
/* y = x * x + bias[0]; reads the previous launch's output. */
void square_bias_f32(void *const *bufs, const int64_t *args, int64_t wg_begin, int64_t wg_end) {
  const float *x = bufs[0], *bias = bufs[1];
  float *y = bufs[2];
  const int64_t n = args[0];
  for (int64_t g = wg_begin; g < wg_end; g++)
    for (int64_t i = g * WG; i < (g + 1) * WG && i < n; i++) y[i] = x[i] * x[i] + bias[0];
}
/* c[i] = a[n-1-i] + b[i]: each workgroup reads what another wrote, so a
   launch started before the previous one finished reads stale values. */
void rev_add_f32(void *const *bufs, const int64_t *args, int64_t wg_begin, int64_t wg_end) {
  const float *a = bufs[0], *b = bufs[1];
  float *c = bufs[2];
  const int64_t n = args[0];
  for (int64_t g = wg_begin; g < wg_end; g++)
    for (int64_t i = g * WG; i < (g + 1) * WG && i < n; i++) c[i] = a[n - 1 - i] + b[i];
}
/* counts[g] += 1 for every workgroup g run: each must run exactly once. */
void count_wg(void *const *bufs, const int64_t *args, int64_t wg_begin, int64_t wg_end) {
  int32_t *counts = bufs[0];
  (void)args;
  for (int64_t g = wg_begin; g < wg_end; g++) counts[g] += 1;
}
`;

export const ELEMENTWISE_KERNELS = ['add_f32', 'square_bias_f32', 'count_wg', 'rev_add_f32'];

const F32R = { dtype: 'f32', access: 'r' } as const;
const F32W = { dtype: 'f32', access: 'w' } as const;

/** out = (a + b)² + bias: two launches, the second reading the first's result. */
export function addSquareProgram(n: number): Program {
  const grid = Math.ceil(n / WG);
  return {
    buffers: [
      { id: 0, bytes: n * 4, dtype: 'f32', role: 'input', name: 'a' },
      { id: 1, bytes: n * 4, dtype: 'f32', role: 'input', name: 'b' },
      { id: 2, bytes: n * 4, dtype: 'f32', role: 'temp' },
      { id: 3, bytes: 4, dtype: 'f32', role: 'param', name: 'bias' },
      { id: 4, bytes: n * 4, dtype: 'f32', role: 'output', name: 'out' },
    ],
    kernels: [handKernel('add_f32', [F32R, F32R, F32W], 1, WG), handKernel('square_bias_f32', [F32R, F32R, F32W], 1, WG), handKernel('count_wg', [{ dtype: 'i32', access: 'rw' }], 0)],
    launches: [
      { kernel: 0, buffers: [0, 1, 2], args: [n], grid },
      { kernel: 1, buffers: [2, 3, 4], args: [n], grid },
    ],
    inputs: { a: 0, b: 1 }, outputs: { out: 4 }, params: { bias: 3 },
    peakBytes: n * 16 + 4,
  };
}

/** A reference C[m,n] = A[m,k]·B[k,n] in double, rounded to f32 at the end. */
export function gemmReference(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}
