// NVRTC through the addon, where a libnvrtc is found (FUSEDET_NVRTC_DIR or the
// usual places; no driver needed): the runtime's compiler choice picks it,
// the tiny DeFCN forward's rendering compiles to an sm_90 cubin in process,
// and a compile error comes back with NVRTC's log and the kept source.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFiles } from '../../dsl/index.js';
import { lower } from '../../compiler/lower.js';
import { compileGraph, renderCuda } from '../../compiler/program.js';
import { chooseCompiler } from '../../runtime-cuda/compile.js';
import { findNvrtc } from '../../runtime-cuda/find.js';
import { tryNativeCuda } from '../../runtime-cuda/native.js';
import { CPU } from '../../compiler/target.js';

process.env.FUSEDET_CACHE_DIR = mkdtempSync(join(tmpdir(), 'fusedet-nvrtc-test-'));
const search = findNvrtc();
const native = tryNativeCuda();
const found = native !== undefined && search.candidates.length > 0;
if (!found) console.log(`SKIP NVRTC compile: no libnvrtc.so* (searched: ${search.searched.join(', ')}; set FUSEDET_NVRTC_DIR)`);

(found ? test : test.skip)('NVRTC is chosen and compiles the tiny DeFCN forward to an sm_90 cubin; errors carry its log; it lists its architectures and emits PTX', async () => {
  const compiler = chooseCompiler(native!, 13000 + 990);
  assert.is(compiler.kind, 'nvrtc');
  const { program, diagnostics } = checkFiles(['models/defcn.fd']);
  if (!program) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const graph = lower(program, { entry: 'DeFCN', inputs: { image: { dtype: 'f32', shape: [1, 3, 64, 64] } }, args: { depth: 0, width: 4, C: 16, K: 3, groups: 4 } });
  const image = await compiler.compile(renderCuda(compileGraph(graph, CPU)), 90);
  assert.equal([...image.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'an ELF cubin');
  let err: Error | undefined;
  try { await compiler.compile('extern "C" __global__ void k() { undeclared(); }', 90); } catch (e) { err = e as Error; }
  assert.is(err?.name, 'CudaCompileError');
  assert.match(err!.message, /NVRTC \d+\.\d+ rejected generated CUDA kernels in .*\.cu\n[\s\S]*identifier "undeclared" is undefined/);
  // The architectures it lists (NVRTC 11.2+), and PTX for a GPU newer than all of them.
  assert.ok(compiler.archs.includes(90), compiler.archs.join(' '));
  const ptx = await compiler.compile('extern "C" __global__ void k(float* b) { b[threadIdx.x] = 1.0f; }', { kind: 'ptx', arch: 90 });
  assert.match(new TextDecoder().decode(ptx), /\.target sm_90/);
  assert.is(ptx[ptx.length - 1], 0, 'NUL-terminated for cuModuleLoadData');
});

test.run();
