// `fusedet compile FILE.fd --entry NAME --input image=f32[1,3,512,512] [--emit graph|kernels]`
import { parseArgs } from 'node:util';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { parseArgSpecs, parseInputSpecs } from '../input-spec.js';
import { checkFilesOrThrow } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { formatBytes, formatCount, summarize } from '../../compiler/summary.js';
import { printGraph } from '../../compiler/print.js';

const usage = `usage: fusedet compile FILE.fd --entry NAME --input NAME=DTYPE[DIMS] [options]

Checks FILE.fd, lowers the entry module's forward function with the given
input shapes and reports on the result.

options:
  --entry NAME          module whose forward function is compiled (required)
  --fn NAME             function of the entry module (default: forward)
  --input SPEC          an entry input, e.g. image=f32[1,3,800,1216] (repeatable)
  --arg NAME=VALUE      a constructor argument of the entry module, e.g. K=80 (repeatable)
  --emit graph|kernels  what to report (default: graph)
  --verbose             print the whole graph, one SSA line per node
  --json                machine-readable output
  --include DIR         also take imports from DIR (repeatable; see fusedet check --help)
`;

const compile: Command = {
  name: 'compile',
  summary: 'lower a model to the graph IR and report ops, parameters, FLOPs and memory',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        entry: { type: 'string' }, fn: { type: 'string' },
        input: { type: 'string', multiple: true, default: [] },
        arg: { type: 'string', multiple: true, default: [] },
        emit: { type: 'string', default: 'graph' },
        verbose: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        include: { type: 'string', multiple: true, default: [] },
      },
    });
    if (positionals.length === 0) throw new UserError(`fusedet compile: no .fd file given\n${usage}`, 2);
    if (!values.entry) throw new UserError('fusedet compile: --entry NAME is required (the module to compile)', 2);
    if (values.emit !== 'graph' && values.emit !== 'kernels') throw new UserError(`fusedet compile: --emit must be graph or kernels, not '${values.emit}'`, 2);
    const inputs = parseInputSpecs(values.input);
    const args = parseArgSpecs(values.arg);

    const program = checkFilesOrThrow(positionals, { include: values.include });
    const graph = lower(program, { entry: values.entry, fn: values.fn, inputs, args });

    if (values.emit === 'kernels') {
      const { compileGraph, fusionReport } = await import('../../compiler/program.js');
      const { CPU } = await import('../../compiler/target.js');
      const { compileOptionsFromEnv } = await import('../../runtime/compile-options.js');
      const prog = compileGraph(graph, CPU, compileOptionsFromEnv(process.env, { fuse: true }));
      process.stdout.write(values.json ? JSON.stringify({ kernels: prog.kernels.length, peakBytes: prog.peakBytes }) + '\n' : fusionReport(prog));
      return 0;
    }
    const s = summarize(graph);
    if (values.json) {
      process.stdout.write(JSON.stringify(values.verbose ? { ...s, graph: printGraph(graph).split('\n') } : s, null, 2) + '\n');
      return 0;
    }
    if (values.verbose) process.stdout.write(printGraph(graph) + '\n');
    const out: string[] = [];
    out.push(`${values.entry}.${values.fn ?? 'forward'}: ${s.nodes} nodes`);
    for (const i of s.inputs) out.push(`  input  ${i.name}: ${i.type.dtype}[${i.type.shape.join(', ')}]`);
    for (const o of s.outputs) out.push(`  output ${o.name}: ${o.type.dtype}[${o.type.shape.join(', ')}]`);
    out.push(`parameters: ${s.params.trainable + s.params.frozen} (${s.params.trainable} trainable, ${s.params.frozen} frozen) in ${s.params.tensors} tensors`);
    out.push(`FLOPs: ${formatCount(s.flops)} (${s.flops})`);
    out.push(`activations: ${formatBytes(s.activationBytes)} in all, ${formatBytes(s.peakLiveBytes)} peak live`);
    out.push('ops by kind: ' + Object.entries(s.opsByKind).map(([k, n]) => `${k} ${n}`).join(', '));
    out.push('ops: ' + Object.entries(s.opsByName).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', '));
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

export default compile;
