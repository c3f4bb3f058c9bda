// Every kernel of the programs the test suite builds, scheduled for the cuda
// target (compileGraph's GEMM tile profile) and for each architecture's
// compute capability (sm_90: TF32 tensor-core GEMMs, gemm-mma.ts; sm_75, which
// has no TF32 mma: the plain f32 GEMMs), rendered by renderCuda and compiled
// by nvcc for that architecture (one process per architecture per
// translation unit): the tiny DeFCN forward, the ResNet-50-FPN DeFCN forward
// at 800×1216 and the tiny training step. Registers, spills and stack per
// kernel are printed and written to test/runtime-cuda/cuda-resources.txt
// with FUSEDET_UPDATE_SNAPSHOTS=1 (the snapshot units are covered by
// test/compiler/render-snapshot-cuda.test.ts). nvcc results are cached by
// source hash, so a warm run costs nothing; a cold one ~2 min of CPU.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { compileGraph, renderCuda } from '../../compiler/program.js';
import type { Program } from '../../compiler/program.js';
import { tinyStep } from '../train/tiny.js';
import { ARCHS, KernelResources, limited, nvccArch, parseResources } from './nvcc.js';
import { cudaMathFromEnv, cudaTarget, type Target } from '../../compiler/target.js';

const reportPath = fileURLToPath(new URL('../../../test/runtime-cuda/cuda-resources.txt', import.meta.url));
const haveNvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { stdio: 'ignore' }).status === 0;

function defcn(shape: number[], args: Record<string, number>, target: Target): Program {
  const { program, diagnostics } = checkFiles(['models/defcn.fd']);
  if (!program) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return compileGraph(lower(program, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape } }, args }), target);
}

/** The programs, or the reason one cannot be compiled to kernels yet. */
function programs(target: Target): { name: string; program?: Program; skipped?: string }[] {
  // Every op of the three has a CUDA kernel now: a compile error fails the test.
  return [
    { name: 'defcn-tiny-64', program: defcn([1, 3, 64, 64], { depth: 0, width: 4, C: 16, K: 3, groups: 4 }, target) },
    { name: 'defcn-r50-fpn-800x1216', program: defcn([1, 3, 800, 1216], { depth: 50 }, target) },
    { name: 'train-step-tiny-32', program: compileGraph(tinyStep().graph, target) },
  ];
}

function table(name: string, rows: readonly KernelResources[]): string[] {
  const sorted = [...rows].sort((a, b) => a.kernel.localeCompare(b.kernel) || a.arch.localeCompare(b.arch));
  return [`# ${name}`, ...sorted.map((r) => `${r.kernel} ${r.arch}: ${r.registers} registers, stack ${r.stack} B, spill stores ${r.spillStores} B, spill loads ${r.spillLoads} B, smem ${r.smem} B`)];
}

if (!haveNvcc) console.log('SKIP CUDA compile of the test programs: nvcc not on PATH');
(haveNvcc ? test : test.skip)('every kernel of the test programs compiles with nvcc for sm_90 and sm_75', async () => {
  // The math stays the default (tf32, or FUSEDET_CUDA_MATH); the capability is the architecture's.
  const math = cudaMathFromEnv(process.env);
  const perArch = new Map(ARCHS.map((arch) => [arch, programs(cudaTarget({ cudaMath: math, cudaCapability: Number(arch.slice(3)) }))]));
  const progs = perArch.get(ARCHS[0])!;
  const report: string[] = [];
  const tasks: { name: string; arch: string; source: string }[] = [];
  for (const p of progs) {
    if (!p.program) { console.log(`SKIP ${p.name}: ${p.skipped}`); report.push(`# ${p.name}: not compiled to kernels yet (${p.skipped})`, ''); continue; }
    for (const arch of ARCHS) tasks.push({ name: p.name, arch, source: renderCuda(perArch.get(arch)!.find((q) => q.name === p.name)!.program!) });
  }
  const t0 = performance.now();
  const results = await limited(tasks.map((t) => () => nvccArch(t.source, t.arch)), 2);
  console.log(`nvcc: ${results.filter((r) => !r.cached).length} of ${results.length} unit×arch compiled now (${((performance.now() - t0) / 1000).toFixed(1)} s), the rest cached`);
  for (const p of progs) {
    if (!p.program) continue;
    const rows = results.filter((_, i) => tasks[i].name === p.name).flatMap((r) => parseResources(r.usage));
    for (const arch of ARCHS) {
      const names = new Set(rows.filter((r) => r.arch === arch).map((r) => r.kernel));
      const missing = perArch.get(arch)!.find((q) => q.name === p.name)!.program!.kernels.filter((k) => !names.has(k.name)).map((k) => k.name);
      assert.equal(missing, [], `${p.name} ${arch}: kernels without a resource line`);
    }
    const spilling = rows.filter((r) => r.spillStores > 0 || r.spillLoads > 0);
    const worst = rows.reduce((m, r) => (r.registers > m.registers ? r : m), rows[0]);
    const sources = new Map(tasks.filter((t) => t.name === p.name).map((t) => [t.arch, t.source]));
    assert.not.ok(sources.get('sm_75')!.includes('fd_mma_'), `${p.name}: no tensor-core mma for sm_75`);
    const tensorCore = tasks.filter((t) => t.name === p.name).map((t) => `${t.arch} ${(t.source.match(/^\s*fd_mma_/gm) ?? []).length} mma sites`).join(', ');
    console.log(`${p.name}: ${p.program.kernels.length} kernels × ${ARCHS.length} archs (${tensorCore}); most registers ${worst.registers} (${worst.kernel} ${worst.arch}); ${spilling.length} kernel×arch spill`);
    report.push(...table(p.name, rows), '');
  }
  if (process.env.FUSEDET_UPDATE_SNAPSHOTS === '1') {
    writeFileSync(reportPath + '.tmp', report.join('\n'));
    renameSync(reportPath + '.tmp', reportPath);
  } else {
    // The committed table is a snapshot: registers, stack, spills and shared
    // memory per kernel and architecture, as this nvcc builds them now.
    assert.fixture(report.join('\n'), existsSync(reportPath) ? readFileSync(reportPath, 'utf8') : '',
      'test/runtime-cuda/cuda-resources.txt differs from this build (rerun with FUSEDET_UPDATE_SNAPSHOTS=1 and review the diff)');
  }
});

test.run();
