// Training in the page: the tiny DeFCN's compiled training step (forward,
// focal + GIoU on a fixed batch, backward, SGD with momentum updating the
// weights in place on the device) runs 20 steps on navigator.gpu in headless
// chromium; each step's loss equals Node's WebGPU run of the same program
// within 1e-4 relative (same WGSL, same SwiftShader), the loss falls, and the
// page's downloaded safetensors hold Node's trained weights (1e-4 of each
// tensor's scale). The step trains on fixed per-location targets (loss_fixed),
// not yet through the assignment.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { initParams } from '../../compiler/init.js';
import { compileGraph } from '../../compiler/program.js';
import { webgpuTarget } from '../../compiler/target.js';
import { randomTensor, tensor, type Tensor } from '../../compiler/tensor.js';
import { fixedBatch } from '../../models/fixed-batch.js';
import { encodeProgramFile } from '../../web/program-file.js';
import { parseSafetensors } from '../../api/safetensors.js';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { tinyStep } from '../train/tiny.js';
import { CHROMIUM, runPage } from './chromium.js';

const STEPS = 20;
const rt = existsSync(CHROMIUM) ? await openOrSkip('test/web/browser-train.test.ts') : undefined;
if (!existsSync(CHROMIUM)) console.log(`SKIP test/web/browser-train.test.ts: ${CHROMIUM} is missing (apt-get install chromium)`);
const browserTest = rt ? test : test.skip;

browserTest('20 training steps in the page equal Node\'s WebGPU run; trained weights download as safetensors', async () => {
  const st = tinyStep(1, 32);
  const program = compileGraph(st.graph, webgpuTarget());
  const params = initParams(st.graph, 3);
  const inputs: Record<string, Tensor> = { ...fixedBatch(st.graph, 3), image: randomTensor([1, 3, 32, 32], 4), lr: tensor('f32', [], [0.01]), loss_scale: tensor('f32', [], [1]) };
  const exe = await rt!.load(program);
  await exe.setParams(params);
  const node: number[] = [];
  for (let i = 0; i < STEPS; i++) node.push((await exe.run(inputs)).loss!.data[0]!);
  const trained = new Map<string, Tensor>();
  for (const p of Object.keys(program.params)) trained.set(p, await exe.getParam(p));
  exe.dispose();
  rt!.destroy();

  const { result, logs, download } = await runPage(`?program=train&steps=${STEPS}`, { 'train.json': encodeProgramFile(program, params, inputs) }, 500_000, { download: true });
  assert.ok(result.ok, `page failed: ${result.error}\n${logs.join('\n')}`);
  const page = result.losses!;
  assert.is(page.length, STEPS);
  page.forEach((l, i) => assert.ok(Math.abs(l - node[i]!) <= 1e-4 * Math.abs(node[i]!), `step ${i}: page ${l}, Node ${node[i]}`));
  assert.ok(page[STEPS - 1]! < page[0]!, `the loss falls: ${page[0]} → ${page[STEPS - 1]}`);
  console.log(`  page loss ${page[0]!.toFixed(4)} → ${page[STEPS - 1]!.toFixed(4)} in ${STEPS} steps (Node ${node[0]!.toFixed(4)} → ${node[STEPS - 1]!.toFixed(4)})`);
  assert.ok(download, 'the page offered the weights');
  const file = parseSafetensors(new Uint8Array(download!), 'trained.safetensors');
  assert.is(file.tensors.size, trained.size);
  for (const [k, want] of trained) {
    const got = file.tensors.get(k)!;
    assert.equal(got.shape, want.shape, k);
    let scale = 1e-6, worst = 0;
    for (let i = 0; i < want.data.length; i++) scale = Math.max(scale, Math.abs(want.data[i]!));
    for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i]! - want.data[i]!));
    assert.ok(worst <= 1e-4 * scale, `${k}: worst |page - Node| ${worst} (scale ${scale})`);
  }
});

test.run();
