// Training in the page through the assignment: the small DeFCN's compiled
// ground-truth training step (models/defcn-train.fd `loss(image, gt_boxes,
// gt_classes, gt_count)`: forward, POTO's one-to-one match and the
// Quality-ATSS auxiliary targets on the device, focal + GIoU + auxiliary
// losses, backward, SGD with momentum updating the weights in place) runs 20
// steps on navigator.gpu in headless chromium on one generated scene
// (data/scenes: Fashion-MNIST items on a procedural background, its boxes and
// labels as the ground truth). Each step's loss equals Node's WebGPU run of
// the same program and batch within 1e-4 relative (same WGSL, same
// SwiftShader; the match is discrete, so a real difference shows as a jump,
// not as rounding), the loss falls, and the page's downloaded safetensors
// hold Node's trained weights (within 1e-4 of each tensor's scale).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { differentiate } from '../../compiler/autodiff.js';
import { initParams } from '../../compiler/init.js';
import { lower } from '../../compiler/lower.js';
import { DEFAULT_SGD } from '../../compiler/optimizer.js';
import { compileGraph } from '../../compiler/program.js';
import { webgpuTarget } from '../../compiler/target.js';
import { tensor, type Tensor } from '../../compiler/tensor.js';
import { buildTrainStep } from '../../compiler/train-step.js';
import { checkFilesOrThrow } from '../../dsl/index.js';
import { loadFashionItems } from '../../data/fashion-mnist/reader.js';
import { composeScene } from '../../data/scenes/compose.js';
import { Rng } from '../../data/scenes/rng.js';
import { encodeProgramFile } from '../../web/program-file.js';
import { parseSafetensors } from '../../api/safetensors.js';
import { openOrSkip } from '../runtime-webgpu/open.js';
import { CHROMIUM, runPage } from './chromium.js';

const STEPS = 20;
const LOSS_TOLERANCE = 1e-4; // relative, per step
// SwiftShader builds the step's 339 kernels in the page: minutes on a quiet 2-core machine, many more on a loaded one.
const PAGE_TIMEOUT_MS = 1_800_000;
const SIZE = 64; // 86 locations over P3–P7: room for every object of the scene
// The tiny DeFCN (TinyResNet width 4, 8 channels, GroupNorm 4), the scene's 10 Fashion-MNIST classes; 3DMF and Quality-ATSS at their defaults.
const ARGS = { depth: 0, width: 4, C: 8, K: 10, groups: 4 };
const MEAN = [0.485, 0.456, 0.406], STD = [0.229, 0.224, 0.225];

/** One generated scene as the step's batch: the normalised image and its objects' full boxes (x1, y1, x2, y2) and labels. */
function sceneBatch(seed: number): { inputs: Record<string, Tensor>; objects: number } {
  const scene = composeScene(loadFashionItems(), SIZE, 0.5, new Rng(seed, 1), new Map());
  const n = SIZE * SIZE, image = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) image[c * n + i] = (scene.rgb[3 * i + c]! / 255 - MEAN[c]!) / STD[c]!;
  const G = scene.objects.length;
  const boxes = scene.objects.flatMap((o) => { const [x, y, w, h] = o.fbox; return [x, y, x + w, y + h]; });
  return {
    inputs: {
      image: tensor('f32', [1, 3, SIZE, SIZE], image),
      gt_boxes: tensor('f32', [1, G, 4], boxes),
      gt_classes: tensor('i32', [1, G], scene.objects.map((o) => o.label)),
      gt_count: tensor('i32', [1], [G]),
    },
    objects: G,
  };
}

/** The batch padded to the step's bucketed G (rows past gt_count are zeros, as the loader pads). */
function padded(batch: Record<string, Tensor>, G: number): Record<string, Tensor> {
  const n = batch.gt_count!.data[0]!;
  const boxes = new Array<number>(G * 4).fill(0), classes = new Array<number>(G).fill(0);
  for (let i = 0; i < n * 4; i++) boxes[i] = batch.gt_boxes!.data[i]!;
  for (let i = 0; i < n; i++) classes[i] = batch.gt_classes!.data[i]!;
  return { ...batch, gt_boxes: tensor('f32', [1, G, 4], boxes), gt_classes: tensor('i32', [1, G], classes) };
}

const rt = existsSync(CHROMIUM) ? await openOrSkip('test/web/browser-train.test.ts') : undefined;
if (!existsSync(CHROMIUM)) console.log(`SKIP test/web/browser-train.test.ts: ${CHROMIUM} is missing (apt-get install chromium)`);
const browserTest = rt ? test : test.skip;

browserTest('20 ground-truth training steps (assignment inside) in the page equal Node\'s WebGPU run; trained weights download as safetensors', async () => {
  const scene = sceneBatch(11);
  assert.ok(scene.objects >= 2, `the scene has ${scene.objects} objects; the test wants a few to assign`);
  const graph = lower(checkFilesOrThrow(['models/defcn-train.fd']), {
    entry: 'DeFCNTrain', fn: 'loss', args: ARGS,
    inputs: {
      image: { dtype: 'f32', shape: [1, 3, SIZE, SIZE] }, gt_boxes: { dtype: 'f32', shape: [1, scene.objects, 4] },
      gt_classes: { dtype: 'i32', shape: [1, scene.objects] }, gt_count: { dtype: 'i32', shape: [1] },
    },
  });
  const st = buildTrainStep(graph, { sgd: DEFAULT_SGD, differentiate });
  const G = st.graph.values[st.graph.inputs.find((i) => i.name === 'gt_boxes')!.value]!.type.shape[1] as number;
  const program = compileGraph(st.graph, webgpuTarget());
  const params = initParams(st.graph, 3);
  const inputs: Record<string, Tensor> = { ...padded(scene.inputs, G), lr: tensor('f32', [], [0.01]), loss_scale: tensor('f32', [], [1]) };
  const exe = await rt!.load(program);
  await exe.setParams(params);
  const node: number[] = [];
  for (let i = 0; i < STEPS; i++) node.push((await exe.run(inputs)).loss!.data[0]!);
  const trained = new Map<string, Tensor>();
  for (const p of Object.keys(program.params)) trained.set(p, await exe.getParam(p));
  exe.dispose();
  rt!.destroy();

  const { result, logs, download } = await runPage(`?program=train&steps=${STEPS}`, { 'train.json': encodeProgramFile(program, params, inputs) }, PAGE_TIMEOUT_MS, { download: true });
  assert.ok(result.ok, `page failed: ${result.error}\n${logs.join('\n')}`);
  const page = result.losses!;
  assert.is(page.length, STEPS);
  page.forEach((l, i) => assert.ok(Number.isFinite(l) && Math.abs(l - node[i]!) <= LOSS_TOLERANCE * Math.abs(node[i]!), `step ${i}: page ${l}, Node ${node[i]} (tolerance ${LOSS_TOLERANCE} relative)`));
  assert.ok(page[STEPS - 1]! < page[0]!, `the loss falls: ${page[0]} → ${page[STEPS - 1]}`);
  console.log(`  scene: ${scene.objects} objects (G bucket ${G}); page loss ${page[0]!.toFixed(4)} → ${page[STEPS - 1]!.toFixed(4)} in ${STEPS} steps (Node ${node[0]!.toFixed(4)} → ${node[STEPS - 1]!.toFixed(4)})`);
  assert.ok(download, 'the page offered the weights');
  const file = parseSafetensors(new Uint8Array(download!), 'trained.safetensors');
  assert.is(file.tensors.size, trained.size);
  assert.ok(trained.size > 0);
  for (const [k, want] of trained) {
    const got = file.tensors.get(k);
    assert.ok(got, `${k}: missing from the download`);
    assert.equal(got!.shape, want.shape, k);
    let scale = 1e-6, worst = 0;
    for (let i = 0; i < want.data.length; i++) scale = Math.max(scale, Math.abs(want.data[i]!));
    for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(got!.data[i]! - want.data[i]!));
    assert.ok(worst <= 1e-4 * scale, `${k}: worst |page - Node| ${worst} (scale ${scale})`);
  }
  // The step changed the weights: the download is the trained state, not the initial one.
  const moved = [...trained].some(([k, t]) => params.get(k)?.data.some((v, i) => v !== t.data[i]));
  assert.ok(moved, 'no weight changed in 20 steps');
});

test.run();
