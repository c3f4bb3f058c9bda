// `fusedet run FILE.fd --entry NAME [--runtime cpu|reference|auto] --input image=f32[1,3,64,64] ...`
// One forward pass on random (by --seed) or given input: output shapes, a
// checksum and the time; --compare reference adds the error against the
// reference interpreter.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { parseArgSpecs, parseInputSpecs } from '../input-spec.js';
import { checkFilesOrThrow } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { initParams } from '../../compiler/init.js';
import { interpret } from '../../compiler/interpret.js';
import { compileGraph, type Program } from '../../compiler/program.js';
import type { LaunchTime } from '../../runtime/interface.js';
import type { Graph } from '../../compiler/graph.js';
import { Tensor, allocData, rng } from '../../compiler/tensor.js';
import { ConcreteType, bytesOf, numel } from '../../compiler/types.js';

const usage = `usage: fusedet run FILE.fd --entry NAME --input NAME=DTYPE[DIMS] [options]
       fusedet run --weights W IMAGE [--config C] [--runtime R] [--nms on|off]

Runs the entry module's forward function once on random input (or on the
files given) and prints each output's shape, a checksum (sum and sum of |x|)
and the time.

options:
  --entry NAME            module whose forward function runs (required)
  --fn NAME               function of the entry module (default: forward)
  --input SPEC            an entry input, e.g. image=f32[1,3,64,64] (repeatable)
  --input-file NAME=PATH  raw little-endian data for input NAME (its dtype, its size)
  --arg NAME=VALUE        a constructor argument of the entry module, e.g. K=80
  --runtime R             cpu, reference, auto, webgpu or cuda (default: auto)
  --seed K                seed of the parameters and of random inputs (default: 0)
  --compare reference     also run the reference interpreter and print, per output,
                          the max abs error and the max rel error
                          |a-b| / max(|b|, 1e-3 * max|b|)
  --repeat N              run N times after the first, report the best (default: 0)

With --weights, runs the trained detector on one image file instead and
prints its detections as JSON (fusedet detect draws them).

FUSEDET_DEBUG=1 prints the runtime chosen and compile counts, =2 per-launch times
and a summary of the last run by kernel class (launches, time, GFLOP/s).
`;

const RUNTIMES = ['auto', 'cpu', 'webgpu', 'cuda', 'reference'];

/** Random input: uniform [-1, 1) for floats, 0..9 for i32, 0/1 for bool. */
function randomInput(type: ConcreteType, seed: number): Tensor {
  const next = rng(seed);
  const data = allocData(type.dtype, numel(type.shape));
  for (let i = 0; i < data.length; i++) {
    const u = next();
    data[i] = type.dtype === 'i32' ? Math.floor(u * 10) : type.dtype === 'bool' ? (u < 0.5 ? 1 : 0) : u * 2 - 1;
  }
  return { dtype: type.dtype, shape: [...type.shape], data };
}

function fileInput(name: string, path: string, type: ConcreteType): Tensor {
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (e) {
    throw new UserError(`--input-file ${name}=${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 2);
  }
  if (type.dtype === 'f16') throw new UserError(`--input-file ${name}=${path}: f16 input files are not supported yet`, 2);
  const want = numel(type.shape) * bytesOf(type.dtype);
  if (bytes.length !== want) {
    throw new UserError(`--input-file ${name}=${path}: ${bytes.length} bytes, but ${type.dtype}[${type.shape.join(',')}] needs ${want}`, 2);
  }
  const data = allocData(type.dtype, numel(type.shape));
  new Uint8Array(data.buffer).set(bytes);
  return { dtype: type.dtype, shape: [...type.shape], data };
}

function parseFileSpecs(specs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of specs) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(s);
    if (!m) throw new UserError(`bad --input-file '${s}': expected NAME=PATH, e.g. image=img.bin`, 2);
    out.set(m[1], m[2]);
  }
  return out;
}

function checksum(t: Tensor): { sum: number; abs: number } {
  let sum = 0, abs = 0;
  for (let i = 0; i < t.data.length; i++) { sum += t.data[i]; abs += Math.abs(t.data[i]); }
  return { sum, abs };
}

/**
 * Max abs error, and max rel error |a-b| / max(|b|, 1e-3·max|b|): entries far
 * below the output's scale (a ReLU's near-zeros) are judged against the scale.
 */
function errors(got: Tensor, want: Tensor): { abs: number; rel: number; nanMismatch: number } {
  let scale = 0;
  for (let i = 0; i < want.data.length; i++) if (Number.isFinite(want.data[i])) scale = Math.max(scale, Math.abs(want.data[i]));
  const floor = Math.max(1e-3 * scale, 1e-30);
  let abs = 0, rel = 0, nanMismatch = 0;
  for (let i = 0; i < want.data.length; i++) {
    const a = got.data[i], b = want.data[i];
    if (Number.isNaN(a) || Number.isNaN(b)) { if (Number.isNaN(a) !== Number.isNaN(b)) nanMismatch++; continue; }
    if (a === b) continue;
    const d = Math.abs(a - b);
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(b), floor));
  }
  return { abs, rel, nanMismatch };
}

const ms = (s: number): string => `${(s * 1e3).toFixed(s < 0.01 ? 3 : 1)} ms`;

interface Ran { outputs: Record<string, Tensor>; seconds: number; setup?: string }

async function runCompiled(graph: Graph, choice: string, inputs: Record<string, Tensor>, params: () => Map<string, Tensor>, repeat: number): Promise<Ran> {
  // Loaded here, not at the top: other commands need no runtime code.
  const { parseRuntimeChoice, selectRuntime } = await import('../../runtime/select.js');
  const { compileOptionsFromEnv } = await import('../../runtime/compile-options.js');
  const { runtime } = await selectRuntime(parseRuntimeChoice(choice));
  const t0 = performance.now();
  const program = compileGraph(graph, runtime.target, compileOptionsFromEnv());
  const t1 = performance.now();
  const exe = await runtime.load(program);
  const t2 = performance.now();
  await exe.setParams(params());
  let best = Infinity;
  let outputs: Record<string, Tensor> = {};
  for (let r = 0; r <= repeat; r++) {
    const s = performance.now();
    outputs = await exe.run(inputs);
    best = Math.min(best, (performance.now() - s) / 1000);
  }
  if (Number(process.env.FUSEDET_DEBUG) >= 2) process.stderr.write(classSummary(program, exe.lastTimes()));
  exe.dispose();
  const load = exe.stats;
  const setup = `${runtime.name}: ${program.kernels.length} kernels, ${program.launches.length} launches; graph compile ${ms((t1 - t0) / 1000)}, ` +
    `load ${ms((t2 - t1) / 1000)} (${load.compiled ? `${load.compiled} unit(s) compiled in ${ms(load.seconds)}` : 'cache hit'})`;
  return { outputs, seconds: best, setup };
}

/** Launch times of the last run summed per kernel class (its anchor op), with GFLOP/s from the fusion report. */
function classSummary(program: Program, times: readonly LaunchTime[]): string {
  const rows = new Map<string, { launches: number; seconds: number; flops: number }>();
  times.forEach((t, i) => {
    const r = program.report?.launches[i];
    const cls = r?.ops[0] ?? t.kernel;
    const row = rows.get(cls) ?? { launches: 0, seconds: 0, flops: 0 };
    row.launches++; row.seconds += t.seconds; row.flops += r?.flops ?? 0;
    rows.set(cls, row);
  });
  const lines = [...rows].sort((a, b) => b[1].seconds - a[1].seconds).map(([cls, r]) =>
    `[fusedet]   ${cls.padEnd(14)} ${String(r.launches).padStart(4)} launches ${ms(r.seconds).padStart(11)}  ${(r.flops / r.seconds / 1e9).toFixed(2).padStart(8)} GFLOP/s`);
  return `[fusedet] last run by kernel class:\n${lines.join('\n')}\n`;
}

const run: Command = {
  name: 'run',
  summary: 'run a forward pass on random or given input: output shapes, checksums, time, error vs reference',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        entry: { type: 'string' }, fn: { type: 'string' },
        input: { type: 'string', multiple: true, default: [] },
        'input-file': { type: 'string', multiple: true, default: [] },
        arg: { type: 'string', multiple: true, default: [] },
        runtime: { type: 'string', default: 'auto' },
        seed: { type: 'string', default: '0' },
        compare: { type: 'string' },
        repeat: { type: 'string', default: '0' },
        weights: { type: 'string' }, config: { type: 'string' }, nms: { type: 'string' },
      },
    });
    if (values.weights !== undefined) {
      const { detectToStdout } = await import('./detect.js');
      return detectToStdout(values.weights, positionals, { config: values.config, runtime: values.runtime, nms: values.nms });
    }
    if (positionals.length === 0) throw new UserError(`fusedet run: no .fd file given\n${usage}`, 2);
    if (!values.entry) throw new UserError('fusedet run: --entry NAME is required (the module to run)', 2);
    if (!RUNTIMES.includes(values.runtime)) throw new UserError(`fusedet run: --runtime must be one of ${RUNTIMES.join(', ')}, not '${values.runtime}'`, 2);
    if (values.compare !== undefined && values.compare !== 'reference') throw new UserError(`fusedet run: --compare takes only 'reference', not '${values.compare}'`, 2);
    const seed = Number(values.seed), repeat = Number(values.repeat);
    if (!Number.isSafeInteger(seed)) throw new UserError(`fusedet run: --seed must be an integer, not '${values.seed}'`, 2);
    if (!Number.isSafeInteger(repeat) || repeat < 0) throw new UserError(`fusedet run: --repeat must be a count, not '${values.repeat}'`, 2);
    const specs = parseInputSpecs(values.input);
    const files = parseFileSpecs(values['input-file']);
    for (const name of files.keys()) {
      if (!(name in specs)) throw new UserError(`--input-file ${name}=...: give its shape too, e.g. --input ${name}=f32[1,3,64,64]`, 2);
    }

    const program = checkFilesOrThrow(positionals);
    const graph: Graph = lower(program, { entry: values.entry, fn: values.fn, inputs: specs, args: parseArgSpecs(values.arg) });

    // Made when first needed: a runtime checks its memory limit before the parameters exist on the host.
    let made: Map<string, Tensor> | undefined;
    const params = (): Map<string, Tensor> => (made ??= initParams(graph, seed));
    const inputs: Record<string, Tensor> = {};
    graph.inputs.forEach((inp, i) => {
      const type = graph.values[inp.value].type;
      const path = files.get(inp.name);
      inputs[inp.name] = path ? fileInput(inp.name, path, type) : randomInput(type, seed * 1000 + i + 1);
    });

    let ran: Ran;
    if (values.runtime === 'reference') {
      const t0 = performance.now();
      ran = { outputs: interpret(graph, inputs, params()), seconds: (performance.now() - t0) / 1000 };
    } else {
      ran = await runCompiled(graph, values.runtime, inputs, params, repeat);
    }
    const reference = values.compare === 'reference' ? interpret(graph, inputs, params()) : undefined;

    const lines: string[] = [];
    if (ran.setup) lines.push(ran.setup);
    for (const o of graph.outputs) {
      const type = graph.values[o.value].type;
      // A runtime may hand outputs back flat; the graph knows their shape.
      const t = { ...ran.outputs[o.name], shape: [...type.shape] };
      const { sum, abs } = checksum(t);
      let line = `${o.name}: ${type.dtype}[${type.shape.join(', ')}]  sum ${sum.toPrecision(8)}  sum|x| ${abs.toPrecision(8)}`;
      if (reference) {
        const e = errors(t, reference[o.name]);
        line += `  max abs err ${e.abs.toExponential(2)}  max rel err ${e.rel.toExponential(2)}${e.nanMismatch ? `  NaN mismatches ${e.nanMismatch}` : ''}`;
      }
      lines.push(line);
    }
    lines.push(`time: ${ms(ran.seconds)}${repeat > 0 ? ` (best of ${repeat + 1})` : ''} on ${values.runtime === 'reference' ? 'the reference interpreter' : ran.setup!.split(':')[0]}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};

export default run;
