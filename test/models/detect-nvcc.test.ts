// The detect programs (tiny DeFCN without NMS, tiny FCOS with NMS: heads,
// top-k, gathers, the nms kernel, compaction) scheduled for CUDA, rendered
// and compiled by nvcc for sm_90 and sm_75. No GPU needed; skipped without
// nvcc. (Running them on a GPU is test/models/detect.test.ts's job on a
// machine with one.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { compileGraph, renderCuda } from '../../compiler/program.js';
import { cudaTarget } from '../../compiler/target.js';
import { loadConfig } from '../../models/config.js';
import { lowerDetect } from '../../models/detector.js';
import { ARCHS, nvccArch } from '../runtime-cuda/nvcc.js';

const haveNvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { stdio: 'ignore' }).status === 0;
if (!haveNvcc) console.log('SKIP detect programs with nvcc: nvcc not on PATH');

(haveNvcc ? test : test.skip)('detect programs (DeFCN w/o NMS, FCOS w/ NMS) compile with nvcc for sm_90 and sm_75', async () => {
  for (const [name, nms] of [['tiny-defcn', false], ['tiny-fcos', true]] as const) {
    const cfg = loadConfig(name);
    const graph = lowerDetect(cfg, { ...cfg.infer.args, nms_on: nms }, 2, 64, 96);
    assert.ok(graph.nodes.some((n) => n.op === 'nms') === nms);
    for (const arch of ARCHS) {
      const program = compileGraph(graph, cudaTarget({ cudaMath: 'f32', cudaCapability: Number(arch.slice(3)) }));
      const r = await nvccArch(renderCuda(program), arch);
      assert.ok(r.usage.length > 0, `${name} ${arch}`);
    }
  }
});

test.run();
