// `fusedet eval --gt GT --dets DETS [--protocol coco|crowdhuman] [--json] [--skip-bad]`
// `fusedet eval --weights W --data ANNOTATIONS [--nms on|off|both] [--protocol coco|crowdhuman|both]`
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { statUserFile } from '../../io/files.js';
import { extname } from 'node:path';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { evaluateCocoFiles, formatCocoTable } from '../../eval/coco.js';

const usage = `usage: fusedet eval --gt GT --dets DETS [--protocol coco|crowdhuman] [--json] [--skip-bad]
       fusedet eval --weights W --data ANNOTATIONS [--nms on|off|both] [--protocol coco|crowdhuman|both] [--out DIR]

Scores a detection file against ground truth; or, with --weights, runs a
trained detector over a dataset, writes its detections (COCO results JSON
and .odgt) and scores them.

  coco        GT is a COCO instances .json, DETS a COCO results .json
              ([{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]);
              prints the 12 numbers of pycocotools' COCOeval.summarize()
              (bbox, default parameters), equal to pycocotools within 1e-4.
  crowdhuman  GT is a CrowdHuman .odgt; prints AP50, mMR and recall.

options:
  --gt FILE         ground truth (required)
  --dets FILE       detections (required)
  --protocol NAME   coco or crowdhuman (default: from GT's extension,
                    .odgt -> crowdhuman, otherwise coco)
  --json            print the metrics as JSON
  --skip-bad        skip bad records (missing fields, negative sizes, unknown
                    images; with --weights, unreadable images) and report how
                    many on stderr. Detections of a category the ground truth
                    does not have are not bad records: they are ignored, as
                    pycocotools does (\`fusedet data check GT --dets DETS\`
                    counts them)

with --weights:
  --weights FILE    trained weights (.safetensors checkpoint)
  --data PATH       COCO .json, CrowdHuman .odgt, or a folder holding one
                    (annotations.json / annotations.odgt); images beside it or
                    in its images/ folder
  --nms on|off|both class-aware NMS (default: the config's); both prints the
                    two columns and their difference
  --nms-per-level   NMS within each pyramid level only (the paper's Table 2)
  --nms-range K     with --nms-per-level: only within a K×K window of locations (odd K; 0 unlimited)
  --protocol P      coco, crowdhuman or both (default: both where the data
                    allows; crowd metrics are class-agnostic on multi-class data)
  --out DIR         where detections-{nms,no-nms}.{json,odgt} and eval.json go
                    (default: eval-out)
  --config C        config name or path (default: the one the weights record)
  --runtime R       cpu, webgpu, cuda, auto or reference (default: auto)
`;

const evalCommand: Command = {
  name: 'eval',
  summary: 'score detections against ground truth (COCO metrics as pycocotools, or CrowdHuman)',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        gt: { type: 'string' }, dets: { type: 'string' }, protocol: { type: 'string' },
        json: { type: 'boolean', default: false }, 'skip-bad': { type: 'boolean', default: false },
        weights: { type: 'string' }, data: { type: 'string' }, nms: { type: 'string' }, out: { type: 'string' },
        config: { type: 'string' }, runtime: { type: 'string' }, 'nms-per-level': { type: 'boolean', default: false }, 'nms-range': { type: 'string' },
      },
    });
    if (values.weights !== undefined || values.data !== undefined) return evalWeights(values);
    if (!values.gt) throw new UserError(`fusedet eval: --gt FILE is required\n${usage}`, 2);
    if (!values.dets) throw new UserError(`fusedet eval: --dets FILE is required\n${usage}`, 2);
    for (const [flag, path] of [['--gt', values.gt], ['--dets', values.dets]] as const) {
      statUserFile(path, { what: `fusedet eval: ${flag}` });
    }
    const protocol = values.protocol ?? (extname(values.gt).toLowerCase() === '.odgt' ? 'crowdhuman' : 'coco');
    if (protocol !== 'coco' && protocol !== 'crowdhuman') throw new UserError(`fusedet eval: --protocol must be coco or crowdhuman, not '${protocol}'`, 2);
    const skipBad = values['skip-bad'];

    if (protocol === 'crowdhuman') {
      // Loaded only here: the COCO path does not pay for the CrowdHuman modules.
      const ch = await import('../../eval/crowdhuman.js');
      const m = await ch.evaluateCrowdHumanFiles(values.gt, values.dets, { skipBad });
      if (m.skipped > 0) process.stderr.write(`fusedet eval: skipped ${m.skipped} bad record(s)\n`);
      process.stdout.write(values.json ? JSON.stringify(m, null, 2) + '\n' : ch.formatCrowdHumanTable(m));
      return 0;
    }

    const report = await evaluateCocoFiles(values.gt, values.dets, { skipBad });
    if (report.skippedGt + report.skippedDets > 0) {
      process.stderr.write(`fusedet eval: skipped ${report.skippedGt} bad record(s) in ${values.gt} and ${report.skippedDets} in ${values.dets}\n`);
      for (const ex of report.examples) process.stderr.write(`  e.g. ${ex}\n`);
    }
    if (values.json) {
      const { stats: _stats, ...rest } = report.metrics;
      process.stdout.write(JSON.stringify({ protocol: 'coco', ...rest, skipped: { gt: report.skippedGt, dets: report.skippedDets } }, null, 2) + '\n');
    } else {
      process.stdout.write(formatCocoTable(report.metrics));
    }
    return 0;
  },
};

interface WeightsArgs {
  weights?: string; data?: string; nms?: string; out?: string; config?: string; runtime?: string; protocol?: string;
  json: boolean; 'skip-bad': boolean; gt?: string; dets?: string; 'nms-per-level': boolean; 'nms-range'?: string;
}

/** The --weights form: detector over the dataset, files written, the table (and eval.json beside it). */
async function evalWeights(v: WeightsArgs): Promise<number> {
  if (!v.weights) throw new UserError(`fusedet eval: --data needs --weights FILE (the detector to run)\n${usage}`, 2);
  if (!v.data) throw new UserError(`fusedet eval: --weights needs --data ANNOTATIONS (the dataset to run it on)\n${usage}`, 2);
  if (v.gt || v.dets) throw new UserError('fusedet eval: give either --weights/--data or --gt/--dets, not both', 2);
  const nmsRange = v['nms-range'] === undefined ? undefined : nmsRangeFlag(v['nms-range']);
  if (nmsRange !== undefined && !v['nms-per-level']) throw new UserError('fusedet eval: --nms-range needs --nms-per-level (the range is within one pyramid level)', 2);
  if (!existsSync(v.weights)) throw new UserError(`fusedet eval: --weights ${v.weights}: no such file`, 1);
  if (v.nms !== undefined && !['on', 'off', 'both'].includes(v.nms)) throw new UserError(`fusedet eval: --nms must be on, off or both, not '${v.nms}'`, 2);
  if (v.protocol !== undefined && !['coco', 'crowdhuman', 'both'].includes(v.protocol)) throw new UserError(`fusedet eval: --protocol must be coco, crowdhuman or both, not '${v.protocol}'`, 2);
  const { openEvalData, evaluateDetector, formatEvalTable, evalReportJson } = await import('../../models/evaluate.js');
  const data = await openEvalData(v.data);
  const protocol = (v.protocol ?? (data.coco ? 'both' : 'crowdhuman')) as 'coco' | 'crowdhuman' | 'both';
  const out = v.out ?? 'eval-out';
  const { default: progress } = await import('cli-progress');
  const bar = new progress.SingleBar({ stream: process.stderr, hideCursor: true, format: 'eval {pass} [{bar}] {value}/{total} images | ETA {eta_formatted}' }, progress.Presets.shades_classic);
  let started = '';
  const report = await evaluateDetector(data, {
    weights: v.weights, config: v.config, runtime: v.runtime ?? 'auto', out, protocol, skipBad: v['skip-bad'],
    nms: v.nms as 'on' | 'off' | 'both' | undefined, nmsPerLevel: v['nms-per-level'],
    ...(nmsRange !== undefined ? { nmsRange } : {}),
    onProgress: (done, total, pass) => {
      if (started !== pass) { if (started) bar.stop(); bar.start(total, 0, { pass }); started = pass; }
      bar.update(done, { pass });
    },
  }).finally(() => { if (started) bar.stop(); });
  if (report.skipped) {
    process.stderr.write(`fusedet eval: skipped ${report.skipped} unreadable image(s)\n`);
    for (const e of report.skippedExamples) process.stderr.write(`  e.g. ${e}\n`);
  }
  const json = evalReportJson(report);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${out}/eval.json`, JSON.stringify(json, null, 1) + '\n');
  process.stdout.write(v.json ? JSON.stringify(json, null, 2) + '\n' : formatEvalTable(report) + `detections and eval.json in ${out}/\n`);
  return 0;
}

export default evalCommand;

/** --nms-range K as a number; the detector checks it is odd or 0 and names the config. */
function nmsRangeFlag(text: string): number {
  const k = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(k)) throw new UserError(`fusedet eval: --nms-range '${text}' is not a whole number of locations (1, 3, 5, … or 0)`, 2);
  return k;
}
