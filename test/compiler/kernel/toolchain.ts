// Test helpers around the system compilers: build the C rendering of a
// program into a small executable that runs every launch in order (one
// thread, the whole grid), and compile CUDA renderings with nvcc in one
// process per translation unit.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph } from '../../../compiler/graph.js';
import { Program, renderC } from '../../../compiler/program.js';
import { Tensor, TensorData, allocData } from '../../../compiler/tensor.js';
import { bytesOf } from '../../../compiler/types.js';

export function hasTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** One `run_<tag>(in, out)` function per program: reads every buffer, runs the launches in order, writes them back. */
function harness(program: Program, tag: string): string {
  const lines: string[] = [`static int run_${tag}(const char* in, const char* out) {`];
  const n = program.buffers.length;
  lines.push(`  static const long long bytes[${n}] = {${program.buffers.map((b) => b.bytes).join(', ')}};`);
  lines.push(`  void* mem[${n}];`);
  lines.push(`  FILE* f = fopen(in, "rb");`);
  lines.push(`  for (int i = 0; i < ${n}; i++) { mem[i] = malloc(bytes[i] ? bytes[i] : 1); if (fread(mem[i], 1, bytes[i], f) != (size_t)bytes[i]) return 2; }`);
  lines.push('  fclose(f);');
  program.launches.forEach((l, i) => {
    lines.push(`  { void* b[] = {${l.buffers.map((x) => `mem[${x}]`).join(', ')}}; int64_t a[] = {${[...l.args, 0].join(', ')}}; ${program.kernels[l.kernel].name}(b, a, 0, ${l.grid}); } // launch ${i}`);
  });
  lines.push(`  f = fopen(out, "wb");`);
  lines.push(`  for (int i = 0; i < ${n}; i++) { fwrite(mem[i], 1, bytes[i], f); free(mem[i]); }`);
  lines.push('  fclose(f);\n  return 0;\n}');
  return lines.join('\n') + '\n';
}

export interface CRun { program: Program; graph: Graph; inputs: Readonly<Record<string, Tensor>>; params: Readonly<Record<string, Tensor>> }

/** Kernel names made unique per program, so several programs share one translation unit. */
function tagged(program: Program, tag: string): Program {
  return { ...program, kernels: program.kernels.map((k) => ({ ...k, name: `${tag}_${k.name}`, ir: { ...k.ir, name: `${tag}_${k.ir.name}` } })) };
}

/** Compiles the C rendering of every program with ONE cc process and runs each on its inputs and params. */
export function runCMany(runs: readonly CRun[], flags = ['-O2', '-march=native']): Record<string, Tensor>[] {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-c-'));
  try {
    const progs = runs.map((r, i) => tagged(r.program, `p${i}`));
    // One rendering of all kernels (helpers once), then a harness per program.
    const unit = renderC({ ...progs[0], kernels: progs.flatMap((p) => p.kernels) });
    const src = [unit, '#include <stdio.h>', '#include <string.h>', ...progs.map((p, i) => harness(p, `p${i}`)),
      'int main(int argc, char** argv) {', '  int which = atoi(argv[1]);',
      ...progs.map((_, i) => `  if (which == ${i}) return run_p${i}(argv[2], argv[3]);`), '  return 3;', '}'];
    writeFileSync(join(dir, 'prog.c'), src.join('\n') + '\n');
    execFileSync('cc', [...flags, '-o', join(dir, 'prog'), join(dir, 'prog.c'), '-lm'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return runs.map((r, i) => {
      const program = progs[i];
      const mem: TensorData[] = program.buffers.map((b) => allocData(b.dtype, b.bytes / bytesOf(b.dtype)));
      for (const [name, id] of Object.entries(program.inputs)) mem[id].set(r.inputs[name].data);
      for (const [name, id] of Object.entries(program.params)) mem[id].set(r.params[name].data);
      writeFileSync(join(dir, 'in.bin'), Buffer.concat(mem.map((m) => Buffer.from(m.buffer, m.byteOffset, m.byteLength))));
      execFileSync(join(dir, 'prog'), [String(i), join(dir, 'in.bin'), join(dir, 'out.bin')]);
      const all = readFileSync(join(dir, 'out.bin'));
      let off = 0;
      const back = program.buffers.map((b) => {
        const copy = new Uint8Array(all.subarray(off, off + b.bytes)).buffer;
        off += b.bytes;
        return b.dtype === 'f32' ? new Float32Array(copy) : b.dtype === 'i32' ? new Int32Array(copy) : new Uint8Array(copy);
      });
      const out: Record<string, Tensor> = {};
      for (const o of r.graph.outputs) {
        const t = r.graph.values[o.value].type;
        const len = t.shape.reduce((a, b) => a * b, 1);
        out[o.name] = { dtype: t.dtype, shape: [...t.shape], data: back[program.outputs[o.name]].slice(0, len) };
      }
      return out;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One program through cc (see runCMany). */
export function runC(program: Program, graph: Graph, inputs: Readonly<Record<string, Tensor>>, params: Readonly<Record<string, Tensor>>, flags = ['-O2', '-march=native']): Record<string, Tensor> {
  return runCMany([{ program, graph, inputs, params }], flags)[0];
}

export const CUDA_ARCHS = ['sm_90', 'sm_75'];

/** Compiles one .cu for every arch in one nvcc process; returns nvcc's --resource-usage text. Throws with the message on error. */
export function nvccCompile(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-cu-'));
  try {
    const file = join(dir, 'unit.cu');
    writeFileSync(file, source);
    const gencode = CUDA_ARCHS.flatMap((a) => ['-gencode', `arch=compute_${a.slice(3)},code=${a}`]);
    const r = spawnSync('nvcc', ['-c', '-o', join(dir, 'unit.o'), '--resource-usage', ...gencode, file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nvcc failed on ${file}:\n${r.stderr}\n--- source ---\n${source.split('\n').map((l, i) => `${i + 1}: ${l}`).join('\n')}`);
    return r.stderr + r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** nvccCompile without blocking, so several translation units compile in parallel. */
export function nvccCompileAsync(source: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fusedet-cu-'));
  const file = join(dir, 'unit.cu');
  writeFileSync(file, source);
  const gencode = CUDA_ARCHS.flatMap((a) => ['-gencode', `arch=compute_${a.slice(3)},code=${a}`]);
  return new Promise((resolve, reject) => {
    const child = spawn('nvcc', ['-c', '-o', join(dir, 'unit.o'), '--resource-usage', ...gencode, file]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code === 0) resolve(out);
      else reject(new Error(`nvcc failed:\n${out}\n--- source ---\n${source.split('\n').map((l, i) => `${i + 1}: ${l}`).join('\n')}`));
    });
  });
}
