// A program with tensor-core GEMMs loaded on a GPU below sm_80 is refused at
// load with the kernel's name and the way out, instead of trapping at launch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph } from '../../compiler/program.js';
import { refuseTensorCoresBelowSm80 } from '../../runtime-cuda/runtime.js';
import { TestGraph } from '../compiler/kernel/graphs.js';
import { cudaTarget } from '../../compiler/target.js';

function conv(): TestGraph {
  const t = new TestGraph();
  t.output('y', t.op('conv2d', [t.input('x', [1, 16, 12, 12]), t.param('w', [32, 16, 3, 3]), -1], { stride: [1], padding: [1], groups: 1 }));
  return t;
}

test('tensor-core program on sm_75: refused, naming the kernel and FUSEDET_CUDA_MATH=f32', () => {
  const p = compileGraph(conv().graph, cudaTarget({ cudaMath: 'tf32', cudaCapability: 90 }));
  assert.throws(() => refuseTensorCoresBelowSm80(p, 75, 'Tesla T4'), (e: Error) =>
    /kernel k\d+_conv2d uses tensor cores/.test(e.message) && /Tesla T4 is 7\.5/.test(e.message) && /FUSEDET_CUDA_MATH=f32/.test(e.message));
  refuseTensorCoresBelowSm80(p, 90, 'H100');
});

test('a plain f32 program loads on sm_75', () => {
  const p = compileGraph(conv().graph, cudaTarget({ cudaMath: 'f32', cudaCapability: 75 }));
  refuseTensorCoresBelowSm80(p, 75, 'Tesla T4');
});

test.run();
