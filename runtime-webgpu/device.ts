/// <reference types="@webgpu/types" />
// Adapter and device discovery. The adapter's limits are requested
// explicitly: a device gets the (lower) spec defaults otherwise, and the
// fusion pass plans against what we report here.
import { WebGpuError, WebGpuUnavailable, DeviceLostError, guarded } from './errors.js';

/** The limits kernels and the buffer plan must respect. */
export interface ComputeLimits {
  maxStorageBuffersPerShaderStage: number;
  maxUniformBuffersPerShaderStage: number;
  maxStorageBufferBindingSize: number;
  maxUniformBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupSizeZ: number;
  maxComputeWorkgroupsPerDimension: number;
  maxBindingsPerBindGroup: number;
  minUniformBufferOffsetAlignment: number;
  minStorageBufferOffsetAlignment: number;
}

const LIMIT_NAMES: readonly (keyof ComputeLimits)[] = [
  'maxStorageBuffersPerShaderStage', 'maxUniformBuffersPerShaderStage', 'maxStorageBufferBindingSize',
  'maxUniformBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension', 'maxBindingsPerBindGroup',
  'minUniformBufferOffsetAlignment', 'minStorageBufferOffsetAlignment',
];

/** Alignments are minima: asking for the adapter's value is asking for the loosest one it allows. */
function computeLimitsOf(l: GPUSupportedLimits): ComputeLimits {
  const out = {} as ComputeLimits;
  for (const k of LIMIT_NAMES) out[k] = l[k];
  return out;
}

export interface DeviceOptions {
  /** Ask for 'timestamp-query' when the adapter has it (per-kernel timing). */
  timestamps?: boolean;
  powerPreference?: GPUPowerPreference;
  timeoutMs?: number;
}

export interface OpenDevice {
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  readonly limits: ComputeLimits;
  readonly features: ReadonlySet<string>;
  /** Vendor / architecture / description as the adapter reports them. */
  readonly description: string;
  /** A CPU implementation (SwiftShader, a fallback adapter): correct but slower than the CPU runtime. */
  readonly software: boolean;
  /** Rejects with DeviceLostError when the device goes; never resolves otherwise. */
  readonly lost: Promise<never>;
  /** Set once the device is lost; every later call fails fast with it. */
  lostError(): DeviceLostError | undefined;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

function describeAdapter(a: GPUAdapter): string {
  const info = a.info;
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s);
  return parts.length ? parts.join(' / ') : 'unnamed adapter';
}

function isSoftware(a: GPUAdapter): boolean {
  const info = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (info?.isFallbackAdapter || (a as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter) return true;
  return /swiftshader|llvmpipe|lavapipe|warp|software/i.test(describeAdapter(a));
}

/**
 * Opens a device on `gpu` with the adapter's compute limits. `hint` is added
 * to the "no adapter" reason (the Node entry names the Vulkan ICD there).
 */
export async function openDevice(gpu: GPU, opts: DeviceOptions = {}, hint = ''): Promise<OpenDevice> {
  const ms = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const adapter = await guarded(gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' }), 'requestAdapter', ms);
  if (!adapter) throw new WebGpuUnavailable(`no WebGPU adapter was found${hint ? `; ${hint}` : ''}`);
  const limits = computeLimitsOf(adapter.limits);
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) requiredLimits[k] = limits[k];
  const requiredFeatures: GPUFeatureName[] = [];
  if (opts.timestamps && adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  let device: GPUDevice;
  try {
    device = await guarded(adapter.requestDevice({ requiredLimits, requiredFeatures }), 'requestDevice', ms);
  } catch (e) {
    if (e instanceof Error && e.name === 'GpuTimeoutError') throw e;
    // Only a missing adapter means "no WebGPU here". An adapter that refuses
    // a device is refusing what fusedet asked for (its own limits, a
    // feature): a fusedet bug, which must fail rather than skip a test suite.
    throw new WebGpuError(`the adapter (${describeAdapter(adapter)}) refused a device with its own limits${requiredFeatures.length ? ` and ${requiredFeatures.join(', ')}` : ''}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let lostErr: DeviceLostError | undefined;
  const lost = device.lost.then((info): never => {
    lostErr = new DeviceLostError(`${info.reason === 'destroyed' ? 'it was destroyed' : 'reason ' + String(info.reason)}${info.message ? ` (${info.message})` : ''}`);
    throw lostErr;
  });
  // Unobserved until a caller races it; without this a loss would be an unhandled rejection.
  lost.catch(() => undefined);
  return {
    adapter, device, limits, features: new Set([...device.features].map(String)),
    description: describeAdapter(adapter), software: isSoftware(adapter), lost, lostError: () => lostErr,
  };
}
