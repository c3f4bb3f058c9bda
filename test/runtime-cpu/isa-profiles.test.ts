// The CPU kernels shaped for each vector instruction set (compiler/target.ts
// cpuIsaProfile: AVX-512, AVX2+FMA, plain C) are correct on this machine:
// convolutions (3×3, stride 2, padding, groups, 1×1 as a plain GEMM) and
// matmuls with ragged sizes, each profile's program compiled by the C
// compiler and run by the CPU runtime, against the ops' references. The
// rendered C uses the profile's vector type and no wider one; the kernel-IR
// interpreter runs the same programs with every array access bounds-checked. Also: the
// profile picked from /proc/cpuinfo flags, and FUSEDET_CPU_ISA checked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGraph } from '../../compiler/program.js';
import { renderC } from '../../compiler/render/c.js';
import { type CpuIsa, cpuIsaProfile, cpuTarget, TargetError } from '../../compiler/target.js';
import { CpuRuntime } from '../../runtime-cpu/runtime.js';
import { cpuIsaFromEnv, isaFromFlags, machineCpuIsa } from '../../runtime-cpu/isa.js';
import { TestGraph } from '../compiler/kernel/graphs.js';
import { checkCpuAndInterpreter } from './cpu-and-interpreter.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-isa-test-'));

function graph(): TestGraph {
  const t = new TestGraph();
  const x = t.input('x', [2, 12, 11, 13]);
  t.output('c3', t.op('relu', [t.op('conv2d', [x, t.param('w3', [20, 12, 3, 3]), t.param('b3', [20])], { stride: [1], padding: [1], dilation: [1], groups: 1 })]));
  t.output('c3s2', t.op('conv2d', [x, t.param('w2', [70, 12, 3, 3])], { stride: [2], padding: [1], dilation: [1], groups: 1 }));
  t.output('cg', t.op('conv2d', [x, t.param('wg', [9, 4, 3, 3])], { stride: [1], padding: [2], dilation: [2], groups: 3 }));
  t.output('c1', t.op('conv2d', [x, t.param('w1', [33, 12, 1, 1])], { stride: [1], padding: [0], dilation: [1], groups: 1 }));
  t.output('mm', t.op('matmul', [t.input('a', [37, 29]), t.input('b', [29, 71])]));
  return t;
}

for (const isa of ['avx512', 'avx2', 'generic'] as CpuIsa[]) {
  test(`${isa} profile: convolutions and matmuls equal the reference`, async () => {
    const t = graph();
    const program = compileGraph(t.graph, cpuTarget(cpuIsaProfile(isa)));
    const src = renderC(program);
    const lanes = cpuIsaProfile(isa).vectorWidth;
    assert.ok(src.includes(`v${lanes}f`), `the ${isa} GEMM uses ${lanes}-lane vectors`);
    for (const wider of [8, 16].filter((w) => w > lanes)) assert.not.ok(src.includes(`v${wider}f `), `no ${wider}-lane vectors in the ${isa} profile`);
    await checkCpuAndInterpreter(t, program, 1e-4, 1e-4, isa);
  });
}

// Stride-1 "same" convolutions pack runs of the input with lanes outside the
// image masked (conv-packing.kernel.ts maskedRunPacking): AVX-512 loads under a mask,
// other machines take the renderer's scalar fallback. Both, on this machine,
// with the C compiler told to leave AVX-512 out for the second.
for (const [isa, flags] of [['avx512', ''], ['avx512', '-mno-avx512f'], ['avx2', '-mno-avx512f']] as [CpuIsa, string][]) {
  test(`masked packing runs (${isa} profile${flags ? `, ${flags}` : ''}) equal the reference`, async () => {
    const t = graph();
    const program = compileGraph(t.graph, cpuTarget(cpuIsaProfile(isa)));
    assert.ok(renderC(program).includes(`vload${cpuIsaProfile(isa).vectorWidth}_mask(`), 'the 3×3 padding-1 conv packs masked runs');
    const saved = process.env.FUSEDET_CFLAGS;
    process.env.FUSEDET_CFLAGS = flags;
    try {
      await checkCpuAndInterpreter(t, program, 1e-4, 1e-4, `${isa} ${flags}`);
    } finally {
      if (saved === undefined) delete process.env.FUSEDET_CFLAGS; else process.env.FUSEDET_CFLAGS = saved;
    }
  });
}

test('the profile follows the CPU flags; FUSEDET_CPU_ISA forces one and refuses a wrong name', () => {
  assert.is(isaFromFlags(new Set(['sse2', 'avx', 'avx2', 'fma', 'avx512f'])), 'avx512');
  assert.is(isaFromFlags(new Set(['sse2', 'avx', 'avx2', 'fma'])), 'avx2');
  assert.is(isaFromFlags(new Set(['sse2', 'avx', 'avx2'])), 'generic', 'AVX2 without FMA is not the FMA profile');
  assert.is(isaFromFlags(new Set()), 'generic');
  assert.is(cpuIsaFromEnv({}), machineCpuIsa());
  assert.is(cpuIsaFromEnv({ FUSEDET_CPU_ISA: 'avx2' }), 'avx2');
  assert.throws(() => cpuIsaFromEnv({ FUSEDET_CPU_ISA: 'sse9' }), (e: unknown) => e instanceof TargetError && /FUSEDET_CPU_ISA='sse9'/.test((e as Error).message));
  const saved = process.env.FUSEDET_CPU_ISA;
  process.env.FUSEDET_CPU_ISA = 'generic';
  try {
    const rt = new CpuRuntime();
    assert.is(rt.target.cpuIsa, 'generic');
    assert.is(rt.target.vectorWidth, 4);
  } finally {
    if (saved === undefined) delete process.env.FUSEDET_CPU_ISA; else process.env.FUSEDET_CPU_ISA = saved;
  }
});

test.run();
