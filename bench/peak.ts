// The GEMM peak every CPU bench run measures with references independent of
// fusedet: a plain register-blocked C sgemm (BLIS-style packing, an MR×NR
// micro-kernel in GCC vector extensions, its own pthreads) compiled here
// with `cc -O3 -march=native` as a stand-alone program, plus PyTorch's and
// onnxruntime's sgemm where present. Convolutions are reported against the
// highest of these, never against fusedet's own GEMM alone.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Micro-tiles tried: rows × vectors of the machine's width (6×2 is the classic 6×32 at 16 lanes). */
const TILES: readonly [number, number][] = [[6, 2], [8, 2], [12, 2], [4, 3], [8, 3]];

/** The reference program: `peak N THREADS REPS` prints one line per tile: "MR NRV VW GFLOPS". */
export function peakSource(): string {
  const kernels = TILES.map(([mr, nrv]) => `GEMM(${mr}, ${nrv})`).join('\n');
  const calls = TILES.map(([mr, nrv]) => `  run(sgemm_${mr}_${nrv}, ${mr}, ${nrv});`).join('\n');
  return `#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__AVX512F__)
#define VW 16
#elif defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif
#define KC 256
#define MC 96
typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));
typedef struct { int n, t, nt; const float *a, *b; float *c; } job;

/* C[M,N] (+)= A[M,K] B[K,N], row major. Thread t owns the row blocks
   i0 = t*MC, t*MC + nt*MC, ...; B is packed per thread into NR-wide panels
   (KC deep), A into MR-row panels: each micro-tile streams two contiguous panels. */
#define GEMM(MR, NRV) \\
static void *sgemm_##MR##_##NRV(void *p) { \\
  const job *j = p; const int n = j->n, NR = NRV * VW; \\
  float *bp = aligned_alloc(64, sizeof(float) * KC * (n + NR)), *ap = aligned_alloc(64, sizeof(float) * KC * (MC + MR)); \\
  for (int k0 = 0; k0 < n; k0 += KC) { \\
    const int kc = n - k0 < KC ? n - k0 : KC; \\
    for (int jp = 0; jp < n; jp += NR) for (int k = 0; k < kc; k++) \\
      for (int x = 0; x < NR; x++) bp[jp * kc + k * NR + x] = jp + x < n ? j->b[(k0 + k) * n + jp + x] : 0.0f; \\
    for (int i0 = j->t * MC; i0 < n; i0 += j->nt * MC) { \\
      const int mc = n - i0 < MC ? n - i0 : MC; \\
      for (int ip = 0; ip < mc; ip += MR) for (int r = 0; r < MR; r++) for (int k = 0; k < kc; k++) \\
        ap[ip * kc + k * MR + r] = ip + r < mc ? j->a[(i0 + ip + r) * n + k0 + k] : 0.0f; \\
      for (int jp = 0; jp < n; jp += NR) for (int ip = 0; ip < mc; ip += MR) { \\
        const float *a = ap + ip * kc, *b = bp + jp * kc; vf acc[MR][NRV]; \\
        for (int r = 0; r < MR; r++) for (int v = 0; v < NRV; v++) acc[r][v] = (vf){0}; \\
        for (int k = 0; k < kc; k++) { \\
          vf bv[NRV]; \\
          _Pragma("GCC unroll 4") for (int v = 0; v < NRV; v++) bv[v] = *(const vf *)(b + k * NR + v * VW); \\
          _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) { const float x = a[k * MR + r]; \\
            _Pragma("GCC unroll 4") for (int v = 0; v < NRV; v++) acc[r][v] += x * bv[v]; } \\
        } \\
        for (int r = 0; r < MR && i0 + ip + r < n; r++) for (int v = 0; v < NRV; v++) { \\
          float *c = j->c + (i0 + ip + r) * n + jp + v * VW; \\
          if (jp + (v + 1) * VW <= n) { if (k0) *(vfu *)c += acc[r][v]; else *(vfu *)c = acc[r][v]; } \\
          else for (int x = 0; x < VW && jp + v * VW + x < n; x++) c[x] = (k0 ? c[x] : 0.0f) + acc[r][v][x]; \\
        } \\
      } \\
    } \\
  } \\
  free(bp); free(ap); return 0; \\
}
${kernels}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int n, nt, reps;
static float *A, *B, *C;

static void run(void *(*f)(void *), int mr, int nrv) {
  pthread_t th[64]; job jobs[64]; double best = 1e30;
  for (int r = 0; r <= reps; r++) {
    const double t0 = now();
    for (int t = 0; t < nt; t++) { jobs[t] = (job){n, t, nt, A, B, C}; pthread_create(&th[t], 0, f, &jobs[t]); }
    for (int t = 0; t < nt; t++) pthread_join(th[t], 0);
    const double s = now() - t0;
    if (r > 0 && s < best) best = s; /* run 0 warms pages and caches */
  }
  /* A checked product: corners, edges and the middle against plain dot products. */
  const int at[5][2] = {{0, 0}, {n - 1, n - 1}, {n / 2, n > 3 ? n - 3 : 0}, {n > 2 ? n - 2 : 0, n > 1 ? 1 : 0}, {7 % n, 5 % n}};
  for (int e = 0; e < 5; e++) {
    const int i = at[e][0], j = at[e][1];
    double ref = 0; for (int k = 0; k < n; k++) ref += (double)A[i * n + k] * B[k * n + j];
    if (ref - C[i * n + j] > 1e-4 * n || C[i * n + j] - ref > 1e-4 * n) { fprintf(stderr, "peak: wrong product at %d,%d (%d x %d tile)\\n", i, j, mr, nrv * VW); exit(1); }
  }
  printf("%d %d %d %.3f\\n", mr, nrv, VW, 2.0 * n * n * n / best / 1e9);
}

/* The FMA ceiling: each thread multiplies a private, L1-resident 6 x 2VW
   micro-problem over and over (no packing, no cache misses), all threads at
   once; what the cores' multiply-add units give, which no GEMM exceeds. */
#define CEIL_KC 128
typedef struct { int t; double seconds; } ceil_job;
static void *fma_ceiling(void *p) {
  ceil_job *j = p; enum { MR = 6, NRV = 2, NR = NRV * VW };
  float *a = aligned_alloc(64, sizeof(float) * CEIL_KC * MR), *b = aligned_alloc(64, sizeof(float) * CEIL_KC * NR);
  for (int i = 0; i < CEIL_KC * MR; i++) a[i] = 1e-3f * (float)(i % 7);
  for (int i = 0; i < CEIL_KC * NR; i++) b[i] = 1e-3f * (float)(i % 5);
  vf acc[MR][NRV];
  for (int r = 0; r < MR; r++) for (int v = 0; v < NRV; v++) acc[r][v] = (vf){0};
  const double t0 = now();
  for (int it = 0; it < 4000; it++)
    for (int k = 0; k < CEIL_KC; k++) {
      vf bv[NRV];
      _Pragma("GCC unroll 4") for (int v = 0; v < NRV; v++) bv[v] = *(const vf *)(b + k * NR + v * VW);
      _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) { const float x = a[k * MR + r];
        _Pragma("GCC unroll 4") for (int v = 0; v < NRV; v++) acc[r][v] += x * bv[v]; }
    }
  j->seconds = now() - t0;
  float s = 0; for (int r = 0; r < MR; r++) for (int v = 0; v < NRV; v++) s += acc[r][v][0];
  if (s == 12345.0f) puts("");
  free(a); free(b); return 0;
}

static void ceiling(void) {
  double best = 1e30;
  for (int r = 0; r <= reps; r++) {
    pthread_t th[64]; ceil_job jobs[64];
    for (int t = 0; t < nt; t++) { jobs[t] = (ceil_job){t, 0}; pthread_create(&th[t], 0, fma_ceiling, &jobs[t]); }
    double slowest = 0;
    for (int t = 0; t < nt; t++) { pthread_join(th[t], 0); if (jobs[t].seconds > slowest) slowest = jobs[t].seconds; }
    if (slowest < best) best = slowest;
  }
  printf("ceiling %d %.3f\\n", VW, 2.0 * 4000 * CEIL_KC * 6 * 2 * VW * nt / best / 1e9);
}

int main(int argc, char **argv) {
  n = argc > 1 ? atoi(argv[1]) : 512; nt = argc > 2 ? atoi(argv[2]) : 2; reps = argc > 3 ? atoi(argv[3]) : 20;
  if (nt < 1 || nt > 64) nt = 2;
  if (argc > 4 && !strcmp(argv[4], "ceiling")) { ceiling(); return 0; }
  A = malloc(sizeof(float) * n * n); B = malloc(sizeof(float) * n * n); C = malloc(sizeof(float) * n * n);
  for (int i = 0; i < n * n; i++) { A[i] = (float)((i * 37) % 101) / 101.0f - 0.5f; B[i] = (float)((i * 53) % 97) / 97.0f - 0.5f; }
${calls}
  return 0;
}
`;
}

export interface PeakTile { mr: number; nrv: number; vectorWidth: number; gflops: number }

/** The reference program, compiled once per source+compiler (cached under .cache/peak). */
function referenceBinary(): string {
  const src = peakSource();
  const dir = process.env.FUSEDET_PEAK_CACHE ?? '.cache/peak';
  mkdirSync(dir, { recursive: true });
  const cc = process.env.CC ?? 'cc';
  const bin = join(dir, `peak-${createHash('sha256').update(src + cc).digest('hex').slice(0, 12)}`);
  if (!existsSync(bin)) {
    writeFileSync(`${bin}.c`, src);
    execFileSync(cc, ['-O3', '-march=native', '-std=gnu11', '-pthread', '-o', `${bin}.tmp`, `${bin}.c`]);
    renameSync(`${bin}.tmp`, bin);
  }
  return bin;
}

/** Runs the reference sgemm: every tile's GFLOP/s. */
export function cReferencePeak(n: number, threads: number, reps = 20): PeakTile[] {
  const out = execFileSync(referenceBinary(), [String(n), String(threads), String(reps)], { encoding: 'utf8' });
  return out.trim().split('\n').map((l) => {
    const [mr, nrv, vw, g] = l.split(' ').map(Number);
    return { mr, nrv, vectorWidth: vw, gflops: g };
  });
}

/**
 * The machine's multiply-add ceiling on `threads` threads at once: the
 * reference micro-kernel (6 × 2 vectors) on private L1-resident operands, no
 * packing and no misses (best of `reps`). A GEMM's share of it is how close
 * to the hardware it runs; the GEMM peaks above include their packing and
 * memory traffic.
 */
export function fmaCeiling(threads: number, reps = 10): number {
  const out = execFileSync(referenceBinary(), ['0', String(threads), String(reps), 'ceiling'], { encoding: 'utf8' });
  const m = /^ceiling (\d+) ([\d.]+)$/m.exec(out);
  if (!m) throw new Error(`peak: no ceiling line in ${JSON.stringify(out.slice(0, 200))}`);
  return Number(m[2]);
}

/** The CPU's model and the widest f32 vector its flags allow (what -march=native compiles for). */
export function cpuDescription(): { model: string; isa: string; vectorWidth: number } {
  let info = '';
  try { info = readFileSync('/proc/cpuinfo', 'utf8'); } catch { /* not Linux: unknown */ }
  const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? 'unknown CPU';
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
  const isa = flags.has('avx512f') ? 'AVX-512' : flags.has('avx2') && flags.has('fma') ? 'AVX2+FMA' : flags.has('avx') ? 'AVX' : 'SSE/plain C';
  return { model, isa, vectorWidth: isa === 'AVX-512' ? 16 : isa.startsWith('AVX') ? 8 : 4 };
}

export interface PeakSource { name: string; gflops: number }

/** The highest of the measured GEMM peaks (the denominator for "% of peak"), and all of them for the notes. */
export function highestPeak(sources: readonly PeakSource[]): PeakSource {
  const ok = sources.filter((s) => Number.isFinite(s.gflops) && s.gflops > 0);
  if (!ok.length) throw new Error('no GEMM peak could be measured');
  return ok.reduce((a, b) => (b.gflops > a.gflops ? b : a));
}
