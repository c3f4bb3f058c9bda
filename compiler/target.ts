// What a program is compiled for: one value, passed down from compileGraph
// to every schedule (STYLE.md 13), so a compile is a function of (graph,
// target, options) and one process can compile the same graph for two
// targets. Each runtime reports its own (Runtime.target); environment
// variables (FUSEDET_CUDA_MATH, ...) are read at the edge, by the CLI or the
// runtime selection, and arrive here as fields, never read during a compile.
import { FusedetError } from '../io/errors.js';

export type TargetName = 'cpu' | 'webgpu' | 'cuda';

/** CUDA GEMM inputs: TF32 or BF16 tensor cores (f32 accumulation), or plain f32 FMAs. */
export type CudaMath = 'tf32' | 'bf16' | 'f32';

/** CPU vector instruction set the C kernels are shaped for: 512-bit, 256-bit with FMA, or 128-bit (plain C). */
export type CpuIsa = 'avx512' | 'avx2' | 'generic';

export interface Target {
  readonly name: TargetName;
  /** Bytes of workgroup memory one workgroup may declare. */
  readonly maxWorkgroupStorageBytes: number;
  /** Threads per workgroup. */
  readonly maxInvocations: number;
  /** Storage buffers one kernel may bind (WebGPU's maxStorageBuffersPerShaderStage; unbounded elsewhere). */
  readonly maxStorageBuffers: number;
  /**
   * A software adapter (SwiftShader: a CPU behind the WebGPU API), where
   * barriers cost a coroutine switch per invocation and caches already give
   * the reuse workgroup memory would: GEMMs take the barrier-free register
   * tiles of gemm-direct.ts instead of the tiled form real GPUs want.
   */
  readonly software: boolean;
  /**
   * C vector lanes (f32) a thread's row of a register tile may use: on the
   * CPU 16, 8 or 4 by instruction set (cpuIsaProfile), 1 on GPUs, whose
   * threads stay scalar.
   */
  readonly vectorWidth: number;
  /**
   * The plain GEMM's register tile per thread: rows × columns. On the CPU the
   * columns are the strip's width, at most this (gemm.ts chooseTile).
   */
  readonly registerTile: { readonly rows: number; readonly cols: number };
  /**
   * CPU: the instruction set vectorWidth and registerTile were chosen for
   * (cpuIsaProfile); the CPU runtime sets it from the machine. GPUs: 'generic'.
   */
  readonly cpuIsa: CpuIsa;
  /** CUDA: the GEMM arithmetic (tensor cores or not). */
  readonly cudaMath: CudaMath;
  /** CUDA: compute capability × 10 (sm_90 → 90); tensor-core GEMMs need 80 or more. */
  readonly cudaCapability: number;
  /**
   * CPU: 3×3 stride-1 convolutions run by Winograd F(2×2, 3×3)
   * (ops/conv-winograd.kernel.ts) where some entry's `tiles` (2×2 output
   * tiles per image) and `channels` (input and output both) are reached;
   * empty: never (GPUs).
   */
  readonly winograd: readonly { readonly tiles: number; readonly channels: number }[];
}

export type TargetOverrides = Partial<Omit<Target, 'name'>>;

const BASE: Readonly<Record<TargetName, Omit<Target, 'name'>>> = {
  // CPU: a workgroup's threads are a loop; 1 MiB of "workgroup memory" is a local array.
  cpu: {
    maxWorkgroupStorageBytes: 1 << 20, maxInvocations: 1024, maxStorageBuffers: Number.POSITIVE_INFINITY,
    software: false, vectorWidth: 16, registerTile: { rows: 6, cols: 64 }, cpuIsa: 'avx512', cudaMath: 'f32', cudaCapability: 0,
    // Measured per launch (ops/conv-winograd.kernel.ts): 256 channels from 10 × 10 maps, 96 from 40 × 40, 64 from 80 × 80.
    winograd: [{ tiles: 25, channels: 256 }, { tiles: 400, channels: 96 }, { tiles: 1600, channels: 64 }],
  },
  // WebGPU's defaults are what browsers grant without asking.
  webgpu: {
    maxWorkgroupStorageBytes: 16384, maxInvocations: 256, maxStorageBuffers: 8,
    software: false, vectorWidth: 1, registerTile: { rows: 4, cols: 4 }, cpuIsa: 'generic', cudaMath: 'f32', cudaCapability: 0,
    winograd: [],
  },
  // CUDA: static shared memory and block size; an sm_80+ device unless the runtime says otherwise.
  cuda: {
    maxWorkgroupStorageBytes: 49152, maxInvocations: 1024, maxStorageBuffers: Number.POSITIVE_INFINITY,
    software: false, vectorWidth: 1, registerTile: { rows: 4, cols: 4 }, cpuIsa: 'generic', cudaMath: 'tf32', cudaCapability: 90,
    winograd: [],
  },
};

/** The target `name` with its defaults, then `overrides` (fields left undefined keep the default). */
export function makeTarget(name: TargetName, overrides: TargetOverrides = {}): Target {
  const set = Object.fromEntries(Object.entries(overrides).filter(([, x]) => x !== undefined));
  return Object.freeze({ name, ...BASE[name], ...set });
}

export const cpuTarget = (overrides: TargetOverrides = {}): Target => makeTarget('cpu', overrides);
export const webgpuTarget = (overrides: TargetOverrides = {}): Target => makeTarget('webgpu', overrides);
export const cudaTarget = (overrides: TargetOverrides = {}): Target => makeTarget('cuda', overrides);

/**
 * The GEMM register tile per instruction set, sized to its vector registers
 * with room for the panel loads and the broadcast: AVX-512 (32 × 16 lanes)
 * 6 rows × 4 vectors = 24 accumulators; AVX2+FMA (16 × 8 lanes) 6 × 2 = 12,
 * the classic 6×16; SSE / plain C (16 × 4 lanes) 6 × 2 = 12.
 */
export function cpuIsaProfile(isa: CpuIsa): Pick<Target, 'cpuIsa' | 'vectorWidth' | 'registerTile'> {
  switch (isa) {
    case 'avx512': return { cpuIsa: isa, vectorWidth: 16, registerTile: { rows: 6, cols: 64 } };
    case 'avx2': return { cpuIsa: isa, vectorWidth: 8, registerTile: { rows: 6, cols: 16 } };
    case 'generic': return { cpuIsa: isa, vectorWidth: 4, registerTile: { rows: 6, cols: 8 } };
  }
}

/** The CPU target with its defaults: what a caller without a runtime compiles for (tests, `fusedet compile`). */
export const CPU: Target = cpuTarget();

/** The limits a WebGPU device reports, as GPUSupportedLimits names them. */
export interface WebGpuDeviceLimits {
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxStorageBuffersPerShaderStage?: number;
}

/** The target of a WebGPU device: its own limits, and whether the adapter is software. */
export function webgpuDeviceTarget(limits: WebGpuDeviceLimits, software: boolean, maxStorageBuffers = Number.POSITIVE_INFINITY): Target {
  return webgpuTarget({
    maxWorkgroupStorageBytes: limits.maxComputeWorkgroupStorageSize,
    maxInvocations: limits.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffers: Math.min(maxStorageBuffers, limits.maxStorageBuffersPerShaderStage ?? BASE.webgpu.maxStorageBuffers),
    software,
  });
}

/**
 * FUSEDET_CUDA_TF32=0 → f32; else FUSEDET_CUDA_MATH (tf32, bf16, f32); else
 * tf32. For the edge (runtime selection, the CLI): the compiler never reads
 * the environment.
 */
export function cudaMathFromEnv(env: Readonly<Record<string, string | undefined>>): CudaMath {
  if (env.FUSEDET_CUDA_TF32 !== undefined && !['0', '1'].includes(env.FUSEDET_CUDA_TF32)) {
    throw new TargetError(`FUSEDET_CUDA_TF32='${env.FUSEDET_CUDA_TF32}': use 0 (plain f32 GEMMs) or 1 (TF32 tensor cores, the default)`);
  }
  if (env.FUSEDET_CUDA_TF32 === '0') return 'f32';
  const m = env.FUSEDET_CUDA_MATH;
  if (m === undefined || m === '') return 'tf32';
  if (m === 'tf32' || m === 'bf16' || m === 'f32') return m;
  throw new TargetError(`FUSEDET_CUDA_MATH='${m}': use tf32 (default), bf16 or f32`);
}

/** A target setting given wrongly (an environment variable at the edge): a user error. */
export class TargetError extends FusedetError {
  constructor(message: string) { super(message, { exitCode: 2 }); }
}
