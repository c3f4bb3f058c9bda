/// <reference types="@webgpu/types" />
// WGSL → compute pipelines, cached by the kernel's structural hash. A shader
// the device rejects becomes a ShaderCompileError that names the dumped WGSL
// file and gives Dawn's diagnostics as file:line:col, with the offending line.
import { ShaderCompileError, DeviceLimitError, guarded } from './errors.js';
import type { OpenDevice } from './device.js';

export interface CompiledKernel {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  /** Storage bindings before the argument uniform. */
  readonly storageCount: number;
}

/** Writes a kernel's WGSL somewhere a user can open; returns the path (Node), or undefined (browser). */
export type SourceDump = (name: string, hash: string, source: string) => string | undefined;

const STAGE_COMPUTE = 0x4; // GPUShaderStage.COMPUTE

/** The access mode each @binding(i) storage variable declares (read-only needs a different layout entry). */
export function readOnlyBindings(wgsl: string): Set<number> {
  const out = new Set<number>();
  const re = /@binding\((\d+)\)\s*var\s*<\s*storage\s*(?:,\s*(read|read_write)\s*)?>/g;
  for (let m = re.exec(wgsl); m; m = re.exec(wgsl)) if ((m[2] ?? 'read') === 'read') out.add(Number(m[1]));
  return out;
}

export function formatDiagnostics(messages: readonly GPUCompilationMessage[], source: string, where: string): string {
  const lines = source.split('\n');
  return messages.map((m) => {
    const head = `${where}:${m.lineNum}:${m.linePos}: ${m.type}: ${m.message}`;
    const text = m.lineNum > 0 ? lines[m.lineNum - 1] : undefined;
    if (text === undefined) return head;
    return `${head}\n    ${text}\n    ${' '.repeat(Math.max(0, m.linePos - 1))}^`;
  }).join('\n');
}

/**
 * Pipeline builds in flight at once. Dawn queues the rest; a build's timeout
 * must measure that build, not its wait behind fifty others (SwiftShader
 * takes seconds per large kernel).
 */
const MAX_BUILDS_IN_FLIGHT = 2;

export class PipelineCache {
  private readonly byHash = new Map<string, Promise<CompiledKernel>>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  compiles = 0;

  constructor(private readonly gpu: OpenDevice, private readonly timeoutMs: number, private readonly dump: SourceDump | undefined,
    private readonly storageLimit = gpu.limits.maxStorageBuffersPerShaderStage) {}

  private async slot(): Promise<void> {
    if (this.inFlight < MAX_BUILDS_IN_FLIGHT) { this.inFlight++; return; }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next(); else this.inFlight--;
  }

  get(name: string, hash: string, wgsl: string, storageCount: number, workgroupSize: number): Promise<CompiledKernel> {
    const key = `${hash}/${storageCount}`;
    let p = this.byHash.get(key);
    if (!p) {
      p = this.slot().then(() => this.compile(name, hash, wgsl, storageCount, workgroupSize)).finally(() => this.release());
      // A failed compile must not poison the cache for a corrected retry.
      p.catch(() => this.byHash.delete(key));
      this.byHash.set(key, p);
    }
    return p;
  }

  private async compile(name: string, hash: string, wgsl: string, storageCount: number, workgroupSize: number): Promise<CompiledKernel> {
    const { device, limits, lost } = this.gpu;
    if (storageCount > this.storageLimit) {
      // A program compiled for this runtime's target never gets here: fusion and the schedules keep every kernel within its limit.
      throw new DeviceLimitError(`kernel ${name} binds ${storageCount} storage buffers; ${this.storageLimit} are allowed per shader stage (compile the program for this runtime: compileGraph(graph, runtime.target))`);
    }
    if (workgroupSize > limits.maxComputeInvocationsPerWorkgroup) {
      throw new DeviceLimitError(`kernel ${name} has workgroups of ${workgroupSize} threads; this device allows ${limits.maxComputeInvocationsPerWorkgroup}`);
    }
    this.compiles++;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: name, code: wgsl });
    const info = await guarded(module.getCompilationInfo(), `compiling kernel ${name}`, this.timeoutMs, lost);
    const scopeError = await guarded(device.popErrorScope(), `compiling kernel ${name}`, this.timeoutMs, lost);
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0 || scopeError) {
      const path = this.dump?.(name, hash, wgsl);
      const where = path ?? `${name}.wgsl`;
      const diag = errors.length ? formatDiagnostics(errors, wgsl, where) : scopeError!.message;
      throw new ShaderCompileError(`kernel ${name}: the device rejected its WGSL${path ? ` (written to ${path})` : ''}:\n${diag}`, name, path);
    }
    const readOnly = readOnlyBindings(wgsl);
    const entries: GPUBindGroupLayoutEntry[] = [];
    for (let i = 0; i < storageCount; i++) {
      entries.push({ binding: i, visibility: STAGE_COMPUTE, buffer: { type: readOnly.has(i) ? 'read-only-storage' : 'storage' } });
    }
    entries.push({ binding: storageCount, visibility: STAGE_COMPUTE, buffer: { type: 'uniform' } });
    const layout = device.createBindGroupLayout({ label: name, entries });
    try {
      const pipeline = await guarded(device.createComputePipelineAsync({
        label: name,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
      }), `creating the pipeline of kernel ${name}`, this.timeoutMs, lost);
      return { pipeline, layout, storageCount };
    } catch (e) {
      if (!(e instanceof Error) || e.name === 'GpuTimeoutError' || e.name === 'DeviceLostError') throw e;
      const path = this.dump?.(name, hash, wgsl);
      throw new ShaderCompileError(`kernel ${name}: the device could not build a pipeline${path ? ` (WGSL written to ${path})` : ''}: ${e.message}`, name, path);
    }
  }
}
