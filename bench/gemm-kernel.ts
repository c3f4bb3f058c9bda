// A hand-written, register-blocked f32 GEMM in plain C (GCC vector
// extensions) following the kernel ABI of the CPU runtime. It is the yardstick
// for the generated GEMM-like kernels: what plain C reaches on this machine.
// C[M,N] = A[M,K] · B[K,N], row major; one workgroup = one MB×NB tile of C.
// B is packed per workgroup into NR-wide panels, A (optionally) into MR-row
// panels.
import type { Program } from '../compiler/program.js';
import { handKernel } from '../runtime-cpu/hand.js';

export interface GemmShape { readonly vectorWidth: 8 | 16; readonly mr: number; readonly nrv: number; readonly mb: number; readonly nb: number; readonly kc: number; readonly packA: boolean }

/** 16 floats (AVX-512) with 8×2 vectors per micro-tile; VW=8 is the AVX2 shape (6×2). */
export const GEMM_V16: GemmShape = { vectorWidth: 16, mr: 8, nrv: 2, mb: 128, nb: 512, kc: 256, packA: true };
export const GEMM_V8: GemmShape = { vectorWidth: 8, mr: 6, nrv: 2, mb: 48, nb: 128, kc: 256, packA: true };

export function gemmSource(s: GemmShape = GEMM_V16, name = 'sgemm'): string {
  return `#include <stdint.h>
#include <string.h>
#define VW ${s.vectorWidth}
#define MR ${s.mr}
#define NRV ${s.nrv}
#define NR (NRV * VW)
#define MB ${s.mb}
#define NB ${s.nb}
#define KC ${s.kc}
#define PACK_A ${s.packA ? 1 : 0}
typedef float vf __attribute__((vector_size(VW * 4)));
/* Unaligned vector access: buffers are only guaranteed float alignment. */
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));

/* Multiply-adds fused on purpose here (the GEMM has no bit-exact reference);
   the rest of the runtime compiles with -ffp-contract=off. */
__attribute__((optimize("fp-contract=fast")))
static inline void micro(int64_t kc, const float *restrict a, int64_t lda, const float *restrict b, float *restrict c, int64_t ldc, int rows, int cols, int first) {
  vf acc[MR][NRV];
  const float *ar[MR];
  /* Rows past M read the last valid row again and are never stored. */
  for (int r = 0; r < MR; r++) ar[r] = PACK_A ? a + r : a + (r < rows ? r : rows - 1) * lda;
  for (int r = 0; r < MR; r++) for (int v = 0; v < NRV; v++) acc[r][v] = (vf){0};
  for (int64_t k = 0; k < kc; k++) {
    vf bv[NRV];
#pragma GCC unroll 4
    for (int v = 0; v < NRV; v++) bv[v] = *(const vf *)(b + k * NR + v * VW);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      const float x = PACK_A ? ar[r][k * MR] : ar[r][k];
#pragma GCC unroll 4
      for (int v = 0; v < NRV; v++) acc[r][v] += x * bv[v];
    }
  }
  /* The first K block stores, later ones accumulate: C is never cleared first. */
  if (rows == MR && cols == NR) {
    if (first) for (int r = 0; r < MR; r++) for (int v = 0; v < NRV; v++) *(vfu *)(c + r * ldc + v * VW) = acc[r][v];
    else for (int r = 0; r < MR; r++) for (int v = 0; v < NRV; v++) *(vfu *)(c + r * ldc + v * VW) += acc[r][v];
  } else {
    for (int r = 0; r < rows; r++) for (int j = 0; j < cols; j++) c[r * ldc + j] = (first ? 0.0f : c[r * ldc + j]) + acc[r][j / VW][j % VW];
  }
}

void ${name}(void *const *bufs, const int64_t *args, int64_t wg_begin, int64_t wg_end) {
  const float *A = bufs[0], *B = bufs[1];
  float *C = bufs[2];
  const int64_t M = args[0], N = args[1], K = args[2];
  const int64_t tilesN = (N + NB - 1) / NB;
  static __thread float bp[KC * NB] __attribute__((aligned(64)));
  static __thread float ap[PACK_A ? MB * KC : 1] __attribute__((aligned(64)));
  for (int64_t wg = wg_begin; wg < wg_end; wg++) {
    const int64_t i0 = (wg / tilesN) * MB, j0 = (wg % tilesN) * NB;
    const int64_t mb = M - i0 < MB ? M - i0 : MB, nb = N - j0 < NB ? N - j0 : NB;
    if (K == 0) for (int64_t i = 0; i < mb; i++) memset(C + (i0 + i) * N + j0, 0, nb * sizeof(float));
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
      const int64_t kc = K - k0 < KC ? K - k0 : KC;
      /* B panel: NR columns × kc rows, contiguous per k; zero-padded past N. */
      for (int64_t jp = 0; jp < nb; jp += NR)
        for (int64_t k = 0; k < kc; k++) {
          float *dst = bp + jp * kc + k * NR;
          const float *src = B + (k0 + k) * N + j0 + jp;
          if (jp + NR <= nb) memcpy(dst, src, NR * sizeof(float));
          else for (int64_t j = 0; j < NR; j++) dst[j] = jp + j < nb ? src[j] : 0.0f;
        }
      /* A panel (PACK_A): MR rows interleaved per k, zero-padded past M, so
         the MR rows are not MR streams K floats apart (4K aliasing). */
      if (PACK_A)
        for (int64_t ip = 0; ip < mb; ip += MR)
          for (int64_t r = 0; r < MR; r++) {
            float *dst = ap + ip * kc + r;
            if (ip + r < mb) {
              const float *src = A + (i0 + ip + r) * K + k0;
              for (int64_t k = 0; k < kc; k++) dst[k * MR] = src[k];
            } else {
              for (int64_t k = 0; k < kc; k++) dst[k * MR] = 0.0f;
            }
          }
      for (int64_t jp = 0; jp < nb; jp += NR)
        for (int64_t ip = 0; ip < mb; ip += MR) {
          const int rows = mb - ip < MR ? (int)(mb - ip) : MR, cols = nb - jp < NR ? (int)(nb - jp) : NR;
          micro(kc, PACK_A ? ap + ip * kc : A + (i0 + ip) * K + k0, K, bp + jp * kc, C + (i0 + ip) * N + j0 + jp, N, rows, cols, k0 == 0);
        }
    }
  }
}
`;
}

export function gemmGrid(m: number, n: number, s: GemmShape = GEMM_V16): number {
  return Math.ceil(m / s.mb) * Math.ceil(n / s.nb);
}

/** A one-launch Program running the GEMM: inputs a, b; output c. */
export function gemmProgram(m: number, n: number, k: number, s: GemmShape = GEMM_V16, name = 'sgemm'): Program {
  return {
    buffers: [
      { id: 0, bytes: m * k * 4, dtype: 'f32', role: 'input', name: 'a' },
      { id: 1, bytes: k * n * 4, dtype: 'f32', role: 'input', name: 'b' },
      { id: 2, bytes: m * n * 4, dtype: 'f32', role: 'output', name: 'c' },
    ],
    kernels: [handKernel(name, [{ dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'r' }, { dtype: 'f32', access: 'w' }], 3)],
    launches: [{ kernel: 0, buffers: [0, 1, 2], args: [m, n, k], grid: gemmGrid(m, n, s) }],
    inputs: { a: 0, b: 1 }, outputs: { c: 2 }, params: {},
    peakBytes: (m * k + k * n + m * n) * 4,
  };
}
