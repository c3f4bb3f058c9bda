// Opening the GPU once per process: the addon, the driver, the device and a
// compiler for it. Every refusal is one sentence saying what is missing, so
// `--runtime cuda` and auto's fallback note can show it as is.
import { debugLog } from '../runtime-cpu/debug.js';
import { CompilerChoice, chooseCompiler } from './compile.js';
import { CudaUnavailable } from './errors.js';
import { LIBCUDA_PATHS } from './find.js';
import { DeviceInfo, NativeCuda, nativeCudaFailure, tryNativeCuda } from './native.js';
import { compileTarget, targetName } from './target.js';

/** sm_70 (Volta): the oldest GPU the generated kernels are written for (independent thread scheduling, __shfl_*_sync). */
export const MIN_COMPUTE_CAPABILITY = 70;

export interface CudaDevice {
  readonly native: NativeCuda;
  readonly info: DeviceInfo;
  readonly compiler: CompilerChoice;
}

let opened: CudaDevice | undefined;

/** FUSEDET_CUDA_DEVICE picks the GPU (default 0). */
function deviceIndex(): number {
  const raw = process.env.FUSEDET_CUDA_DEVICE;
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new CudaUnavailable(`FUSEDET_CUDA_DEVICE=${raw} is not a device index (0, 1, ...)`);
  return n;
}

/** The open device, or CudaUnavailable saying what is missing. */
export function openCuda(): CudaDevice {
  const native = tryNativeCuda();
  if (!native) throw new CudaUnavailable(nativeCudaFailure() ?? 'the CUDA addon did not load');
  // A context reset after a fatal error closes the device; open it again.
  if (opened && opened.info.generation === native.generation()) return opened;
  let info: DeviceInfo;
  try {
    info = native.open(LIBCUDA_PATHS, deviceIndex(), MIN_COMPUTE_CAPABILITY);
  } catch (e) {
    throw new CudaUnavailable((e as Error).message);
  }
  const compiler = opened?.compiler ?? chooseCompiler(native, info.driverVersion);
  // A GPU older than anything the compiler builds is refused now, so --runtime auto moves on.
  const target = compileTarget(info.cc, compiler.archs, compiler.id);
  opened = { native, info, compiler };
  debugLog(1, `cuda: ${info.name} (sm_${info.cc}, ${info.multiprocessors} SMs, ${(info.totalBytes / 2 ** 30).toFixed(1)} GiB), ` +
    `driver CUDA ${cudaVersion(info.driverVersion)} (${info.libcuda}), compiler ${compiler.id} (${targetName(target)})`);
  return opened;
}

/** Why CUDA cannot run here, or undefined when it can. */
export function probeCuda(): string | undefined {
  try {
    openCuda();
    return undefined;
  } catch (e) {
    return (e as CudaUnavailable).reason ?? (e as Error).message;
  }
}

export function cudaVersion(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}
