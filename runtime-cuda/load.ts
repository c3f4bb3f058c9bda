// What runtime/select.ts asks of the CUDA runtime, kept small so probing
// loads nothing of the compiler.
export { probeCuda } from './device.js';
export { CudaRuntime } from './runtime.js';
