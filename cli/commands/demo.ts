// `fusedet demo` (what `npm run demo` runs): the paper's head-to-head on
// generated crowded scenes, on the CPU runtime. Generates a training set and
// a test set of another seed, trains the small DeFCN (POTO + 3DMF + Aux) and
// the small FCOS (no centerness, Table 1's baseline row), evaluates both
// with and without NMS, prints the Table-1-shaped table (JSON beside it) and
// draws detections of both models side by side. Each step that is a fusedet
// command runs in-process and is printed as a command a user can copy.
// Everything lands in one folder the demo owns (default demo-out/), which it
// replaces on every run.
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../dispatch.js';
import { main } from '../dispatch.js';
import { UserError } from '../errors.js';

const usage = `usage: fusedet demo [--out DIR] [--fast] [--runtime R]

Generates crowded detection scenes (Fashion-MNIST items, crowd 0.8) for
training and, from another seed, for testing; trains the small DeFCN
(configs/small-defcn.json: POTO + 3DMF + Aux) and the small FCOS
(configs/small-fcos.json: no centerness); runs both on the test scenes with
and without NMS; prints AP, AP50, AR100 (COCO) and AP50, mMR, recall
(CrowdHuman protocol) with NMS, without, and the difference; writes
DIR/table.txt, DIR/table.json and DIR/detections.png (ground truth and both
models side by side). About 10 minutes on 2 CPU cores.

options:
  --out DIR     the demo's own folder, replaced on each run (default: demo-out)
  --fast        tiny models, images and schedules (about a minute of training;
                what the tests run)
  --runtime R   cpu (default; deterministic), webgpu, cuda, auto, or reference
                (the interpreter: slow, for checking)
`;

/** The two sizes of the demo: scenes, configs, what to draw. */
const MODES = {
  full: { train: 600, test: 100, size: 128, defcn: 'small-defcn', fcos: 'small-fcos', scale: 2 },
  fast: { train: 32, test: 8, size: 64, defcn: 'tiny-defcn', fcos: 'tiny-fcos', scale: 3 },
} as const;
const CROWD = '0.8';
const OWN = ['scenes-train', 'scenes-test', 'defcn', 'fcos', 'eval-defcn', 'eval-fcos', 'table.txt', 'table.json', 'detections.png'];

async function step(title: string, args: string[]): Promise<void> {
  process.stdout.write(`\n── ${title}\n$ fusedet ${args.join(' ')}\n`);
  const code = await main(args);
  if (code !== 0) throw new UserError(`fusedet demo: '${title}' failed with exit code ${code}`, code);
}

/** Mean of the first and of the last fifth of the logged losses. */
export function lossDrop(logPath: string): { first: number; last: number } {
  const entries = (JSON.parse(readFileSync(logPath, 'utf8')) as { entries: { scalars: { loss: number } }[] }).entries;
  const k = Math.max(1, Math.floor(entries.length / 5));
  const mean = (xs: { scalars: { loss: number } }[]): number => xs.reduce((s, e) => s + e.scalars.loss, 0) / xs.length;
  return { first: mean(entries.slice(0, k)), last: mean(entries.slice(-k)) };
}

const demo: Command = {
  name: 'demo',
  summary: 'DeFCN without NMS vs FCOS with NMS on generated crowded scenes, trained on the CPU (what `npm run demo` does)',
  usage,
  async run(argv) {
    let values;
    try {
      ({ values } = parseArgs({ args: argv, options: { out: { type: 'string', default: 'demo-out' }, fast: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false }, runtime: { type: 'string', default: 'cpu' } } }));
    } catch (e) {
      throw new UserError(`fusedet demo: ${(e as Error).message}\n${usage}`, 2);
    }
    if (!['cpu', 'webgpu', 'cuda', 'auto', 'reference'].includes(values.runtime)) throw new UserError(`fusedet demo: --runtime must be cpu, webgpu, cuda, auto or reference, not '${values.runtime}'`, 2);
    const out = values.out;
    const mode = MODES[values.fast || values.quick ? 'fast' : 'full'];
    // The folder is the demo's own; refuse anything that does not look like it.
    if (existsSync(out) && readdirSync(out).some((f) => !OWN.includes(f))) {
      throw new UserError(`fusedet demo: ${out} holds files the demo did not write; choose another --out`);
    }
    rmSync(out, { recursive: true, force: true });
    const t0 = performance.now();
    const seconds: Record<string, number> = {};
    const timed = async (name: string, f: () => Promise<void>): Promise<void> => {
      const t = performance.now();
      await f();
      seconds[name] = Math.round((performance.now() - t) / 100) / 10;
    };
    const trainDir = join(out, 'scenes-train'), testDir = join(out, 'scenes-test');
    await timed('scenes', async () => {
      await step('Generate training scenes', ['data', 'scenes', '--out', trainDir, '--images', String(mode.train), '--size', String(mode.size), '--crowd', CROWD, '--seed', '0']);
      await step('Generate test scenes (another seed)', ['data', 'scenes', '--out', testDir, '--images', String(mode.test), '--size', String(mode.size), '--crowd', CROWD, '--seed', '1']);
    });
    const models = [
      { key: 'defcn', config: mode.defcn, label: 'DeFCN (POTO+3DMF+Aux)' },
      { key: 'fcos', config: mode.fcos, label: 'FCOS (no centerness)' },
    ];
    for (const m of models) {
      await timed(`train-${m.key}`, () => step(`Train ${m.label} (configs/${m.config}.json) on the ${values.runtime} runtime`,
        ['train', '--config', m.config, '--data', join(trainDir, 'annotations.json'), '--out', join(out, m.key), '--runtime', values.runtime]));
    }

    const { openTestSet, evaluateModel, formatTable, tableJson, drawSideBySide } = await import('./demo-eval.js');
    const { latestCheckpoint } = await import('../../models/checkpoint/store.js');
    const test = await openTestSet(join(testDir, 'annotations.json'));
    const results: import('./demo-eval.js').ModelResult[] = [];
    for (const m of models) {
      const weights = latestCheckpoint(join(out, m.key))!;
      process.stdout.write(`\n── Evaluate ${m.label} with and without NMS on ${test.images.length} test scenes\n$ fusedet eval --weights ${weights} --data ${join(testDir, 'annotations.json')} --nms both --protocol both\n`);
      await timed(`eval-${m.key}`, async () => {
        results.push(await evaluateModel({ label: m.label, config: m.config, weights, test, out: join(out, `eval-${m.key}`), runtime: values.runtime }));
      });
    }
    const table = formatTable(results);
    const losses = Object.fromEntries(models.map((m) => [m.key, lossDrop(join(out, m.key, 'log.json'))]));
    seconds.total = Math.round((performance.now() - t0) / 100) / 10;
    // CPU time of this process (user + system): on a loaded machine the wall time says little; this bounds it on an idle one.
    const cpu = process.cpuUsage();
    seconds.cpu = Math.round((cpu.user + cpu.system) / 1e5) / 10;
    writeFileSync(join(out, 'table.txt'), table + '\n');
    writeFileSync(join(out, 'table.json'), JSON.stringify(tableJson(results, {
      mode: values.fast || values.quick ? 'fast' : 'full', runtime: values.runtime, crowd: Number(CROWD),
      trainImages: mode.train, testImages: mode.test, size: mode.size, losses, seconds,
    }), null, 1) + '\n');
    const [defcn, fcos] = results;
    await drawSideBySide(join(out, 'detections.png'), test, [
      { title: 'DeFCN w/o NMS', dets: defcn!.drawn!.noNms },
      { title: 'FCOS w/ NMS', dets: fcos!.drawn!.nms },
      { title: 'FCOS w/o NMS', dets: fcos!.drawn!.noNms },
    ], { rows: 4, scale: mode.scale });
    process.stdout.write(`\n── Results on ${test.images.length} test scenes (crowd ${CROWD})\n\n${table}\n\n` +
      `Losses (mean of the first → last fifth of the steps): ${models.map((m) => `${m.key} ${losses[m.key]!.first.toFixed(3)} → ${losses[m.key]!.last.toFixed(3)}`).join(', ')}\n` +
      `Took ${seconds.total} s (${Object.entries(seconds).filter(([k]) => k !== 'total' && k !== 'cpu').map(([k, v]) => `${k} ${v} s`).join(', ')}; ${seconds.cpu} s of CPU time).\n` +
      `Wrote ${join(out, 'table.txt')}, ${join(out, 'table.json')}, ${join(out, 'detections.png')}; loss curves ${join(out, 'defcn', 'loss.png')}, ${join(out, 'fcos', 'loss.png')}.\n`);
    return 0;
  },
};

export default demo;
