// `fusedet demo` (what `npm run demo` runs): the whole tool on the built-in
// data, each step a real fusedet command run in-process, printed as a
// command a user can copy. Everything lands in one folder the demo owns
// (default demo-out/), which it replaces on every run.
import { parseArgs } from 'node:util';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../dispatch.js';
import { main } from '../dispatch.js';
import { UserError } from '../errors.js';

const usage = `usage: fusedet demo [--out DIR] [--quick]

Runs, in order: generate detection scenes from Fashion-MNIST items, check
and summarise them, draw them; check every model; compile ResNet-50 DeFCN
and FCOS and report parameters and FLOPs; run the tiny DeFCN forward on the
CPU runtime against the reference interpreter; train the tiny DeFCN for a
few hundred steps on a fixed batch (loss curve as PNG).

options:
  --out DIR   the demo's own folder, replaced on each run (default: demo-out)
  --quick     fewer images and steps (what the tests run)
`;

const TINY = ['--arg', 'depth=0', '--arg', 'width=4', '--arg', 'C=16', '--arg', 'K=3', '--arg', 'groups=4'];

const demo: Command = {
  name: 'demo',
  summary: 'run the whole tool on the built-in scenes (what `npm run demo` does)',
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { out: { type: 'string', default: 'demo-out' }, quick: { type: 'boolean', default: false } } });
    const out = values.out;
    // The folder is the demo's own; refuse anything that does not look like it.
    if (existsSync(out) && readdirSync(out).some((f) => !['scenes', 'shown', 'train'].includes(f))) {
      throw new UserError(`fusedet demo: ${out} holds files the demo did not write; choose another --out`);
    }
    rmSync(out, { recursive: true, force: true });
    const images = values.quick ? '8' : '64';
    const steps = values.quick ? '20' : '300';
    const modelFiles = ['models/layers.fd', 'models/resnet.fd', 'models/fpn.fd', 'models/fcos.fd', 'models/defcn.fd', 'models/losses.fd', 'models/defcn-train.fd', 'models/fcos-train.fd'];
    const steps_: [string, string[]][] = [
      ['Generate scenes', ['data', 'scenes', '--out', join(out, 'scenes'), '--images', images, '--size', '128', '--crowd', '0.4', '--seed', '0']],
      ['Summarise them', ['data', 'check', join(out, 'scenes', 'annotations.json')]],
      ['Draw them', ['show', '--gt', join(out, 'scenes', 'annotations.json'), '--out', join(out, 'shown'), '--limit', '4']],
      ['Check every model', ['check', ...modelFiles]],
      ['Compile ResNet-50 DeFCN at 800×1216', ['compile', 'models/defcn.fd', '--entry', 'DeFCN', '--input', 'image=f32[1,3,800,1216]']],
      ['Compile ResNet-50 FCOS at 800×1216', ['compile', 'models/fcos.fd', '--entry', 'FCOS', '--input', 'image=f32[1,3,800,1216]']],
      ['Tiny DeFCN forward on the CPU runtime vs the reference', ['run', 'models/defcn.fd', '--entry', 'DeFCN', ...TINY, '--input', 'image=f32[1,3,64,64]', '--runtime', 'cpu', '--compare', 'reference']],
      ['Train the tiny DeFCN on a fixed batch', ['train', 'models/defcn-train.fd', '--entry', 'DeFCNTrain', ...TINY, '--fixed-batch', '--batch', '2', '--size', '64', '--steps', steps, '--lr', '0.01', '--checkpoint-dir', join(out, 'train'), '--checkpoint-every', String(Math.max(10, Number(steps) / 2)), '--no-progress']],
    ];
    for (const [i, [title, args]] of steps_.entries()) {
      process.stdout.write(`\n── ${i + 1}/${steps_.length} ${title}\n$ fusedet ${args.join(' ')}\n`);
      const code = await main(args);
      if (code !== 0) {
        process.stderr.write(`fusedet demo: step ${i + 1} (${title}) failed with exit code ${code}\n`);
        return code;
      }
    }
    process.stdout.write(`\nDone. Look at ${join(out, 'shown')}/*.png (scenes) and ${join(out, 'train')}/loss.png (loss curve).\n`);
    return 0;
  },
};

export default demo;
