// `--runtime auto|cpu|webgpu|cuda`. auto = cuda if a driver answers, else
// webgpu if an adapter is found, else cpu; every runtime that refuses records
// why, so `FUSEDET_DEBUG=1` (and the error when none is left) can say it.
// FUSEDET_REQUIRE_<RUNTIME>=1 (CI, the GPU machine) turns that runtime's
// absence into an error instead of a fallback: read here, at the edge, and
// by the tests' skip helper through requireRuntime().
import type { Runtime, RuntimeName } from './interface.js';

export type RuntimeChoice = 'auto' | RuntimeName;
export const RUNTIME_CHOICES: readonly RuntimeChoice[] = ['auto', 'cpu', 'webgpu', 'cuda'];

export interface Probe {
  readonly name: RuntimeName;
  /** Undefined when the runtime can run here. */
  readonly unavailable?: string;
}

/** No runtime can run: names each one tried and why it refused. */
export class NoRuntime extends Error {
  readonly exitCode = 3;
  constructor(readonly probes: readonly Probe[]) {
    super(`no runtime is available:\n${probes.map((p) => `  ${p.name}: ${p.unavailable}`).join('\n')}`);
    this.name = 'NoRuntime';
  }
}

export class UnknownRuntime extends Error {
  readonly exitCode = 2;
  constructor(given: string) {
    super(`unknown runtime '${given}': expected one of ${RUNTIME_CHOICES.join(', ')}`);
    this.name = 'UnknownRuntime';
  }
}

/** FUSEDET_REQUIRE_<NAME>=1 is set but the runtime cannot run here. */
export class RequiredRuntimeMissing extends Error {
  readonly exitCode = 3;
  constructor(readonly runtime: RuntimeName, readonly reason: string) {
    super(`FUSEDET_REQUIRE_${runtime.toUpperCase()}=1 but ${runtime} is unavailable: ${reason}`);
    this.name = 'RequiredRuntimeMissing';
  }
}

/** Whether FUSEDET_REQUIRE_<NAME>=1 is set for this runtime. */
export function isRequired(name: RuntimeName, env: NodeJS.ProcessEnv = process.env): boolean {
  return env[`FUSEDET_REQUIRE_${name.toUpperCase()}`] === '1';
}

/** Throws RequiredRuntimeMissing when `name` is required and `reason` says it cannot run. */
export function requireRuntime(name: RuntimeName, reason: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (reason !== undefined && isRequired(name, env)) throw new RequiredRuntimeMissing(name, reason);
}

interface Verdict {
  /** Why the runtime is not taken; undefined when it is. */
  readonly reason?: string;
  /** It could run, but auto prefers another (a software adapter): not an absence. */
  readonly passedOver?: boolean;
}

interface Candidate {
  /** auto: whether the user asked for any runtime rather than this one. */
  probe(auto: boolean): Promise<Verdict>;
  create(): Promise<Runtime>;
}

// The order is auto's order of preference.
const CANDIDATES: Record<RuntimeName, Candidate> = {
  cuda: {
    probe: async () => ({ reason: (await import('../runtime-cuda/load.js')).probeCuda() }),
    // FUSEDET_CUDA_MATH is read here, at the edge, into the runtime's target.
    create: async () => new (await import('../runtime-cuda/load.js')).CudaRuntime(undefined, undefined, { math: (await import('../compiler/target.js')).cudaMathFromEnv(process.env) }),
  },
  // A software adapter (SwiftShader) is correct but far slower than the CPU
  // runtime on the same cores: auto passes it over, --runtime webgpu takes it.
  webgpu: {
    probe: async (auto) => {
      const p = await (await import('../runtime-webgpu/node.js')).probeWebGpu();
      if (p.unavailable !== undefined) return { reason: p.unavailable };
      return auto && p.software ? { reason: p.softwareOnly, passedOver: true } : {};
    },
    create: async () => (await import('../runtime-webgpu/node.js')).createNodeWebGpu(),
  },
  cpu: {
    probe: async () => ({ reason: await (await import('../runtime-cpu/load.js')).probeCpu() }),
    create: async () => new (await import('../runtime-cpu/runtime.js')).CpuRuntime(),
  },
};

export function parseRuntimeChoice(s: string): RuntimeChoice {
  if ((RUNTIME_CHOICES as readonly string[]).includes(s)) return s as RuntimeChoice;
  throw new UnknownRuntime(s);
}

export interface Selected {
  readonly runtime: Runtime;
  /** Every runtime asked, in order, with the reason of those that refused. */
  readonly probes: readonly Probe[];
}

export async function selectRuntime(choice: RuntimeChoice): Promise<Selected> {
  const names: RuntimeName[] = choice === 'auto' ? ['cuda', 'webgpu', 'cpu'] : [choice];
  const probes: Probe[] = [];
  for (const name of names) {
    const c = CANDIDATES[name];
    const verdict = await c.probe(choice === 'auto');
    const unavailable = verdict.reason;
    if (!verdict.passedOver) requireRuntime(name, unavailable);
    probes.push(unavailable === undefined ? { name } : { name, unavailable });
    if (unavailable === undefined) {
      debug(probes, name);
      return { runtime: await c.create(), probes };
    }
  }
  debug(probes, undefined);
  throw new NoRuntime(probes);
}

function debug(probes: readonly Probe[], chosen: RuntimeName | undefined): void {
  if (!(Number(process.env.FUSEDET_DEBUG) >= 1)) return;
  for (const p of probes) if (p.unavailable) process.stderr.write(`[fusedet] runtime ${p.name} skipped: ${p.unavailable}\n`);
  if (chosen) process.stderr.write(`[fusedet] runtime: ${chosen}\n`);
}
