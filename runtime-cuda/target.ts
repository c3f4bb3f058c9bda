// What to compile for a GPU, given the architectures the compiler knows: a
// cubin for the GPU's own sm_XX when the compiler can build one; PTX for the
// newest compute_XX below it when the GPU is newer than the compiler (the
// driver, never older than the compiler here, compiles PTX for any later
// GPU when the module loads); a refusal when the GPU is older than anything
// the compiler builds for (CUDA 13 dropped sm_70/sm_72).
import { CudaUnavailable } from './errors.js';

export interface CompileTarget {
  readonly kind: 'cubin' | 'ptx';
  /** Compute capability, major*10 + minor. */
  readonly arch: number;
}

/** `sm_90` for a cubin, `compute_90` for PTX: the compiler's architecture flag value, and part of the cache key. */
export const targetName = (t: CompileTarget): string => `${t.kind === 'cubin' ? 'sm' : 'compute'}_${t.arch}`;

const ccText = (cc: number): string => `${Math.floor(cc / 10)}.${cc % 10}`;

/**
 * The target for a GPU of capability `cc` with a compiler that builds the
 * real architectures `archs` (empty when it cannot say: then the GPU's own).
 */
export function compileTarget(cc: number, archs: readonly number[], compiler: string): CompileTarget {
  if (archs.length === 0 || archs.includes(cc)) return { kind: 'cubin', arch: cc };
  const below = archs.filter((a) => a < cc);
  if (below.length === 0) {
    throw new CudaUnavailable(`${compiler} cannot build for this GPU (compute capability ${ccText(cc)}; it builds sm_${Math.min(...archs)} to sm_${Math.max(...archs)}): ` +
      'point FUSEDET_NVRTC_DIR or FUSEDET_NVCC at an older CUDA toolkit that still supports it');
  }
  return { kind: 'ptx', arch: Math.max(...below) };
}

/** The sm_XX numbers of `nvcc --list-gpu-code` output (variants like sm_90a left out). */
export function parseGpuCodes(text: string): number[] {
  return [...text.matchAll(/^sm_(\d+)$/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
}
