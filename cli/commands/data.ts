// `fusedet data check FILE` and `fusedet data scenes ...`.
import { parseArgs } from 'node:util';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { checkDataset, formatSummary, isOdgtPath, type DatasetSummary } from '../../data/check.js';
import { BadRecordLog, DataRecordError } from '../../data/odgt.js';
import { statUserFile } from '../../io/files.js';

const usage = `usage: fusedet data check FILE [--dets DETS] [--images DIR] [--skip-bad] [--json]
       fusedet data scenes [--out DIR] [--images N] [--size S] [--crowd 0..1] [--seed K] [--force]

check   reads a COCO annotations file (.json) or a CrowdHuman file (.odgt) as
        training and evaluation will, and prints what it holds: images, boxes
        per class, image and box sizes, crowd and ignore counts.
  --dets DETS   also read a detections file (COCO results JSON, or odgt
                dtboxes for an .odgt FILE) and check every detection names an
                image of FILE (detections of categories absent from FILE are
                counted and ignored, as pycocotools does)
  --images DIR  also read the header of every image FILE lists, from DIR
                ('' or '.': beside FILE or its images/ folder), and report
                missing, unreadable and wrongly sized ones
  --skip-bad    skip bad records and say how many, instead of stopping at the first
  --json        machine-readable summary

scenes  composes cluttered scenes from real images (Fashion-MNIST items) and
        writes DIR/images/*.png, DIR/annotations.json (COCO) and
        DIR/annotations.odgt (CrowdHuman).
  --out DIR       output folder (default: scenes)
  --images N      number of images (default: 200)
  --size S        image side in pixels (default: 128)
  --crowd C       0..1, how many objects and how much they overlap (default: 0.3)
  --seed K        random seed (default: 0)
  --force         replace the scenes in an existing folder
`;

const RECORD_HINT = '\n(fix the record, or pass --skip-bad to skip bad records)';

interface DetsSummary { file: string; detections: number; skipped: number; skippedExamples: string[]; ignored: string }

/** Detections against the dataset: every one must name a known image. */
async function checkDets(gt: string, dets: string, skipBad: boolean): Promise<DetsSummary> {
  if (isOdgtPath(gt)) {
    const { evaluateCrowdHumanFiles } = await import('../../eval/crowdhuman.js');
    const bad = new BadRecordLog();
    const m = await evaluateCrowdHumanFiles(gt, dets, { skipBad, bad });
    return { file: dets, detections: m.detections, skipped: bad.count, skippedExamples: bad.examples, ignored: '' };
  }
  const { readCocoFile } = await import('../../data/coco.js');
  const { readDetectionsFile, resolveDetections, unknownCategoryNote } = await import('../../data/detections.js');
  const ds = await readCocoFile(gt, { skipBad });
  const d = await readDetectionsFile(dets, { skipBad, what: '--dets' });
  const r = resolveDetections(d, ds, { skipBad });
  return { file: dets, detections: r.rows.length, skipped: d.skipped + r.skipped, skippedExamples: [...d.skippedExamples, ...r.skippedExamples], ignored: unknownCategoryNote(r) };
}

function formatDets(s: DetsSummary): string {
  const lines = [`${s.file}: ${s.detections} detections, every one for an image of the dataset`];
  if (s.ignored) lines.push(`  ${s.ignored}`);
  if (s.skipped) lines.push(`  skipped ${s.skipped} bad record${s.skipped === 1 ? '' : 's'} (--skip-bad):`, ...s.skippedExamples.map((m) => `    ${m}`));
  return lines.join('\n') + '\n';
}

async function runCheck(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dets: { type: 'string' },
      images: { type: 'string' },
      'skip-bad': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new UserError(`fusedet data check: give exactly one dataset file (got ${positionals.length})\n${usage}`, 2);
  const file = positionals[0]!;
  const skipBad = values['skip-bad'];
  // Both files are checked before either is read: a missing --dets is said before a long read of FILE.
  statUserFile(file, { what: 'data check' });
  if (values.dets !== undefined) statUserFile(values.dets, { what: '--dets' });
  let summary: DatasetSummary;
  let dets: DetsSummary | undefined;
  try {
    summary = await checkDataset(file, { skipBad, what: 'data check', ...(values.images !== undefined ? { images: values.images === '.' ? '' : values.images } : {}) });
    if (values.dets) dets = await checkDets(file, values.dets, skipBad);
  } catch (e) {
    if (e instanceof DataRecordError && e.line > 0 && !skipBad) throw new UserError(e.message + RECORD_HINT);
    throw e;
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(dets ? { ...summary, dets } : summary, null, 2) + '\n');
  } else {
    process.stdout.write(formatSummary(summary));
    if (dets) process.stdout.write(formatDets(dets));
  }
  // Images that cannot be read would stop training: a failed check.
  return summary.imageFiles && summary.imageFiles.unreadable > 0 ? 1 : 0;
}

function intFlag(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UserError(`fusedet data scenes: --${name} must be an integer ≥ ${min}, got '${v}'`, 2);
  }
  return n;
}

async function runScenes(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', default: 'scenes' },
      images: { type: 'string', default: '200' },
      size: { type: 'string', default: '128' },
      crowd: { type: 'string', default: '0.3' },
      seed: { type: 'string', default: '0' },
      force: { type: 'boolean', default: false },
    },
  });
  if (positionals.length) throw new UserError(`fusedet data scenes: unexpected argument '${positionals[0]}' (use --out DIR)`, 2);
  const crowd = Number(values.crowd);
  if (values.crowd.trim() === '' || !(crowd >= 0 && crowd <= 1)) throw new UserError(`fusedet data scenes: --crowd must be a number in 0..1, got '${values.crowd}'`, 2);
  const opts = {
    out: values.out,
    images: intFlag('images', values.images, 1),
    size: intFlag('size', values.size, 1),
    crowd,
    seed: intFlag('seed', values.seed, 0),
    force: values.force,
  };
  let generateScenes;
  try {
    ({ generateScenes } = await import('../../data/scenes.js'));
  } catch (e) {
    throw new UserError(`fusedet data scenes: the scene generator (data/scenes.js) is not available in this build: ${(e as Error).message}`);
  }
  let bar: { start(total: number, value: number): void; update(value: number): void; stop(): void } | null = null;
  if (process.stderr.isTTY) {
    const { default: progress } = await import('cli-progress');
    bar = new progress.SingleBar({ stream: process.stderr, format: 'scenes [{bar}] {value}/{total} images | {eta}s left' }, progress.Presets.shades_classic);
    bar.start(opts.images, 0);
  }
  try {
    const r = await generateScenes({ ...opts, onProgress: (done) => bar?.update(done) });
    bar?.stop();
    process.stdout.write(`wrote ${r.images} images with ${r.boxes} boxes to ${r.out}\n`);
  } finally {
    bar?.stop();
  }
  return 0;
}

const data: Command = {
  name: 'data',
  summary: 'check a dataset (COCO .json or CrowdHuman .odgt), or generate detection scenes',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'check') return runCheck(rest);
    if (sub === 'scenes') return runScenes(rest);
    throw new UserError(`fusedet data: ${sub ? `unknown subcommand '${sub}'` : 'missing subcommand'}: use 'check' or 'scenes'\n${usage}`, 2);
  },
};

export default data;
