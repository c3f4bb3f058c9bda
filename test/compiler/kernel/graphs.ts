// Test helpers: build graphs op by op (types from each op's own shape rule),
// evaluate them with the ops' references, run compiled programs on the
// kernel-IR interpreter, and compare.
import { GraphBuilder, Graph } from '../../../compiler/graph.js';
import { OPS } from '../../../compiler/ops/index.js';
import { withDefaults } from '../../../compiler/ops/attrs.js';
import { Attrs, ShapeContext } from '../../../compiler/ops/op.js';
import { Tensor, randomTensor, zeros } from '../../../compiler/tensor.js';
import { ConcreteType, NO_SPAN } from '../../../compiler/types.js';
import { compileGraph, CompileOptions, Program } from '../../../compiler/program.js';
import { runProgram } from '../../../compiler/kernel/run-program.js';
import { CPU, Target } from '../../../compiler/target.js';
import { sameNonFinite } from '../../helpers/compare.js';
import { Kernel } from '../../../compiler/kernel/ir.js';
import { kernelHash } from '../../../compiler/kernel/hash.js';

const ctx: ShapeContext = { requireEqual() {}, requireAtLeast() {} };

export class TestGraph {
  readonly b = new GraphBuilder();
  readonly inputs: Record<string, Tensor> = {};
  readonly params: Record<string, Tensor> = {};
  private seed = 1;

  get graph(): Graph { return this.b.graph; }
  type(v: number): ConcreteType { return this.b.graph.values[v].type; }

  input(name: string, shape: number[], lo = -1, hi = 1): number {
    this.inputs[name] = randomTensor(shape, this.seed++, lo, hi);
    return this.b.input(name, { dtype: 'f32', shape }, NO_SPAN);
  }
  param(name: string, shape: number[], lo = -1, hi = 1): number {
    this.params[name] = randomTensor(shape, this.seed++, lo, hi);
    return this.b.param(name, { dtype: 'f32', shape }, { kind: 'zeros' }, false, NO_SPAN, '');
  }
  constant(value: number, type: ConcreteType = { dtype: 'f32', shape: [] }): number { return this.b.constant(value, type, NO_SPAN, ''); }

  ops(name: string, inputs: number[], attrs: Attrs = {}): number[] {
    const def = OPS[name];
    if (!def) throw new Error(`no op ${name}`);
    const full = withDefaults(def, attrs);
    const types = def.shape(inputs.map((v) => (v < 0 ? undefined : this.type(v))), full, ctx);
    return this.b.node(name, inputs, full, types.map((t) => ({ dtype: t.dtype, shape: t.shape.map(Number) })), NO_SPAN, '');
  }
  op(name: string, inputs: number[], attrs: Attrs = {}): number { return this.ops(name, inputs, attrs)[0]; }
  output(name: string, v: number): void { this.b.output(name, v); }
}

/** The graph evaluated op by op with each op's reference. */
export function referenceRun(t: TestGraph): Record<string, Tensor> {
  const g = t.graph;
  const vals: Tensor[] = [];
  for (const n of g.nodes) {
    if (n.op === 'input') { vals[n.outputs[0]] = t.inputs[String(n.attrs.name)]; continue; }
    if (n.op === 'param') { vals[n.outputs[0]] = t.params[g.params.find((p) => p.value === n.outputs[0])!.name]; continue; }
    if (n.op === 'const') {
      const ty = g.values[n.outputs[0]].type;
      const z = zeros(ty.dtype, ty.shape);
      z.data.fill(Number(n.attrs.value));
      vals[n.outputs[0]] = z;
      continue;
    }
    const outs = OPS[n.op].reference(n.inputs.map((v) => (v < 0 ? undefined : vals[v])), n.attrs);
    n.outputs.forEach((v, i) => { vals[v] = outs[i]; });
  }
  return Object.fromEntries(g.outputs.map((o) => [o.name, vals[o.value]]));
}

export function compileAndRun(t: TestGraph, target: Target, opts: CompileOptions = {}): { program: Program; outputs: Record<string, Tensor> } {
  const program = compileGraph(t.graph, target, opts);
  return { program, outputs: runProgram(program, t.graph, t.inputs, t.params) };
}

/**
 * Largest |a - b| / (atol + rtol |b|). Non-finite values must match exactly
 * (NaN with NaN, each infinity with itself): |a - Inf| / Inf is NaN, which
 * must not pass as a small error. Returns a message or '' when within 1.
 */
export function compare(got: Tensor, want: Tensor, atol = 1e-4, rtol = 1e-4): string {
  if (got.data.length !== want.data.length) return `length ${got.data.length} vs ${want.data.length}`;
  let worst = 0, at = -1;
  for (let i = 0; i < want.data.length; i++) {
    const a = got.data[i], b = want.data[i];
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      if (!sameNonFinite(a, b)) return `non-finite mismatch at ${i}: got ${a}, want ${b}`;
      continue;
    }
    if (a === b) continue;
    const e = Math.abs(a - b) / (atol + rtol * Math.abs(b));
    if (!(e <= worst)) { worst = e; at = i; }
  }
  return !(worst <= 1) ? `at ${at}: got ${got.data[at]}, want ${want.data[at]} (error ${worst.toFixed(2)}× tolerance)` : '';
}

/** Compile fused and unfused, run both on the interpreter, compare every output with the reference. */
export function checkBoth(t: TestGraph, atol = 1e-4, rtol = 1e-4): { fused: Program; unfused: Program } {
  const want = referenceRun(t);
  const res: Program[] = [];
  for (const fuse of [true, false]) {
    const { program, outputs } = compileAndRun(t, CPU, { fuse });
    for (const [name, w] of Object.entries(want)) {
      const msg = compare(outputs[name], w, atol, rtol);
      if (msg) throw new Error(`${fuse ? 'fused' : 'unfused'} output '${name}': ${msg}`);
    }
    res.push(program);
  }
  return { fused: res[0], unfused: res[1] };
}

/** Deterministic integer in [lo, hi]. */
export function pick(next: () => number, lo: number, hi: number): number { return lo + Math.floor(next() * (hi - lo + 1)); }

/** A hand-written kernel as a one-launch program over `bufs` (in its buffer order: inputs and outputs by name, dense f32/i32 vectors). */
export function oneLaunchProgram(k: Kernel, bufs: readonly { name: string; role: 'input' | 'output'; dtype: 'f32' | 'i32'; n: number }[], grid: number): Program {
  const named = (role: 'input' | 'output'): Record<string, number> => Object.fromEntries(bufs.flatMap((b, id) => (b.role === role ? [[b.name, id]] : [])));
  return {
    buffers: bufs.map((b, id) => ({ id, bytes: 4 * b.n, dtype: b.dtype, role: b.role, name: b.name, shape: [b.n] })),
    kernels: [{ name: k.name, hash: kernelHash(k), ir: k, workgroupSize: k.workgroupSize }],
    launches: [{ kernel: 0, buffers: bufs.map((_, id) => id), args: [], grid }],
    inputs: named('input'), outputs: named('output'), params: {},
    peakBytes: bufs.reduce((s, b) => s + 4 * b.n, 0),
  };
}
